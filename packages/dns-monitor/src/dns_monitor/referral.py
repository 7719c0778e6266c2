"""The delegation's nameserver names and addresses, and the referral the parent gives for them.

One check of `dns_monitor.delegation.CHECKS`, run on the `survey.Survey` of `dns_delegation`. It
covers Zonemaster's DELEGATION02, 03 and 05, ADDRESS01-03 and the prefix half of CONNECTIVITY03/04:

- `ns_address_shared` (warning, Zonemaster DELEGATION02 `*_NS_SAME_IP`, ERROR): two or more NS
  names (at the parent or in the zone) with the same address. They are one server counted twice:
  the zone has fewer independent nameservers than its NS set says. A warning, as
  `single_nameserver` is for the same reason: less redundancy than listed is a risk (one outage
  takes more of the zone down), not a fault that breaks resolution today.
- `referral_too_large` (warning, DELEGATION03 `REFERRAL_SIZE_TOO_LARGE`): the referral the parent
  would give does not fit in 512 bytes, the UDP limit of a resolver without EDNS. Computed as
  Zonemaster's Delegation.pm does, so both tools give the same size: a query name of the greatest
  possible length (255 octets) ending in the zone, the parent's NS names in the authority
  section, and one glue address per family when every nameserver of that family is inside the
  parent zone; names compressed.
- `ns_is_cname` (critical, DELEGATION05 `NS_IS_CNAME`, ERROR): an NS name that resolves through
  an alias: its A question is answered with a CNAME of that name, its own or one synthesized from
  the DNAME of an ancestor (the finding names the DNAME), as Zonemaster counts any CNAME in that
  answer. Asked of the zone's own servers without recursion when the name is inside the zone
  (and resolved from the referral's zone on when it lies in a zone delegated below), else
  resolved from the root hints. RFC 2181 10.3: an NS record must name a host's own name, not an
  alias.
- `nameserver_address_special` (critical, ADDRESS01 `NAMESERVER_IP_PRIVATE_NETWORK`, ERROR): a
  nameserver address in a special-purpose range (loopback, RFC 1918, link-local, CGNAT,
  documentation, reserved...; `monitor_common.netpolicy.classify`, the same table the network
  policy uses), which resolvers on the Internet cannot reach. Not reported for an address inside
  a network the operator lists in the policy's allowed networks (or a nameserver name on its
  allowed hosts): naming a network there says it is the operator's own, so an internal zone
  served from it is by design (a private DNS tree, a lab). A blanket `allow_private`, or no
  permission at all (the address was not asked: `nameserver_not_asked`), still reports it.
- `ptr_missing` (notice, ADDRESS02 `NAMESERVER_IP_WITHOUT_REVERSE`; Zonemaster's level is WARNING,
  issue 14 asks for a notice: a missing PTR breaks no resolution) and `ns_ptr_mismatch` (notice,
  ADDRESS03 `NAMESERVER_IP_PTR_MISMATCH`, NOTICE): the reverse name of each nameserver address,
  resolved from the root hints, has no PTR, or no PTR naming that nameserver. The PTR of a
  special-purpose address is judged only when the tree walked delegates a reverse zone below
  in-addr.arpa/ip6.arpa for it: such addresses have no reverse in the public DNS (RFC 6303
  locally served zones), so a missing PTR there says nothing the ADDRESS01 rule has not said.
- `nameservers_share_prefix` (notice, CONNECTIVITY04 `CN04_IPV4_SAME_PREFIX`, NOTICE): some
  nameservers share a /24 (IPv4) or /48 (IPv6) while others do not; all in one prefix is
  `dns_delegation`'s own `nameservers_same_network` (warning). Zonemaster takes the announced BGP
  prefix from a Cymru or RIPE DNS service; this check uses the fixed prefix lengths of
  `nameservers_same_network` instead, and does not look up AS numbers (CONNECTIVITY03): those
  services are on the Internet, where neither the tests nor a sealed deployment can ask them.

`with_www_detail` (Zonemaster BASIC03 `HAS_A_RECORDS`): when no nameserver answered the zone's SOA
authoritatively, `dns_delegation` asks each nameserver address that answered anything for
www.<zone> A, once, and adds what answers to its `lame_delegation` / `ns_unreachable` finding (the
servers give out names of the zone without serving the zone: a wildcard, a forwarder, a stale
configuration). No finding of its own: the zone is already broken, this says how.

Each fault is one finding listing the names or addresses. Every question goes through the walker
(network policy, rate limit, the call's deadline); questions to the zone's servers go only to the
addresses that answered (`Survey.answering`), and the lookups run concurrently.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import anyio
from monitor_common.netpolicy import classify
from monitor_common.results import Finding, Verdict

if TYPE_CHECKING:
    import dns.message
    from monitor_common.netpolicy import NetworkPolicy

    from dns_monitor.survey import Survey

__all__ = ["check", "referral_size", "special_addresses", "with_www_detail"]

_NO_ZONE_CODES = ("lame_delegation", "ns_unreachable")

UDP_LIMIT = 512  # what a resolver without EDNS accepts over UDP (RFC 1035 4.2.1)
_FQDN_MAX = 254  # text length of the longest name, trailing dot included (Zonemaster's constant)
_LABEL_MAX = 63
_REVERSE_ROOTS = ("in-addr.arpa.", "ip6.arpa.")


def _longest_name(zone: str) -> str:
    """The longest possible query name below `zone`, built as Zonemaster's
    `_max_length_name_for` builds it (labels of up to 63 characters prepended)."""
    name = "" if zone == "." else zone
    while len(name) < _FQDN_MAX - 1:
        length = min(_FQDN_MAX - len(name) - 1, _LABEL_MAX)
        name = "x" * length + "." + name
    return name


def referral_size(zone: str, ns_names: list[str], addresses: dict[str, list[str]], parent: str) -> int:
    """Bytes of the referral for `zone` as Zonemaster's DELEGATION03 builds it: the longest query
    name, every NS name, and the first address of each family as glue when every nameserver
    with an address of that family is inside `parent` (`addresses`: NS name -> its glue, or its
    resolved addresses when the parent gives none)."""
    import dns.message
    import dns.name
    import dns.rrset

    message = dns.message.make_query(_longest_name(zone), "NS", use_edns=False)
    message.authority.append(dns.rrset.from_text_list(zone, 3600, "IN", "NS", sorted(set(ns_names))))
    parent_name = dns.name.from_text(parent)
    for version, rdtype in ((4, "A"), (6, "AAAA")):
        family = sorted(
            (name, address)
            for name, found in addresses.items()
            for address in found
            if ipaddress.ip_address(address).version == version
        )
        if family and all(dns.name.from_text(name).is_subdomain(parent_name) for name, _ in family):
            name, address = family[0]
            message.additional.append(dns.rrset.from_text(name, 3600, "IN", rdtype, address))
    return len(message.to_wire(max_size=65535))


def _reverse_name(address: str) -> str:
    import dns.reversename

    return dns.reversename.from_address(address).to_text()


async def check(survey: Survey) -> list[Finding]:
    """The findings of every rule in the module docstring, in a stable order."""
    walker = survey.walker
    names = sorted(survey.servers)
    addresses: dict[str, list[str]] = {}

    async def address_of(name: str) -> None:
        server = survey.servers[name]
        addresses[name] = list(server.glue) or list(await walker.addresses_of(name, 0))

    async with anyio.create_task_group() as group:
        for name in names:
            group.start_soon(address_of, name)

    cnames: list[Finding] = []
    reverse: list[Finding] = []

    async def run_cnames() -> None:
        cnames.extend(await _ns_cnames(survey))

    async def run_reverse() -> None:
        reverse.extend(await _reverse(survey, addresses))

    async with anyio.create_task_group() as group:
        group.start_soon(run_cnames)
        group.start_soon(run_reverse)
    findings = [*_shared_addresses(addresses), *_referral(survey, addresses), *cnames]
    findings += [*special_addresses(survey.walker.ctx.policy, addresses), *reverse, *_prefixes(addresses)]
    return findings


def _shared_addresses(addresses: dict[str, list[str]]) -> list[Finding]:
    by_address: dict[str, list[str]] = {}
    for name, found in addresses.items():
        for address in dict.fromkeys(ipaddress.ip_address(a).compressed for a in found):
            by_address.setdefault(address, []).append(name)
    shared = {address: sorted(names) for address, names in by_address.items() if len(names) > 1}
    if not shared:
        return []
    shown = "; ".join(f"{address} ({', '.join(names)})" for address, names in sorted(shared.items()))
    return [
        Finding(
            severity=Verdict.WARNING,
            code="ns_address_shared",
            message=f"nameserver names that share an address, so one server counted more than once: {shown}",
            hint="give each nameserver name its own server and address, or drop the extra names from "
            "the NS set: the zone has fewer independent nameservers than it lists (RFC 2182)",
        )
    ]


def _referral(survey: Survey, addresses: dict[str, list[str]]) -> list[Finding]:
    step = survey.step
    if step.parent is None or not step.ns:
        return []
    parent_addresses = {name: addresses.get(name, []) for name in step.ns}
    size = referral_size(survey.zone, step.ns, parent_addresses, step.parent)
    if size <= UDP_LIMIT:
        return []
    glued = sum(1 for name in step.ns if step.glue.get(name))
    return [
        Finding(
            severity=Verdict.WARNING,
            code="referral_too_large",
            message=f"the referral for {survey.zone} from {step.parent} takes {size} bytes over UDP "
            f"without EDNS, above the {UDP_LIMIT}-byte limit ({len(step.ns)} NS names, {glued} with "
            "glue; the longest possible query name, one glue address per family, as Zonemaster "
            "DELEGATION03 counts)",
            hint="use fewer or shorter nameserver names: resolvers without EDNS get a truncated "
            "referral and must retry over TCP",
        )
    ]


async def _ns_cnames(survey: Survey) -> list[Finding]:
    """NS names that are CNAMEs: name -> "target (where seen)"."""
    import dns.name
    import dns.rdatatype

    walker = survey.walker
    zone = dns.name.from_text(survey.zone)
    answering = sorted({address for _, address in survey.answering()})
    found: dict[str, str] = {}

    def cname_in(response: dns.message.Message | None, name: str) -> str | None:
        """The alias `name` resolves through in `response`: its own CNAME, or the DNAME of an
        ancestor (whose synthesized CNAME a server adds with the same owner, RFC 6672 3)."""
        if response is None:
            return None
        owner = dns.name.from_text(name)
        dname = next(
            (
                f"{rrset.name} DNAME {rrset[0].target}"  # pyright: ignore[reportAttributeAccessIssue,reportUnknownMemberType]
                for rrset in response.answer
                if rrset.rdtype == dns.rdatatype.DNAME and owner.is_subdomain(rrset.name) and len(rrset)
            ),
            None,
        )
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == owner and len(rrset):
                target = str(rrset[0].target)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
                return f"{target}, through {dname}" if dname else target
        return None

    def referral_for(response: dns.message.Message, name: str) -> bool:
        """Whether `response` refers `name` to a zone below the surveyed one (a delegation inside it)."""
        owner = dns.name.from_text(name)
        return not response.answer and any(
            rrset.rdtype == dns.rdatatype.NS and rrset.name != zone and owner.is_subdomain(rrset.name)
            for rrset in response.authority
        )

    async def inside(name: str, first: int) -> None:
        # One answering server per name (rotated, so each server gets its share): the CNAME is
        # zone content, the same on every server that serves the zone; a server that gives no
        # answer hands the question to the next one. A name in a zone delegated below this one
        # is a referral: resolved from there (Zonemaster asks the server again with recursion).
        for address in answering[first:] + answering[:first]:
            response = (await walker.ask(address, name, "A")).response
            if response is None:
                continue
            if referral_for(response, name):
                await outside(name)
                return
            target = cname_in(response, name)
            if target is not None:
                found[name] = f"{target} (at {address})"
            return

    async def outside(name: str) -> None:
        walk = await walker.iterate(name, "A")
        target = cname_in(walk.response, name)
        if target is not None:
            found[name] = f"{target} (from {walk.answered_by})"

    async with anyio.create_task_group() as group:
        for index, name in enumerate(sorted(set(survey.step.ns) | set(survey.child_ns))):
            if dns.name.from_text(name).is_subdomain(zone):
                if answering:
                    group.start_soon(inside, name, index % len(answering))
            else:
                group.start_soon(outside, name)
    if not found:
        return []
    shown = ", ".join(f"{name} -> {target}" for name, target in sorted(found.items()))
    return [
        Finding(
            severity=Verdict.CRITICAL,
            code="ns_is_cname",
            message=f"NS names that are CNAMEs (an alias, not a host name): {shown}",
            hint="list the nameservers' own host names (the CNAME targets) in the NS records at the "
            "parent and in the zone; an NS record must not point at an alias (RFC 2181 10.3)",
        )
    ]


def special_addresses(policy: NetworkPolicy, addresses: dict[str, list[str]]) -> list[Finding]:
    """ADDRESS01: nameserver addresses in special-purpose ranges, but for the networks (and
    nameserver names) the operator's `policy` allows by name. `addresses`: NS name -> addresses."""
    flagged: list[str] = []
    for name, found in sorted(addresses.items()):
        for address in found:
            ip = ipaddress.ip_address(address)
            category = classify(ip)
            if category is None:
                continue
            if any(ip in net for net in policy.allow_networks) or policy.host_allowed(name.rstrip(".")):
                continue  # the operator named this network (or host) as its own
            flagged.append(f"{name} ({ip.compressed}, {category})")
    if not flagged:
        return []
    return [
        Finding(
            severity=Verdict.CRITICAL,
            code="nameserver_address_special",
            message="nameserver addresses that resolvers on the Internet cannot reach (special-purpose "
            f"ranges: private, loopback, reserved, documentation...): {', '.join(flagged)}",
            hint="give these nameservers public addresses at the parent (glue) and in the zone; for an "
            "internal zone served on purpose, list its network in MCP_MONITOR_ALLOW_NETWORKS",
        )
    ]


async def _reverse(survey: Survey, addresses: dict[str, list[str]]) -> list[Finding]:
    """ADDRESS02 (no PTR) and ADDRESS03 (no PTR naming the nameserver), one finding each."""
    import dns.flags
    import dns.name
    import dns.rcode
    import dns.rdatatype

    walker = survey.walker
    names_of: dict[str, list[str]] = {}
    for name, found in addresses.items():
        for address in found:
            names_of.setdefault(ipaddress.ip_address(address).compressed, []).append(name)
    ptrs: dict[str, list[str] | None] = {}  # address -> PTR names, None: not judged

    def record(address: str, response: dns.message.Message | None, zone_text: str) -> None:
        if response is None or response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return  # no answer: nothing learnt about the reverse
        zone = dns.name.from_text(zone_text)
        delegated = any(
            zone.is_subdomain(dns.name.from_text(root)) and zone != dns.name.from_text(root)
            for root in _REVERSE_ROOTS
        )
        if classify(ipaddress.ip_address(address)) is not None and not delegated:
            return  # no reverse tree for a special-purpose address: see the module docstring
        ptrs[address] = sorted(
            str(rdata).lower()  # pyright: ignore[reportUnknownArgumentType]
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.PTR
            for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
        )

    async def lookup(group: list[str]) -> None:
        # One walk from the root per prefix; the prefix's other addresses are asked of the
        # servers of the reverse zone that walk ended in, so the root is asked once per prefix.
        walk = await walker.iterate(_reverse_name(group[0]), "PTR")
        last = walk.steps[-1]
        # A walk that stopped on a problem (no answer, a lame or non-authoritative server) learnt
        # nothing about the PTR.
        record(group[0], walk.response if walk.problem is None else None, last.zone)
        if walk.response is None:
            return  # the prefix's reverse servers did not answer: asking again would only wait again

        async def sibling(address: str) -> None:
            name = _reverse_name(address)
            if dns.name.from_text(name).is_subdomain(dns.name.from_text(last.zone)):
                _, done = await walker.ask_first(last.servers, name, "PTR")
                response = None if done is None else done.response
                if response is not None and response.flags & dns.flags.AA:
                    record(address, response, last.zone)
                    return
            again = await walker.iterate(name, "PTR")
            record(address, again.response if again.problem is None else None, again.steps[-1].zone)

        async with anyio.create_task_group() as siblings:
            for address in group[1:]:
                siblings.start_soon(sibling, address)

    groups: dict[str, list[str]] = {}
    for address in sorted(names_of):
        groups.setdefault(_prefix(address), []).append(address)
    async with anyio.create_task_group() as tasks:
        for group in groups.values():
            tasks.start_soon(lookup, group)
    missing = [
        f"{address} ({', '.join(sorted(names_of[address]))})"
        for address, names in sorted(ptrs.items())
        if names is not None and not names
    ]
    mismatched = [
        f"{name} ({address} -> {', '.join(names)})"
        for address, names in sorted(ptrs.items())
        if names
        for name in sorted(names_of[address])
        if name not in names
    ]
    findings: list[Finding] = []
    if missing:
        findings.append(
            Finding(
                severity=Verdict.OK,
                code="ptr_missing",
                message=f"nameserver addresses without reverse DNS (no PTR): {', '.join(missing)}",
                hint="ask the owner of each address block to publish a PTR naming the nameserver",
            )
        )
    if mismatched:
        findings.append(
            Finding(
                severity=Verdict.OK,
                code="ns_ptr_mismatch",
                message=f"nameservers whose address has a PTR naming another host: {', '.join(mismatched)}",
                hint="make the PTR of each nameserver address name the nameserver (its NS name)",
            )
        )
    return findings


def _prefix(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) of an address, the prefix `nameservers_same_network` uses."""
    ip = ipaddress.ip_address(address)
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def _prefixes(addresses: dict[str, list[str]]) -> list[Finding]:
    """Some (not all) nameservers sharing a /24 or /48: a notice (all in one is a warning of
    `dns_delegation` itself)."""
    by_prefix: dict[str, set[str]] = {}
    for name, found in addresses.items():
        for address in found:
            by_prefix.setdefault(_prefix(address), set()).add(name)
    if len(by_prefix) < 2:
        return []
    shared = {prefix: sorted(names) for prefix, names in by_prefix.items() if len(names) > 1}
    if not shared:
        return []
    shown = "; ".join(f"{prefix}: {', '.join(names)}" for prefix, names in sorted(shared.items()))
    return [
        Finding(
            severity=Verdict.OK,
            code="nameservers_share_prefix",
            message=f"nameservers that share a network prefix (one outage there takes them all): {shown}",
            hint="spread the nameservers over different networks (RFC 2182 3.1)",
        )
    ]


async def with_www_detail(survey: Survey, findings: list[Finding]) -> list[Finding]:
    """`findings`, with the `lame_delegation` or `ns_unreachable` finding told which servers still
    answer www.<zone> A, when no nameserver answered the zone's SOA authoritatively (BASIC03)."""
    import dns.name
    import dns.rdatatype

    if survey.answering() or not any(f.code in _NO_ZONE_CODES for f in findings):
        return findings
    www = f"www.{survey.zone}"
    owner = dns.name.from_text(www)
    # Only addresses that answered something (UDP): a silent one would cost a timeout for nothing.
    asked = sorted(
        {a for s in survey.servers.values() if s.udp_ok for a in s.addresses if a not in survey.walker.silent}
    )
    answers: dict[str, list[str]] = {}

    async def ask(address: str) -> None:
        response = (await survey.walker.ask(address, www, "A")).response
        if response is None:
            return
        found = [
            str(rdata)  # pyright: ignore[reportUnknownArgumentType]
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.A and rrset.name == owner
            for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
        ]
        if found:
            answers[address] = sorted(found)

    async with anyio.create_task_group() as group:
        for address in asked:
            group.start_soon(ask, address)
    if not answers:
        return findings
    shown = "; ".join(f"{address}: {', '.join(found)}" for address, found in sorted(answers.items()))
    detail = (
        f" (yet {www} A is answered ({shown}): these servers give out names of the zone without "
        "serving it, e.g. from a wildcard, a forwarder or an old configuration)"
    )
    first = next(i for i, f in enumerate(findings) if f.code in _NO_ZONE_CODES)
    updated = list(findings)
    updated[first] = findings[first].model_copy(update={"message": findings[first].message + detail})
    return updated
