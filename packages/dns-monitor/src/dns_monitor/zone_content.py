"""The zone's own content as its nameservers serve it: the SOA, the NS sets and the names in them.

A check of `dns_monitor.delegation.CHECKS`: it reads the SOA and NS answers every nameserver gave
`dns_delegation` (`survey.Survey`) and asks little more: the SOA once more of each answering
server (parsed record by record, to count SOA records), the apex MX of one answering server, the
MNAME's addresses and SOA when the MNAME is not a nameserver already asked, and the RNAME's mail
domain. A name inside the zone is asked of the zone's own servers; a name outside it (an MNAME
or a contact's domain elsewhere) of the operator's resolver, as Zonemaster asks its recursor: a
walk from the root for each would spend the root's and the parent's rate limit on a notice;
without a configured resolver (`MCP_MONITOR_RESOLVER`) they are walked from the root hints like
the delegation itself (the system's resolver may not see the tree those hints name). A question
nobody answers teaches nothing and blames nobody. Zonemaster's test cases it covers,
with Zonemaster's default thresholds and levels (a Zonemaster NOTICE is a finding of severity ok
here):

- `soa_missing` (critical, DELEGATION06): a nameserver answers the apex SOA question
  authoritatively with NOERROR but without an SOA (and without a CNAME: that is `cname_at_apex`).
- `soa_multiple` (critical, ZONE10): more than one SOA record in an answer.
- `soa_refresh_low` (ok, ZONE02): refresh below 14400 s (4 h).
- `soa_retry_low` (ok, ZONE04): retry below 3600 s (1 h).
- `soa_retry_not_below_refresh` (ok, ZONE03): retry >= refresh, so a failed refresh is retried no
  sooner than the next refresh.
- `soa_expire_low` (warning, ZONE05): expire below 604800 s (1 week), or below refresh.
- `soa_negative_ttl_out_of_range` (ok, ZONE06): the SOA minimum (the negative-caching TTL, RFC
  2308) outside 300 s to 86400 s.
- `soa_rname_mismatch`, `soa_timers_mismatch`, `soa_mname_mismatch` (ok, CONSISTENCY02, 03, 06):
  the nameservers serve SOAs with different RNAMEs, timers or MNAMEs.
- `ns_set_mismatch` (ok, CONSISTENCY04): the nameservers serve different NS sets at the apex;
  the finding lists each set with the servers that serve it.
- `mname_not_authoritative` (warning, ZONE01, ZONE07's MNAME_HAS_NO_ADDRESS): the MNAME does not
  resolve, is localhost, or does not answer the zone's SOA authoritatively. An MNAME that is not
  in the NS set (a hidden primary) is fine as long as it answers; an MNAME of "." (no primary)
  is not checked. An MNAME that serves an older serial is `soa_serial_mismatch`.
- `mname_is_cname` (ok, ZONE07): the MNAME is an alias.
- `ns_name_invalid` (SYNTAX04): a nameserver name (at the parent or in the zone) that is not a
  valid host name: characters other than letters, digits and '-', a label that starts or ends
  with '-', an all-numeric top-level label (critical); or only '--' in the third and fourth
  position of a label that is not an A-label "xn--", reserved by RFC 5891 (warning).
- `mname_invalid` (warning, SYNTAX07) and `mx_name_invalid` (warning, SYNTAX08): the same rules
  for the SOA MNAME and the apex MX targets, at Zonemaster's level (warning) for every rule.
- `rname_invalid` (warning, SYNTAX05, SYNTAX06): the SOA RNAME holds an '@' (the first dot stands
  for it) or does not read as a mail address (RFC 5322 local part, a domain of two labels or more).
- `rname_not_mailable` (ok, SYNTAX06): the RNAME's mail domain has neither MX nor A/AAAA (nor its
  MX targets an address): mail to the zone's contact cannot be delivered.
- `rname_mail_host_cname` (ok, SYNTAX06's RNAME_MAIL_ILLEGAL_CNAME): a mail server of the RNAME's
  domain (an MX target, or the domain itself past its own CNAMEs when it has no MX) is answered
  with a CNAME when its address is asked: an MX target must not be an alias (RFC 2181 10.3).
- `rname_mail_host_localhost` (ok, SYNTAX06's RNAME_MAIL_DOMAIN_LOCALHOST): a mail server of the
  RNAME's domain has the address 127.0.0.1 or ::1. Zonemaster calls the domain invalid
  (RNAME_MAIL_DOMAIN_INVALID, a NOTICE) for both, so both are notices; `rname_not_mailable` is
  kept for a domain whose mail servers have no address at all, so one fault gives one finding.

Each fault is one finding that lists the nameservers (or names, or values) concerned. The name
rules are written here because they are a few lines of regular expressions that must match
Zonemaster's (`Zonemaster::Engine::Test::Syntax`), not a general validator's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from monitor_common.results import Finding, Verdict

if TYPE_CHECKING:
    import dns.message

    from dns_monitor.survey import Survey

__all__ = ["host_name_faults", "judge", "rname_faults", "zone_content"]

REFRESH_MIN = 14400  # Zonemaster zone02.SOA_REFRESH_MINIMUM_VALUE
RETRY_MIN = 3600  # zone04.SOA_RETRY_MINIMUM_VALUE
EXPIRE_MIN = 604800  # zone05.SOA_EXPIRE_MINIMUM_VALUE
NEGATIVE_TTL_MIN, NEGATIVE_TTL_MAX = 300, 86400  # zone06.SOA_DEFAULT_TTL_MINIMUM/MAXIMUM_VALUE
MAIL_TARGETS = 2  # mail hosts of the RNAME's domain tried before it is called not mailable
_LOCALHOST = frozenset({"127.0.0.1", "::1"})

_LDH = re.compile(r"[A-Za-z0-9-]+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class _Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    @property
    def timers(self) -> tuple[int, int, int, int]:
        return (self.refresh, self.retry, self.expire, self.minimum)


@dataclass
class _Mail:
    """What the mail hosts of an RNAME's domain showed: why it takes no mail (None when it does or
    nothing was learnt), and its mail hosts that are aliases or localhost."""

    why: str | None = None
    aliases: list[str] = dataclasses.field(default_factory=list[str])
    localhost: list[str] = dataclasses.field(default_factory=list[str])


def _values(rrset: Any, attribute: str) -> list[str]:
    """The `attribute` (a name or an address) of each record of `rrset`, as lower-case text."""
    return [str(getattr(rdata, attribute)).lower() for rdata in rrset]


def _labels(name: str) -> list[str]:
    """The labels of `name` (presentation form, escapes undone), without the root label."""
    import dns.name

    return [label.decode("latin-1") for label in dns.name.from_text(name).labels if label]


def host_name_faults(name: str) -> tuple[list[str], list[str]]:
    """Why `name` is not a valid host name: (faults, discouraged forms).

    Faults: a label with characters other than letters, digits and '-', a label that starts or
    ends with '-', an all-numeric top-level label. Discouraged: '--' in the third and fourth
    position of a label that is not an A-label (RFC 5891 4.2.3.1).
    """
    labels = _labels(name)
    faults: list[str] = []
    discouraged: list[str] = []
    for label in labels:
        if not _LDH.fullmatch(label):
            faults.append(f"label '{label}' has characters other than letters, digits and '-'")
        elif label.startswith("-") or label.endswith("-"):
            faults.append(f"label '{label}' starts or ends with '-'")
        if len(label) >= 4 and label[2:4] == "--" and not label.lower().startswith("xn"):
            discouraged.append(f"label '{label}' has '--' in the third and fourth position")
    if labels and labels[-1].isdigit():
        faults.append(f"the top-level label '{labels[-1]}' is all digits")
    return faults, discouraged


def rname_faults(rname: str) -> list[str]:
    """Why the SOA RNAME `rname` is not a usable mail address (empty when it is one)."""
    labels = _labels(rname)
    if not labels:
        return ["it is the root name, not a mail address"]
    if any("@" in label for label in labels):
        return ["it contains '@' (the first dot stands for the '@': hostmaster.example.com.)"]
    faults: list[str] = []
    local, domain = labels[0], labels[1:]
    if not _LOCAL_PART.fullmatch(local):
        faults.append(f"'{local}' is not a valid local part of a mail address")
    if len(domain) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in domain):
        faults.append(f"'{'.'.join(domain) or '.'}' is not a mail domain")
    return faults


def _soa_records(response: dns.message.Message) -> list[Any]:
    import dns.rdatatype

    records: list[Any] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            records.extend(rrset)  # pyright: ignore[reportUnknownArgumentType]
    return records


def _has_apex_cname(response: dns.message.Message, zone: str) -> bool:
    import dns.name
    import dns.rdatatype

    apex = dns.name.from_text(zone)
    return any(rrset.rdtype == dns.rdatatype.CNAME and rrset.name == apex for rrset in response.answer)


def _shown(servers: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name} ({address})" for name, address in sorted(servers))


def _by_value(values: dict[tuple[str, str], Any]) -> dict[Any, list[tuple[str, str]]]:
    grouped: dict[Any, list[tuple[str, str]]] = {}
    for server, value in sorted(values.items()):
        grouped.setdefault(value, []).append(server)
    return grouped


def _seconds(value: int) -> str:
    return f"{value} s"


def _where(
    grouped: dict[Any, list[tuple[str, str]]], show: Callable[[Any], str] = str, *, everyone: bool = True
) -> str:
    """'600' when every server serves it (`everyone`), else '600 at ns1 (a); 900 at ns2 (b)'."""
    if len(grouped) == 1 and everyone:
        return show(next(iter(grouped)))
    return "; ".join(f"{show(value)} at {_shown(servers)}" for value, servers in grouped.items())


class _Content:
    """The findings of one zone: pure judgements first, then the few questions."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.zone = survey.zone
        self.findings: list[Finding] = []
        self.soas: dict[tuple[str, str], _Soa] = {}
        self._mx: dns.message.Message | None = None
        self._mx_asked = False
        self._mx_lock = anyio.Lock()

    def add(self, severity: Verdict, code: str, message: str, hint: str) -> None:
        self.findings.append(Finding(severity=severity, code=code, message=message, hint=hint))

    # The SOA answers ---------------------------------------------------------------------

    def read_soas(self) -> None:
        missing: list[tuple[str, str]] = []
        for name, by_address in sorted(self.survey.soa.items()):
            for address, response in sorted(by_address.items()):
                records = _soa_records(response)
                if not records:
                    if not _has_apex_cname(response, self.zone):
                        missing.append((name, address))
                    continue
                soa = records[0]
                self.soas[(name, address)] = _Soa(
                    str(soa.mname).lower(),
                    str(soa.rname).lower(),
                    int(soa.serial),
                    int(soa.refresh),
                    int(soa.retry),
                    int(soa.expire),
                    int(soa.minimum),
                )
        if missing:
            self.add(
                Verdict.CRITICAL,
                "soa_missing",
                f"authoritative answers for {self.zone} without its SOA record (NOERROR, empty "
                f"answer) from {_shown(missing)}",
                "every nameserver must serve the zone's SOA at its apex: reload the zone on these "
                "servers and check that their copy of it is complete",
            )

    def judge_timers(self) -> None:
        if not self.soas:
            return
        # Which servers say so matters only when they do not all serve the same timers.
        uniform = len({soa.timers for soa in self.soas.values()}) == 1
        refresh = _by_value({s: soa.refresh for s, soa in self.soas.items()})
        retry = _by_value({s: soa.retry for s, soa in self.soas.items()})
        minimum = _by_value({s: soa.minimum for s, soa in self.soas.items()})

        def low(grouped: dict[Any, list[tuple[str, str]]], bound: int) -> dict[Any, list[tuple[str, str]]]:
            return {value: servers for value, servers in grouped.items() if value < bound}

        if found := low(refresh, REFRESH_MIN):
            self.add(
                Verdict.OK,
                "soa_refresh_low",
                f"the SOA refresh of {self.zone} is {_where(found, _seconds, everyone=uniform)}, below {REFRESH_MIN} s (4 h)",
                f"set refresh to {REFRESH_MIN} s or more; NOTIFY tells secondaries of changes sooner",
            )
        if found := low(retry, RETRY_MIN):
            self.add(
                Verdict.OK,
                "soa_retry_low",
                f"the SOA retry of {self.zone} is {_where(found, _seconds, everyone=uniform)}, below {RETRY_MIN} s (1 h)",
                f"set retry to {RETRY_MIN} s or more",
            )
        order = _by_value(
            {s: (soa.retry, soa.refresh) for s, soa in self.soas.items() if soa.retry >= soa.refresh}
        )
        if order:
            self.add(
                Verdict.OK,
                "soa_retry_not_below_refresh",
                f"the SOA retry of {self.zone} is not below its refresh: "
                + _where(order, lambda v: f"retry {v[0]} s, refresh {v[1]} s", everyone=uniform),
                "set retry to a fraction of refresh, so a failed refresh is retried before the next one",
            )
        expiring = _by_value(
            {
                s: (soa.expire, soa.refresh)
                for s, soa in self.soas.items()
                if soa.expire < EXPIRE_MIN or soa.expire < soa.refresh
            }
        )
        if expiring:

            def why(value: tuple[int, int]) -> str:
                parts = [f"expire {value[0]} s"]
                if value[0] < EXPIRE_MIN:
                    parts.append(f"below {EXPIRE_MIN} s (1 week)")
                if value[0] < value[1]:
                    parts.append(f"below refresh {value[1]} s")
                return ", ".join(parts)

            self.add(
                Verdict.WARNING,
                "soa_expire_low",
                f"the secondaries of {self.zone} drop the zone soon after losing the primary: "
                + _where(expiring, why, everyone=uniform),
                f"set expire to {EXPIRE_MIN} s (1 week) or more, and above refresh",
            )
        found = {
            value: servers
            for value, servers in minimum.items()
            if not NEGATIVE_TTL_MIN <= value <= NEGATIVE_TTL_MAX
        }
        if found:
            self.add(
                Verdict.OK,
                "soa_negative_ttl_out_of_range",
                f"the SOA minimum (negative-caching TTL) of {self.zone} is {_where(found, _seconds, everyone=uniform)}, outside "
                f"{NEGATIVE_TTL_MIN}-{NEGATIVE_TTL_MAX} s",
                f"set the SOA minimum between {NEGATIVE_TTL_MIN} s and {NEGATIVE_TTL_MAX} s (RFC 2308 "
                "suggests 1 to 3 hours): too low floods the servers with repeated questions for "
                "missing names, too high keeps a new name invisible for long",
            )

    def judge_consistency(self) -> None:
        for code, field, what in (
            ("soa_rname_mismatch", "rname", "RNAMEs (contact addresses)"),
            ("soa_mname_mismatch", "mname", "MNAMEs (primary servers)"),
        ):
            grouped = _by_value({s: getattr(soa, field) for s, soa in self.soas.items()})
            if len(grouped) > 1:
                self.add(
                    Verdict.OK,
                    code,
                    f"the nameservers of {self.zone} serve SOAs with different {what}: {_where(grouped)}",
                    "the nameservers serve different copies of the zone: make them all transfer it "
                    "from one primary",
                )
        timers = _by_value({s: soa.timers for s, soa in self.soas.items()})
        if len(timers) > 1:
            self.add(
                Verdict.OK,
                "soa_timers_mismatch",
                f"the nameservers of {self.zone} serve SOAs with different timers (refresh, retry, "
                f"expire, minimum): {_where(timers, lambda v: '/'.join(map(str, v)))}",
                "the nameservers serve different copies of the zone: make them all transfer it from one primary",
            )

    def judge_ns_sets(self) -> None:
        import dns.name
        import dns.rdatatype

        apex = dns.name.from_text(self.zone)
        sets: dict[tuple[str, str], tuple[str, ...]] = {}
        for name, by_address in self.survey.ns.items():
            for address, response in by_address.items():
                found = sorted(
                    str(rdata.target).lower()  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
                    for rrset in response.answer
                    if rrset.rdtype == dns.rdatatype.NS and rrset.name == apex
                    for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
                )
                if found:
                    sets[(name, address)] = tuple(found)
        grouped = _by_value(sets)
        if len(grouped) > 1:
            self.add(
                Verdict.OK,
                "ns_set_mismatch",
                f"the nameservers of {self.zone} serve {len(grouped)} different NS sets: "
                + _where(grouped, lambda v: "{" + ", ".join(v) + "}"),
                "the nameservers serve different copies of the zone: make them all transfer it "
                "from one primary, then make the NS set at the parent the same",
            )

    def judge_names(self) -> None:
        names = sorted(set(self.survey.step.ns) | set(self.survey.child_ns))
        invalid: list[str] = []
        reserved: list[str] = []
        for name in names:
            faults, discouraged = host_name_faults(name)
            if faults:
                invalid.append(f"{name} ({'; '.join(faults + discouraged)})")
            elif discouraged:
                reserved.append(f"{name} ({'; '.join(discouraged)})")
        if invalid or reserved:
            self.add(
                Verdict.CRITICAL if invalid else Verdict.WARNING,
                "ns_name_invalid",
                f"nameserver names of {self.zone} that are not valid host names: {', '.join(invalid + reserved)}",
                "name nameservers with letters, digits and inner hyphens only (RFC 1123 2.1), e.g. ns1.example.com",
            )
        mnames = sorted({soa.mname for soa in self.soas.values()})
        bad = [f"{m} ({'; '.join(f + d)})" for m in mnames for f, d in [host_name_faults(m)] if f or d]
        if bad:
            self.add(
                Verdict.WARNING,
                "mname_invalid",
                f"the SOA MNAME of {self.zone} is not a valid host name: {', '.join(bad)}",
                "put the primary nameserver's host name in the SOA MNAME field",
            )
        rnames = sorted({soa.rname for soa in self.soas.values()})
        wrong = [f"{r} ({'; '.join(faults)})" for r in rnames for faults in [rname_faults(r)] if faults]
        if wrong:
            self.add(
                Verdict.WARNING,
                "rname_invalid",
                f"the SOA RNAME of {self.zone} is not a usable mail address: {', '.join(wrong)}",
                "write the contact address with its '@' as a dot, and any dot before the '@' as '\\.': "
                "hostmaster.example.com. for hostmaster@example.com",
            )

    # The questions -----------------------------------------------------------------------

    def answering(self) -> list[str]:
        return list(dict.fromkeys(address for _, address in self.survey.answering()))

    def inside(self, name: str) -> bool:
        return name == self.zone or name.endswith("." + self.zone)

    async def apex_mx(self) -> dns.message.Message | None:
        """The apex MX answer of one answering nameserver, asked once."""
        async with self._mx_lock:
            if not self._mx_asked:
                self._mx_asked = True
                _, done = await self.survey.walker.ask_first(self.answering(), self.zone, "MX")
                self._mx = done.response if done is not None else None
        return self._mx

    async def lookup(self, name: str, rdtype: str) -> dns.message.Message | None:
        """An answer about `name`: from the zone's own servers when it lies in the zone (one
        question, authoritative), else from the operator's configured resolver (recursive and
        cached, as Zonemaster's recursor: a walk from the root for each name spends the root's
        and the parent's rate limit on a notice), else walked from the root hints. None when
        nothing answered: nothing learnt."""
        import dns.flags

        from dns_monitor.query import exchange, make_query, system_server

        walker = self.survey.walker
        if self.inside(name):
            _, done = await walker.ask_first(self.answering(), name, rdtype)
            if done is not None and done.response is not None and done.response.flags & dns.flags.AA:
                return done.response
        if walker.ctx.resolver_address is None:
            # No resolver configured: walked from the root hints, as the delegation itself.
            return (await walker.iterate(name, rdtype)).response
        resolver = system_server(walker.ctx.resolver_address)
        done = await exchange(
            make_query(name, rdtype), resolver, walker.ctx, timeout=min(walker.try_timeout, walker.left())
        )
        return done.response

    async def check_soa_count(self) -> None:
        """Ask each answering server once more for the SOA, parsed record by record: a parser
        keeps one record of a singleton type, so the survey's answers cannot show two SOAs."""
        from dns_monitor.query import exchange, make_query

        walker = self.survey.walker
        multiple: list[str] = []

        async def ask(name: str, address: str) -> None:
            done = await exchange(
                make_query(self.zone, "SOA", recursion=False, dnssec=False),
                walker.spec(address),
                walker.ctx,
                timeout=min(walker.try_timeout, walker.left()),
                reach=walker.reach,
                one_rr_per_rrset=True,
            )
            count = len(_soa_records(done.response)) if done.response is not None else 0
            if count > 1:
                multiple.append(f"{name} ({address}): {count}")

        async with anyio.create_task_group() as group:
            for name, address in sorted(self.soas):
                group.start_soon(ask, name, address)
        if multiple:
            self.add(
                Verdict.CRITICAL,
                "soa_multiple",
                f"more than one SOA record for {self.zone} in one answer (server: records): "
                + ", ".join(sorted(multiple)),
                "a zone has exactly one SOA record (RFC 1035 5.2): remove the extra ones on these servers",
            )

    async def check_mx_names(self) -> None:
        import dns.rdatatype

        response = await self.apex_mx()
        if response is None:
            return
        targets = sorted(
            {
                str(rdata.exchange).lower()  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
                for rrset in response.answer
                if rrset.rdtype == dns.rdatatype.MX
                for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
            }
            - {"."}
        )
        bad = [f"{t} ({'; '.join(f + d)})" for t in targets for f, d in [host_name_faults(t)] if f or d]
        if bad:
            self.add(
                Verdict.WARNING,
                "mx_name_invalid",
                f"MX targets of {self.zone} that are not valid host names: {', '.join(bad)}",
                "name mail servers with letters, digits and inner hyphens only (RFC 1123 2.1)",
            )

    async def mail_hosts(self, domain: str) -> _Mail:
        """Whether `domain` takes mail (an MX target, or the domain itself without MX, has an
        address), as Zonemaster's SYNTAX06 asks: a mail host whose address question is answered
        with a CNAME (an MX target must not be an alias, RFC 2181 10.3) or whose address is
        127.0.0.1 or ::1 is no valid mail host, and is named apart."""
        import dns.rcode
        import dns.rdatatype

        mail = _Mail()
        response = await self.apex_mx() if domain == self.zone else await self.lookup(domain, "MX")
        if response is None or response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return mail  # no usable answer: nothing learnt, nothing blamed
        if response.rcode() == dns.rcode.NXDOMAIN:
            mail.why = f"{domain} does not exist"
            return mail
        exchanges = [
            str(rdata.exchange).lower()  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.MX
            for rdata in sorted(rrset, key=lambda r: r.preference)  # pyright: ignore[reportUnknownVariableType,reportUnknownLambdaType,reportUnknownArgumentType,reportUnknownMemberType,reportAttributeAccessIssue]
        ]
        if exchanges == ["."]:
            mail.why = f"{domain} refuses all mail (null MX)"
            return mail
        if not exchanges:  # the domain itself is its mail host; past its own CNAMEs, as Zonemaster
            aliases = {
                r.name.to_text().lower(): _values(r, "target")[0]
                for r in response.answer
                if r.rdtype == dns.rdatatype.CNAME and len(r)
            }
            seen: set[str] = set()
            while domain in aliases and domain not in seen:
                seen.add(domain)
                domain = aliases[domain]
        hosts = [e for e in exchanges if e != "."] or [domain]
        glued: dict[str, set[str]] = {}
        for rrset in response.additional:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                glued.setdefault(rrset.name.to_text().lower(), set()).update(_values(rrset, "address"))
        valid = False
        for host in hosts[:MAIL_TARGETS]:
            valid = await self.mail_host(host, glued.get(host, set()), mail) or valid
        if not valid and not mail.aliases and not mail.localhost:
            if exchanges:
                mail.why = f"the mail servers of {domain} ({', '.join(hosts[:MAIL_TARGETS])}) have no address"
            else:
                mail.why = f"{domain} has no MX record and no address"
        return mail

    async def mail_host(self, host: str, glue: set[str], mail: _Mail) -> bool:
        """Whether the mail host `host` has an address other than localhost (`glue`: the
        addresses the MX answer carried for it); an alias or a localhost address goes to `mail`."""
        import dns.rdatatype

        for rdtype in ("A", "AAAA"):
            if glue:
                addresses = glue
            else:
                answer = await self.lookup(host, rdtype)
                if answer is None:
                    continue
                target = next(
                    (
                        _values(r, "target")[0]
                        for r in answer.answer
                        if r.rdtype == dns.rdatatype.CNAME and len(r)
                    ),
                    None,
                )
                if target is not None:
                    mail.aliases.append(f"{host} -> {target}")
                    return False
                addresses = {
                    address
                    for rrset in answer.answer
                    if rrset.rdtype == dns.rdatatype.from_text(rdtype)
                    and rrset.name.to_text().lower() == host
                    for address in _values(rrset, "address")
                }
            local = sorted(addresses & _LOCALHOST)
            if local:
                mail.localhost.append(f"{host} ({', '.join(local)})")
                return False
            if addresses:
                return True
            if glue:
                return False
        return False

    async def check_rname_domain(self) -> None:
        reasons: list[str] = []
        aliases: list[str] = []
        localhost: list[str] = []
        for rname in sorted({soa.rname for soa in self.soas.values()}):
            if rname_faults(rname):
                continue  # rname_invalid already says it is no address
            domain = ".".join(_labels(rname)[1:]).lower() + "."  # LDH labels: rname_faults said so
            mail = await self.mail_hosts(domain)
            if mail.why is not None:
                reasons.append(f"{rname} ({mail.why})")
            aliases += [f"{rname}: {a}" for a in mail.aliases]
            localhost += [f"{rname}: {h}" for h in mail.localhost]
        if reasons:
            self.add(
                Verdict.OK,
                "rname_not_mailable",
                f"the SOA contact of {self.zone} cannot receive mail: {', '.join(reasons)}",
                "use a contact address whose domain has a working MX (or an address) in the SOA RNAME",
            )
        if aliases:
            self.add(
                Verdict.OK,
                "rname_mail_host_cname",
                f"the mail server of the SOA contact of {self.zone} is an alias (CNAME): {', '.join(aliases)}",
                "point the MX of the contact's domain at the canonical host name, not at an alias (RFC 2181 10.3)",
            )
        if localhost:
            self.add(
                Verdict.OK,
                "rname_mail_host_localhost",
                f"the mail server of the SOA contact of {self.zone} has a localhost address: {', '.join(localhost)}",
                "give the contact domain's mail server its public address, not 127.0.0.1 or ::1",
            )

    async def check_mname(self) -> None:
        walker = self.survey.walker
        problems: list[str] = []
        aliases: list[str] = []
        localhost = {"127.0.0.1", "::1"}

        async def one(mname: str) -> None:
            import dns.flags
            import dns.name
            import dns.rcode
            import dns.rdatatype

            if mname == ".":
                return  # "no primary": Zonemaster's notice only
            if mname in ("localhost.",) or mname.startswith("localhost."):
                problems.append(f"{mname} is localhost")
                return
            answer = await self.lookup(mname, "A")
            owner = dns.name.from_text(mname)
            records = answer.answer if answer is not None else []
            target = next(
                (
                    str(rrset[0].target).lower()  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
                    for rrset in records
                    if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == owner and len(rrset)
                ),
                None,
            )
            if target is not None:
                aliases.append(f"{mname} -> {target}")
            server = self.survey.servers.get(mname)
            if server is not None and server.addresses:
                for address in server.addresses:
                    if (mname, address) in self.soas:
                        continue
                    if address in localhost:
                        problems.append(f"{mname} ({address}) is a localhost address")
                    elif address in self.survey.soa.get(mname, {}):
                        problems.append(f"{mname} ({address}) has no SOA for {self.zone}")
                    elif not server.udp_ok:
                        problems.append(f"{mname} ({address}) does not answer")
                    else:
                        problems.append(
                            f"{mname} ({address}) does not answer authoritatively for {self.zone}"
                        )
                return
            if answer is None or answer.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return  # nothing learnt about its address
            aaaa = await self.lookup(mname, "AAAA")
            found = [
                str(rdata)  # pyright: ignore[reportUnknownArgumentType]
                for response in (answer, aaaa)
                if response is not None
                for rrset in response.answer
                if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
            ]
            if not found and target is not None:  # an alias out of the zone: its target's addresses
                for rdtype in ("A", "AAAA"):
                    response = await self.lookup(target, rdtype)
                    found += [
                        str(rdata)  # pyright: ignore[reportUnknownArgumentType]
                        for rrset in (response.answer if response is not None else [])
                        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                        for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
                    ]
            if not found:
                doubled = self.zone != "." and mname.endswith("." + self.zone + self.zone.rstrip(".") + ".")
                problems.append(
                    f"{mname} has no address"
                    + (" (a name without its final dot in the zone file?)" if doubled else "")
                )
                return
            addresses = walker.permitted(found, mname)
            answers: dict[str, str | None] = {}

            async def ask(address: str) -> None:
                if address in localhost:
                    answers[address] = "is a localhost address"
                    return
                response = (await walker.ask(address, self.zone, "SOA")).response
                if response is None:
                    answers[address] = "does not answer"
                elif response.rcode() != dns.rcode.NOERROR:
                    answers[address] = f"answers {dns.rcode.to_text(response.rcode())}"
                elif not _soa_records(response):
                    answers[address] = f"has no SOA for {self.zone}"
                elif not response.flags & dns.flags.AA:
                    answers[address] = f"does not answer authoritatively for {self.zone}"
                else:
                    answers[address] = None

            async with anyio.create_task_group() as group:
                for address in addresses:
                    group.start_soon(ask, address)
            problems.extend(f"{mname} ({a}) {why}" for a, why in sorted(answers.items()) if why)

        async with anyio.create_task_group() as group:
            for mname in sorted({soa.mname for soa in self.soas.values()}):
                group.start_soon(one, mname)
        if problems:
            self.add(
                Verdict.WARNING,
                "mname_not_authoritative",
                f"the SOA MNAME of {self.zone} is not a working primary nameserver of the zone: "
                + "; ".join(sorted(problems)),
                "put the primary nameserver's name in the SOA MNAME field, with an address, serving the zone",
            )
        if aliases:
            self.add(
                Verdict.OK,
                "mname_is_cname",
                f"the SOA MNAME of {self.zone} is an alias (CNAME): {', '.join(sorted(aliases))}",
                "put the primary nameserver's own name (the target of the CNAME) in the SOA MNAME field",
            )


def _judged(survey: Survey) -> _Content:
    content = _Content(survey)
    content.read_soas()
    content.judge_timers()
    content.judge_consistency()
    content.judge_ns_sets()
    content.judge_names()
    return content


def judge(survey: Survey) -> list[Finding]:
    """The findings that need no question beyond the survey's answers: SOA presence, timers and
    consistency, NS sets, and the nameserver, MNAME and RNAME names."""
    return _judged(survey).findings


async def zone_content(survey: Survey) -> list[Finding]:
    """SOA presence, count, timers and consistency, NS set consistency, and the syntax of the
    nameserver, MNAME, RNAME and MX names of `survey.zone` (see the module docstring)."""
    content = _judged(survey)
    if content.soas:
        async with anyio.create_task_group() as group:
            group.start_soon(content.check_soa_count)
            group.start_soon(content.check_mname)
            group.start_soon(content.check_mx_names)
            group.start_soon(content.check_rname_domain)
    return content.findings
