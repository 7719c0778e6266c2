"""`domain_expiry`: registration data from the registry's RDAP server.

The server for a TLD is the one the operator configured (`MCP_MONITOR_RDAP_URL`: a global base
URL, or `tld=URL` entries), else the one IANA's bootstrap file names
(https://data.iana.org/rdap/dns.json, cached for a day; `bootstrap=URL` replaces it). Every
fetch goes through the policy-guarded HTTP client.

A registry knows registered domains only, so a name below one is asked about as the domain it
belongs to, which the Public Suffix List tells (the `publicsuffixlist` package ships the list,
nothing is fetched): `www.example.co.uk` is asked about as `example.co.uk`. Only the list's ICANN
section counts: `user.github.io` is registered at the `.io` registry as `github.io`, and the
private section's suffixes (github.io, blogspot.com) have no registry of their own. A TLD the list
does not know counts as a one-label suffix (the list's default rule).

Findings: `domain_expired`, `domain_expiring`, `domain_on_hold`, `domain_redemption`,
`domain_pending_delete`, `expiry_unknown`, `rdap_not_found`, `rdap_unavailable`,
`rdap_unreachable`; `monitor_network_unavailable` (unknown) instead of the last when the fetch
failed on this machine's side (no route out, or the operator's resolver giving no answer for
the RDAP server's name, `netpolicy.monitor_side`).
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from monitor_common.errors import ConfigError, InputError
from monitor_common.findings import MONITOR_NETWORK_UNAVAILABLE
from monitor_common.netpolicy import monitor_side
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor.models import DomainExpiryResult

if TYPE_CHECKING:
    from monitor_common.context import CheckContext
    from publicsuffixlist import PublicSuffixList

__all__ = ["IANA_BOOTSTRAP", "RdapConfig", "domain_expiry", "parse_rdap_config", "registered_domain"]

IANA_BOOTSTRAP = "https://data.iana.org/rdap/dns.json"
BOOTSTRAP_TTL_S = 86400
_bootstrap_cache: dict[str, tuple[float, dict[str, str]]] = {}

_FLAGGED = {
    "clienthold": ("domain_on_hold", "the registrar has put the domain on hold: it does not resolve"),
    "serverhold": ("domain_on_hold", "the registry has put the domain on hold: it does not resolve"),
    "redemptionperiod": ("domain_redemption", "the domain has expired and is in its redemption period"),
    "pendingdelete": ("domain_pending_delete", "the domain is about to be deleted"),
}


@dataclass(frozen=True)
class RdapConfig:
    """Where RDAP data comes from: per-TLD base URLs, a global one, and the bootstrap file."""

    by_tld: tuple[tuple[str, str], ...] = ()
    global_url: str | None = None
    bootstrap: str = IANA_BOOTSTRAP


@functools.cache
def _suffixes() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True)  # parses the shipped list once (tens of ms)


def registered_domain(name: str) -> str:
    """The registered domain `name` belongs to (`www.example.co.uk` -> `example.co.uk`);
    InputError when `name` is itself a public suffix (`co.uk`, `com`)."""
    name = name.lower().rstrip(".")
    registered = _suffixes().privatesuffix(name)
    if registered is None:
        raise InputError(
            f"{name!r} is a public suffix (domains are registered under it, not it): "
            f"pass a registered domain, e.g. example.{name}"
        )
    return registered


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def parse_rdap_config(entries: Sequence[str]) -> RdapConfig:
    """Read MCP_MONITOR_RDAP_URL entries: `URL`, `tld=URL` or `bootstrap=URL`."""
    by_tld: list[tuple[str, str]] = []
    global_url: str | None = None
    bootstrap = IANA_BOOTSTRAP
    for entry in entries:
        key, sep, url = entry.partition("=")
        if not sep or key.lower().startswith("http"):
            key, url = "", entry
        if not url.lower().startswith(("https://", "http://")):
            raise ConfigError(
                f"MCP_MONITOR_RDAP_URL entry {entry!r} is not a URL, e.g. com=https://rdap.verisign.com/com/v1/"
            )
        if key == "":
            global_url = _base(url)
        elif key.lower() == "bootstrap":
            bootstrap = url
        else:
            by_tld.append((key.lower().strip("."), _base(url)))
    return RdapConfig(tuple(by_tld), global_url, bootstrap)


def _date(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _registrar(data: dict[str, Any]) -> str | None:
    for entity in cast("list[dict[str, Any]]", data.get("entities") or []):
        if "registrar" not in cast("list[str]", entity.get("roles") or []):
            continue
        vcard = cast("list[Any]", entity.get("vcardArray") or [])
        if len(vcard) == 2:
            for item in cast("list[list[Any]]", vcard[1]):
                if item and item[0] == "fn" and len(item) > 3:
                    return str(item[3])
        handle = entity.get("handle")
        return str(handle) if handle is not None else None
    return None


class _Fetcher:
    def __init__(self, ctx: CheckContext, timeout: float, verify: ssl.SSLContext | bool) -> None:
        self.ctx = ctx
        self.deadline = time.monotonic() + timeout
        self.verify = verify

    async def get(self, url: str) -> tuple[int, Any]:
        """(status, parsed JSON or None); raises OSError for a transport failure or a body over the
        cap, caused by the fetch's own error (which `netpolicy.monitor_side` reads)."""
        import httpx2
        from monitor_common.errors import PolicyError
        from monitor_common.fetch import RDAP_CAP, fetch
        from monitor_common.netpolicy import ResolutionError
        from monitor_common.ratelimit import RateLimited

        timeout = max(self.deadline - time.monotonic(), 0.001)
        try:
            fetched = await fetch(
                self.ctx,
                url,
                cap=RDAP_CAP,
                timeout_s=timeout,
                verify=self.verify,
                follow_redirects=True,
                headers={"accept": "application/rdap+json, application/json"},
            )
        except (httpx2.HTTPError, ResolutionError, PolicyError, RateLimited) as exc:
            raise OSError(f"{url}: {exc}") from exc
        if fetched.truncated:
            raise OSError(fetched.over_cap)
        try:
            return fetched.status_code, json.loads(fetched.body) if fetched.body else None
        except ValueError:
            return fetched.status_code, None

    async def bootstrap(self, url: str) -> dict[str, str]:
        cached = _bootstrap_cache.get(url)
        if cached is not None and time.monotonic() - cached[0] < BOOTSTRAP_TTL_S:
            return cached[1]
        status, data = await self.get(url)
        if status != 200 or not isinstance(data, dict):
            raise OSError(f"{url}: HTTP {status}, not an RDAP bootstrap file")
        table: dict[str, str] = {}
        for service in cast("list[list[list[str]]]", cast("dict[str, Any]", data).get("services") or []):
            if len(service) >= 2 and service[1]:
                https = [u for u in service[1] if u.startswith("https://")] or service[1]
                for tld in service[0]:
                    table[tld.lower()] = _base(https[0])
        _bootstrap_cache[url] = (time.monotonic(), table)
        return table


async def domain_expiry(
    domain: str,
    ctx: CheckContext,
    *,
    config: RdapConfig | None = None,
    warn_days: float = 30,
    critical_days: float = 7,
    timeout_s: float = 10.0,
    verify: ssl.SSLContext | bool = True,
) -> DomainExpiryResult:
    """Registration data of `domain` from RDAP, with `days_left` judged against the thresholds.

    Every fetch goes through the policy-guarded HTTP client of `ctx` (its policy, rate limit
    and resolver for the RDAP servers' names).
    """
    started = Stopwatch()
    if critical_days > warn_days:
        raise InputError(f"critical_days ({critical_days:g}) must not exceed warn_days ({warn_days:g})")
    asked = parse_hostname(domain)
    if "." not in asked:
        raise InputError(f"{domain!r} is a top-level domain: pass a registered domain, e.g. example.com")
    name = registered_domain(asked)
    below = f" (the registered domain of {asked})" if name != asked.lower().rstrip(".") else ""
    config = config or RdapConfig()
    tld = name.rsplit(".", 1)[1]
    fetcher = _Fetcher(ctx, timeout_s, verify)
    findings: list[Finding] = []

    def result(summary: str, **fields: object) -> DomainExpiryResult:
        verdict = Verdict.worst([f.severity for f in findings])
        return DomainExpiryResult.build(
            summary=f"{verdict.value}: {summary}{below}",
            findings=findings,
            started=started,
            domain=name,
            **fields,
        )

    base = dict(config.by_tld).get(tld) or config.global_url
    try:
        if base is None:
            base = (await fetcher.bootstrap(config.bootstrap)).get(tld)
        if base is None:
            findings.append(
                Finding(
                    severity=Verdict.UNKNOWN,
                    code="rdap_unavailable",
                    message=f"the IANA bootstrap data names no RDAP server for .{tld}",
                    hint=f"configure one with MCP_MONITOR_RDAP_URL={tld}=https://...",
                )
            )
            return result(f"no RDAP server known for .{tld}")
        url = f"{base}domain/{name}"
        status, data = await fetcher.get(url)
    except OSError as exc:
        if monitor_side(exc):
            findings.append(MONITOR_NETWORK_UNAVAILABLE.finding(f"the RDAP server was not reached: {exc}"))
            return result(f"{name} not checked: the monitor has no working network")
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code="rdap_unreachable",
                message=f"RDAP lookup failed: {exc}",
                hint="try again later; the registry's RDAP server may be down or rate limiting",
            )
        )
        return result(f"RDAP lookup for {name} failed")
    if status == 404:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="rdap_not_found",
                message=f"the registry has no registration for {name} ({url} answered 404)",
                hint="the domain is not registered: check its spelling",
            )
        )
        return result(f"{name} is not registered", rdap_url=url)
    if status != 200 or not isinstance(data, dict):
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN, code="rdap_unreachable", message=f"{url} answered HTTP {status}"
            )
        )
        return result(f"RDAP lookup for {name} failed", rdap_url=url)
    record = cast("dict[str, Any]", data)
    events = {
        str(e.get("eventAction", "")).lower(): _date(e.get("eventDate"))
        for e in cast("list[dict[str, Any]]", record.get("events") or [])
    }
    expires, created = events.get("expiration"), events.get("registration")
    statuses = [str(s) for s in cast("list[object]", record.get("status") or [])]
    nameservers = sorted(
        str(ns.get("ldhName", "")).lower().rstrip(".")
        for ns in cast("list[dict[str, Any]]", record.get("nameservers") or [])
    )
    days_left = None if expires is None else round((expires - datetime.now(UTC)).total_seconds() / 86400, 2)
    if days_left is None:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="expiry_unknown",
                message=f"the RDAP record of {name} has no expiration date",
                hint="some registries do not publish it: check with the registrar",
            )
        )
    elif days_left < 0:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="domain_expired",
                message=f"{name} expired {-days_left:g} days ago ({_iso(expires)})",
                hint="renew it with the registrar now, before it is released",
            )
        )
    elif days_left <= warn_days:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL if days_left <= critical_days else Verdict.WARNING,
                code="domain_expiring",
                message=f"{name} expires in {days_left:g} days ({_iso(expires)})",
                hint="renew it, or turn on auto-renew at the registrar",
            )
        )
    for status_text in statuses:
        flagged = _FLAGGED.get(status_text.replace(" ", "").lower())
        if flagged is not None:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code=flagged[0],
                    message=f"{name}: {flagged[1]} (status {status_text})",
                    hint="contact the registrar",
                )
            )
    registrar = _registrar(record)
    when = f"expires in {days_left:g} days" if days_left is not None and days_left >= 0 else "expiry unknown"
    if days_left is not None and days_left < 0:
        when = "expired"
    return result(
        f"{name} {when}" + (f" (registrar {registrar})" if registrar else ""),
        rdap_url=url,
        registrar=registrar,
        created=_iso(created),
        expires=_iso(expires),
        days_left=days_left,
        status=statuses,
        nameservers=nameservers,
    )
