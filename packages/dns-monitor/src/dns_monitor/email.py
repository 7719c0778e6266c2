"""`email_auth_check`: what a receiving mail server checks about a sending domain, in one pass.

MX (present, resolvable, not an alias, null MX), SPF (see `spf`), DMARC, DKIM keys for the
selectors given, MTA-STS (the TXT record and the policy fetched over HTTPS from
`mta-sts.<domain>`, through the policy-guarded client), TLS-RPT and BIMI. Every problem is a
finding whose hint says what to publish.

Findings besides SPF's: `domain_nxdomain`, `mx_missing`, `mx_null` (ok), `mx_unresolvable`,
`mx_is_cname`, `dmarc_missing`, `dmarc_multiple`, `dmarc_invalid`, `dmarc_policy_none`,
`dmarc_pct_partial`, `dmarc_no_reports`, `dkim_missing`, `dkim_revoked`, `dkim_invalid`,
`dkim_weak_key`, `dkim_not_checked` (ok), `mta_sts_missing` (ok), `mta_sts_invalid`,
`mta_sts_policy_unreachable`, `mta_sts_mx_not_covered`, `mta_sts_testing` (ok),
`tls_rpt_missing` (ok), `bimi_missing` (ok), `bimi_needs_enforced_dmarc`; `mx_lookup_failed`,
`dmarc_lookup_failed`, `dkim_lookup_failed`, `mta_sts_lookup_failed`, `tls_rpt_lookup_failed`,
`bimi_lookup_failed` when a lookup gets no usable answer (timeout, SERVFAIL, REFUSED);
`monitor_network_unavailable` alone (unknown) instead when every lookup failed on this machine's
side and none was answered (no route out, or the operator's resolver unreachable): nothing was
learnt about the domain, and a watch is not moved by such a run.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
from monitor_common.errors import InputError, LimitError
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor.models import DkimInfo, DmarcInfo, EmailAuthResult, MtaStsInfo, MxHost, MxInfo
from dns_monitor.query import Reach, ServerSpec, Values, ask_values, parse_server, system_server
from dns_monitor.spf import check_spf

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["email_auth_check", "mx_pattern_matches", "parse_tags"]

MAX_SELECTORS = 20


def parse_tags(record: str) -> dict[str, str]:
    """`k=v; k=v` tag lists (DMARC, DKIM, MTA-STS, TLS-RPT, BIMI), keys lower-cased."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip()
    return tags


def mx_pattern_matches(pattern: str, host: str) -> bool:
    """RFC 8461 3.2: a pattern matches the host, a leading `*.` exactly one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


class _Check:
    def __init__(
        self, domain: str, spec: ServerSpec, timeout: float, ctx: CheckContext, *, operator: bool
    ) -> None:
        self.domain = domain
        self.spec = spec
        self.deadline = time.monotonic() + timeout
        # Its resolver looks up host names: a DoH server's, and mta-sts.<domain> unless asked of `spec`.
        self.ctx = ctx
        self.findings: list[Finding] = []
        # `spec` is the operator's resolver unless the caller named a server: then its being
        # unreachable is the monitor's outage too.
        self.reach = Reach(operator=spec if operator else None)

    @property
    def timeout(self) -> float:
        """What is left of the check's time: every lookup and the fetch end by the deadline."""
        return max(self.deadline - time.monotonic(), 0.001)

    async def ask(self, name: str, rdtype: str) -> Values:
        return await ask_values(self.spec, name, rdtype, self.ctx, timeout=self.timeout, reach=self.reach)

    def add(self, severity: Verdict, code: str, message: str, hint: str | None = None) -> None:
        self.findings.append(Finding(severity=severity, code=code, message=message, hint=hint))

    def failed(self, answer: Values, what: str, name: str) -> bool:
        """Add `<what>_lookup_failed` when the lookup of `name` got no usable answer: a record
        that could not be read is not a missing record."""
        if answer.rcode is not None:
            return False
        self.add(
            Verdict.UNKNOWN, f"{what}_lookup_failed", f"the TXT lookup for {name} failed: {answer.error}"
        )
        return True

    async def mx(self) -> MxInfo:
        info = MxInfo()
        answer = await self.ask(self.domain, "MX")
        if answer.rcode == "NXDOMAIN":
            self.add(
                Verdict.CRITICAL,
                "domain_nxdomain",
                f"{self.domain} does not exist",
                "register or fix the domain",
            )
            return info
        if answer.rcode is None:
            self.add(
                Verdict.UNKNOWN, "mx_lookup_failed", f"the MX lookup for {self.domain} failed: {answer.error}"
            )
            return info
        if not answer.values:
            self.add(
                Verdict.WARNING,
                "mx_missing",
                f"{self.domain} has no MX record: senders fall back to its A/AAAA address",
                f'publish MX records, or "{self.domain}. MX 0 ." (null MX) if it receives no mail',
            )
            return info
        for value in answer.values:
            preference, _, host = value.partition(" ")
            info.hosts.append(MxHost(preference=int(preference), host=host.lower()))
        info.hosts.sort(key=lambda h: (h.preference, h.host))
        if len(info.hosts) == 1 and info.hosts[0].host == ".":
            info.null_mx = True
            self.add(Verdict.OK, "mx_null", f"{self.domain} publishes a null MX: it accepts no mail")
            return info

        async def resolve(host: MxHost) -> None:
            for rdtype in ("A", "AAAA"):
                found = await self.ask(host.host, rdtype)
                host.addresses += found.values
                host.is_cname = host.is_cname or found.cname is not None

        async with anyio.create_task_group() as group:
            for host in info.hosts:
                group.start_soon(resolve, host)
        for host in info.hosts:
            if host.is_cname:
                self.add(
                    Verdict.WARNING,
                    "mx_is_cname",
                    f"the MX host {host.host} is an alias (CNAME), which RFC 2181 forbids",
                    "point the MX at the canonical name of the mail server",
                )
            if not host.addresses:
                self.add(
                    Verdict.CRITICAL,
                    "mx_unresolvable",
                    f"the MX host {host.host} has no A or AAAA record: mail to it cannot be delivered",
                    f"publish an address for {host.host} or remove the MX",
                )
        return info

    async def dmarc(self) -> DmarcInfo:
        info = DmarcInfo()
        answer = await self.ask(f"_dmarc.{self.domain}", "TXT")
        if self.failed(answer, "dmarc", f"_dmarc.{self.domain}"):
            return info
        records = [v for v in answer.values if v.lower().replace(" ", "").startswith("v=dmarc1")]
        if not records:
            self.add(
                Verdict.WARNING,
                "dmarc_missing",
                f"{self.domain} publishes no DMARC record",
                f'publish "_dmarc.{self.domain}. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{self.domain}""',
            )
            return info
        if len(records) > 1:
            self.add(
                Verdict.CRITICAL,
                "dmarc_multiple",
                f"_dmarc.{self.domain} has {len(records)} DMARC records, so receivers ignore them all",
                "keep exactly one",
            )
        info.record = records[0]
        tags = parse_tags(records[0])
        info.p, info.sp = tags.get("p", "").lower() or None, tags.get("sp", "").lower() or None
        info.rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
        info.ruf = [u.strip() for u in tags.get("ruf", "").split(",") if u.strip()]
        info.adkim, info.aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
        if info.p not in ("none", "quarantine", "reject"):
            self.add(
                Verdict.CRITICAL,
                "dmarc_invalid",
                f"the DMARC record of {self.domain} has no valid p= tag ({info.p!r})",
                "set p=none, p=quarantine or p=reject",
            )
        elif info.p == "none":
            self.add(
                Verdict.WARNING,
                "dmarc_policy_none",
                f"the DMARC policy of {self.domain} is p=none: spoofed mail is only reported, not stopped",
                "move to p=quarantine, then p=reject, once the reports show your own mail passes",
            )
        try:
            info.pct = int(tags["pct"]) if "pct" in tags else None
        except ValueError:
            self.add(Verdict.CRITICAL, "dmarc_invalid", f"pct={tags['pct']!r} is not a number", "use pct=100")
        if info.pct is not None and info.pct < 100:
            self.add(
                Verdict.WARNING,
                "dmarc_pct_partial",
                f"the DMARC policy of {self.domain} applies to {info.pct}% of failing mail only",
                "raise pct to 100 (or remove it)",
            )
        if not info.rua:
            self.add(
                Verdict.WARNING,
                "dmarc_no_reports",
                f"the DMARC record of {self.domain} asks for no aggregate reports (rua)",
                f"add rua=mailto:dmarc@{self.domain} to see who sends as your domain",
            )
        return info

    async def dkim(self, selector: str) -> DkimInfo:
        info = DkimInfo(selector=selector, present=False)
        name = f"{selector}._domainkey.{self.domain}"
        answer = await self.ask(name, "TXT")
        if self.failed(answer, "dkim", name):
            return info
        records = [v for v in answer.values if "p=" in v.replace(" ", "")]
        if not records:
            self.add(
                Verdict.WARNING,
                "dkim_missing",
                f"no DKIM key at {name}",
                "publish the public key your mail provider gives for this selector",
            )
            return info
        info.present = True
        tags = parse_tags(records[0])
        info.key_type = tags.get("k", "rsa").lower()
        key = "".join(tags.get("p", "").split())
        if not key:
            info.revoked = True
            self.add(Verdict.WARNING, "dkim_revoked", f"the DKIM key at {name} is revoked (empty p=)")
            return info
        try:
            der = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            self.add(
                Verdict.CRITICAL,
                "dkim_invalid",
                f"the DKIM key at {name} is not valid base64",
                "republish the key",
            )
            return info
        if info.key_type == "ed25519":
            info.bits = 256 if len(der) == 32 else None
            return info
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        try:
            public = load_der_public_key(der)
        except ValueError:
            self.add(
                Verdict.CRITICAL,
                "dkim_invalid",
                f"the DKIM key at {name} does not parse",
                "republish the key",
            )
            return info
        if isinstance(public, rsa.RSAPublicKey):
            info.bits = public.key_size
            if public.key_size < 1024:
                self.add(
                    Verdict.CRITICAL,
                    "dkim_weak_key",
                    f"the DKIM key at {name} has {public.key_size} bits; receivers ignore keys under 1024",
                    "rotate to a 2048-bit RSA key",
                )
            elif public.key_size < 2048:
                self.add(
                    Verdict.WARNING,
                    "dkim_weak_key",
                    f"the DKIM key at {name} has {public.key_size} bits",
                    "rotate to a 2048-bit RSA key",
                )
        return info

    async def mta_sts(self, mx: MxInfo, *, verify: ssl.SSLContext | bool, https_port: int) -> MtaStsInfo:
        info = MtaStsInfo()
        answer = await self.ask(f"_mta-sts.{self.domain}", "TXT")
        if self.failed(answer, "mta_sts", f"_mta-sts.{self.domain}"):
            return info
        records = [v for v in answer.values if v.replace(" ", "").lower().startswith("v=stsv1")]
        if not records:
            self.add(
                Verdict.OK,
                "mta_sts_missing",
                f"{self.domain} publishes no MTA-STS policy: senders may deliver without TLS",
                "publish _mta-sts TXT and a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt",
            )
            return info
        info.record = records[0]
        if "id" not in parse_tags(records[0]):
            self.add(
                Verdict.WARNING,
                "mta_sts_invalid",
                "the _mta-sts record has no id=",
                "add id=<a new value per change>",
            )
        host = f"mta-sts.{self.domain}"
        port = "" if https_port == 443 else f":{https_port}"
        info.policy_url = f"https://{host}{port}/.well-known/mta-sts.txt"
        body = await self._fetch(info, verify=verify)
        if body is None:
            return info
        fields: dict[str, list[str]] = {}
        for line in body.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields.setdefault(key.strip().lower(), []).append(value.strip())
        info.mode = (fields.get("mode") or [None])[0]
        info.mx_patterns = fields.get("mx", [])
        try:
            info.max_age = int((fields.get("max_age") or ["x"])[0])
        except ValueError:
            info.max_age = None
        if (fields.get("version") or [None])[0] != "STSv1" or info.mode not in ("enforce", "testing", "none"):
            self.add(
                Verdict.WARNING,
                "mta_sts_invalid",
                f"the MTA-STS policy at {info.policy_url} lacks version: STSv1 or a valid mode",
                "write version: STSv1, mode: enforce|testing|none, mx: lines and max_age:",
            )
            return info
        if info.mode == "testing":
            self.add(
                Verdict.OK,
                "mta_sts_testing",
                "the MTA-STS policy is in testing mode: failures are only reported",
            )
        uncovered = [
            h.host for h in mx.hosts if not any(mx_pattern_matches(p, h.host) for p in info.mx_patterns)
        ]
        if uncovered and info.mode != "none":
            self.add(
                Verdict.CRITICAL if info.mode == "enforce" else Verdict.WARNING,
                "mta_sts_mx_not_covered",
                f"the MTA-STS policy's mx patterns ({', '.join(info.mx_patterns) or 'none'}) do not cover "
                f"{', '.join(uncovered)}",
                "add an mx: line for every MX host, or senders enforcing the policy will not deliver",
            )
        return info

    async def _fetch(self, info: MtaStsInfo, *, verify: ssl.SSLContext | bool) -> str | None:
        import httpx2
        from monitor_common.errors import PolicyError
        from monitor_common.fetch import MTA_STS_CAP, fetch
        from monitor_common.netpolicy import ResolutionError, dns_resolver
        from monitor_common.ratelimit import RATE_LIMITED, RateLimited

        assert info.policy_url is not None
        # mta-sts.<domain> is looked up on the server that answers the check's DNS questions, so
        # one server answers for the whole check; `dns_resolver` speaks plain DNS only, so behind
        # DoT or DoH the context's resolver looks it up.
        ctx = self.ctx
        if self.spec.kind == "dns":
            ctx = ctx.replace(resolver=dns_resolver(self.spec.address, self.spec.port, timeout=self.timeout))
        try:
            fetched = await fetch(
                ctx, info.policy_url, cap=MTA_STS_CAP, timeout_s=self.timeout, verify=verify
            )
        except RateLimited as exc:
            info.error = str(exc)
            self.add(Verdict.UNKNOWN, RATE_LIMITED, f"the MTA-STS policy was not fetched: {exc}", exc.hint)
            return None
        except (httpx2.HTTPError, ResolutionError, PolicyError) as exc:
            info.error = str(exc)
            self.add(
                Verdict.WARNING,
                "mta_sts_policy_unreachable",
                f"could not fetch the MTA-STS policy from {info.policy_url}: {exc}",
                "serve the policy over HTTPS with a valid certificate for mta-sts.<domain>",
            )
            return None
        if fetched.status_code != 200:
            info.error = f"HTTP {fetched.status_code}"
            self.add(
                Verdict.WARNING,
                "mta_sts_policy_unreachable",
                f"{info.policy_url} answered HTTP {fetched.status_code}",
                "serve the policy file at that URL with status 200",
            )
            return None
        if fetched.truncated:
            # Senders give up on such a policy too (RFC 8461 3.3): as good as none.
            info.error = fetched.over_cap
            self.add(
                Verdict.WARNING,
                "mta_sts_policy_unreachable",
                f"the MTA-STS policy was not read: {fetched.over_cap}",
                "an MTA-STS policy is a few lines: serve only the policy at that URL",
            )
            return None
        return fetched.text

    async def simple(self, name: str, prefix: str, code: str, what: str) -> str | None:
        answer = await self.ask(name, "TXT")
        if self.failed(answer, code.removesuffix("_missing"), name):
            return None
        records = [v for v in answer.values if v.replace(" ", "").lower().startswith(prefix)]
        if not records:
            self.add(Verdict.OK, code, f"{self.domain} publishes no {what} record ({name})")
            return None
        return records[0]


async def email_auth_check(
    domain: str,
    ctx: CheckContext,
    *,
    dkim_selectors: Sequence[str] | None = None,
    server: str | None = None,
    timeout_s: float = 10.0,
    verify: ssl.SSLContext | bool = True,
    https_port: int = 443,
) -> EmailAuthResult:
    """MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT and BIMI of `domain`, asked of one resolver.

    `server` (checked against the context's policy) or the operator's resolver
    (`ctx.resolver_address`, else the system's) answers the DNS questions; the MTA-STS policy
    is fetched through the policy-guarded HTTP client. `verify` and `https_port` are for tests
    (a local CA and port). The context's resolver looks up host names (a DoH server's, and the
    MTA-STS host when the DNS questions go over DoT or DoH); None: the system's resolver.
    """
    started = Stopwatch()
    name = parse_hostname(domain)
    selectors = [s.strip().strip(".") for s in dkim_selectors or []]
    if len(selectors) > MAX_SELECTORS:
        raise LimitError(f"at most {MAX_SELECTORS} DKIM selectors per call, got {len(selectors)}")
    for selector in selectors:
        if not selector or " " in selector:
            raise InputError(f"DKIM selector {selector!r} is not a DNS label, e.g. 'selector1' or 's2024'")
        try:
            parse_hostname(f"{selector}._domainkey.{name}")
        except InputError as exc:
            raise InputError(
                f"DKIM selector {selector!r} does not make a valid DNS name ({exc}): use the s= value "
                "of a DKIM-Signature header, e.g. 'selector1'"
            ) from None
    spec = system_server(ctx.resolver_address) if server is None else parse_server(server, ctx)
    check = _Check(name, spec, timeout_s, ctx, operator=server is None)
    mx = await check.mx()
    txt = await check.ask(name, "TXT")
    spf, spf_findings = await check_spf(name, txt, check.ask)
    check.findings.extend(spf_findings)
    dmarc = await check.dmarc()
    dkim = [await check.dkim(s) for s in selectors]
    if not selectors:
        check.add(
            Verdict.OK,
            "dkim_not_checked",
            "no DKIM selectors given, so no key was checked",
            "pass dkim_selectors (e.g. the s= value of a DKIM-Signature header)",
        )
    mta_sts = await check.mta_sts(mx, verify=verify, https_port=https_port)
    tls_rpt = await check.simple(f"_smtp._tls.{name}", "v=tlsrptv1", "tls_rpt_missing", "TLS-RPT")
    bimi = await check.simple(f"default._bimi.{name}", "v=bimi1", "bimi_missing", "BIMI")
    if check.reach.offline:
        return EmailAuthResult.build(
            summary=f"unknown: {name} not checked: the monitor has no working network",
            findings=[check.reach.finding(f"the mail authentication of {name}")],
            started=started,
            domain=name,
            mx=mx,
            spf=spf,
            dmarc=dmarc,
            dkim=dkim,
            mta_sts=mta_sts,
            tls_rpt=tls_rpt,
            bimi=bimi,
        )
    if time.monotonic() >= check.deadline:
        check.add(
            Verdict.UNKNOWN,
            "timeout",
            f"the check did not finish within {timeout_s:g} s: some lookups have no answer",
            "try again with a larger timeout_s",
        )
    if bimi is not None and dmarc.p not in ("quarantine", "reject"):
        check.add(
            Verdict.WARNING,
            "bimi_needs_enforced_dmarc",
            "BIMI logos are shown only with a DMARC policy of quarantine or reject",
            "enforce DMARC first",
        )
    verdict = Verdict.worst([f.severity for f in check.findings])
    problems = [f.code for f in check.findings if f.severity != Verdict.OK]
    summary = f"{verdict.value}: {name}: " + (
        ", ".join(problems) if problems else "MX, SPF and DMARC in order"
    )
    return EmailAuthResult.build(
        summary=summary,
        findings=check.findings,
        started=started,
        domain=name,
        mx=mx,
        spf=spf,
        dmarc=dmarc,
        dkim=dkim,
        mta_sts=mta_sts,
        tls_rpt=tls_rpt,
        bimi=bimi,
    )
