"""SPF (RFC 7208): find the one record, check its syntax, and count its DNS lookups with every
include and redirect expanded, against the limits receivers enforce (10 lookups, 2 void ones).

Findings: `spf_missing`, `spf_multiple`, `spf_syntax_error`, `spf_too_many_lookups`,
`spf_void_lookups`, `spf_include_missing`, `spf_allows_all`, `spf_neutral_all`, `spf_no_all`,
`spf_ptr`, `spf_lookup_failed`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable

from monitor_common.results import Finding, Verdict

from dns_monitor.models import SpfInfo
from dns_monitor.query import Values

__all__ = ["LOOKUP_LIMIT", "VOID_LIMIT", "check_spf", "spf_records"]

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
MAX_DEPTH = 10
_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_LOOKUP_MECHANISMS = {"include", "a", "mx", "ptr", "exists"}
_TERM = re.compile(r"^([+\-~?]?)([a-z0-9]+)([:/].*)?$", re.IGNORECASE)

Ask = Callable[[str, str], Awaitable[Values]]


def spf_records(txt: list[str]) -> list[str]:
    """The TXT strings that are SPF records ("v=spf1" alone or followed by a space)."""
    return [t for t in txt if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


class _Expansion:
    def __init__(self, ask: Ask) -> None:
        self.ask = ask
        self.lookups = 0
        self.void = 0
        self.includes: list[str] = []
        self.findings: list[Finding] = []

    def problem(self, severity: Verdict, code: str, message: str, hint: str) -> None:
        if not any(f.code == code and f.message == message for f in self.findings):
            self.findings.append(Finding(severity=severity, code=code, message=message, hint=hint))

    async def fetch(self, domain: str) -> str | None:
        """The single SPF record of `domain`, or None (counted as void when nothing is there)."""
        answer = await self.ask(domain, "TXT")
        if answer.rcode is None:
            self.problem(
                Verdict.UNKNOWN,
                "spf_lookup_failed",
                f"the TXT lookup for {domain} failed: {answer.error}",
                "try again; if it persists the domain's nameservers are failing",
            )
            return None
        records = spf_records(answer.values)
        if not records:
            self.void += 1 if answer.rcode == "NXDOMAIN" or not answer.values else 0
            return None
        if len(records) > 1:
            self.problem(
                Verdict.CRITICAL,
                "spf_multiple",
                f"{domain} publishes {len(records)} SPF records; receivers treat that as an error (permerror)",
                "merge them into one TXT record starting with v=spf1",
            )
        return records[0]

    async def expand(self, domain: str, record: str, depth: int) -> str | None:
        """Walk `record`'s terms; return its final all term (e.g. "-all") if it has one."""
        final_all: str | None = None
        redirect: str | None = None
        for term in record.split()[1:]:
            if "=" in term and not term.lower().startswith(tuple(f"{m}:" for m in _MECHANISMS)):
                name, _, value = term.partition("=")
                if name.lower() == "redirect":
                    redirect = value
                continue
            match = _TERM.match(term)
            if match is None or match.group(2).lower() not in _MECHANISMS:
                self.problem(
                    Verdict.CRITICAL,
                    "spf_syntax_error",
                    f"the SPF record of {domain} has an invalid term {term!r}",
                    "fix the term: valid mechanisms are all, include, a, mx, ptr, ip4, ip6, exists",
                )
                continue
            qualifier, mechanism, argument = (
                match.group(1) or "+",
                match.group(2).lower(),
                match.group(3) or "",
            )
            target = argument[1:].split("/")[0] if argument.startswith(":") else domain
            if mechanism in ("ip4", "ip6"):
                try:
                    ipaddress.ip_network(argument[1:], strict=False)
                except ValueError:
                    self.problem(
                        Verdict.CRITICAL,
                        "spf_syntax_error",
                        f"the SPF record of {domain} has an invalid address in {term!r}",
                        "write ip4:192.0.2.0/24 or ip6:2001:db8::/32",
                    )
                continue
            if mechanism == "all":
                final_all = f"{qualifier if qualifier != '+' else '+'}all"
                continue
            if mechanism in _LOOKUP_MECHANISMS:
                self.lookups += 1
            if mechanism == "ptr":
                self.problem(
                    Verdict.WARNING,
                    "spf_ptr",
                    f"the SPF record of {domain} uses ptr, which RFC 7208 says not to use",
                    "replace ptr with ip4/ip6 or a mechanisms",
                )
            if mechanism == "include":
                await self.follow(domain, target, depth, "include")
            elif mechanism in ("a", "mx"):
                answer = await self.ask(target, "A" if mechanism == "a" else "MX")
                if answer.rcode is not None and not answer.values:
                    self.void += 1
        if redirect is not None and final_all is None:
            self.lookups += 1
            return await self.follow(domain, redirect, depth, "redirect")
        return final_all

    async def follow(self, domain: str, target: str, depth: int, how: str) -> str | None:
        self.includes.append(target)
        if depth >= MAX_DEPTH:
            self.problem(
                Verdict.CRITICAL,
                "spf_too_many_lookups",
                f"SPF includes nest more than {MAX_DEPTH} deep below {domain} (a loop?)",
                "remove the include loop",
            )
            return None
        record = await self.fetch(target)
        if record is None:
            self.problem(
                Verdict.CRITICAL,
                "spf_include_missing",
                f"{domain} has {how}:{target}, but {target} publishes no SPF record (permerror)",
                f"remove the {how} or ask the owner of {target} to publish SPF",
            )
            return None
        return await self.expand(target, record, depth + 1)


async def check_spf(domain: str, txt: Values, ask: Ask) -> tuple[SpfInfo, list[Finding]]:
    """Judge `domain`'s SPF given its TXT answer; `ask(name, type)` makes further lookups."""
    info = SpfInfo()
    records = spf_records(txt.values)
    if txt.rcode is None:
        return info, [
            Finding(
                severity=Verdict.UNKNOWN,
                code="spf_lookup_failed",
                message=f"the TXT lookup for {domain} failed: {txt.error}",
            )
        ]
    if not records:
        return info, [
            Finding(
                severity=Verdict.WARNING,
                code="spf_missing",
                message=f"{domain} publishes no SPF record",
                hint='publish a TXT record such as "v=spf1 mx -all" listing who may send for the domain',
            )
        ]
    expansion = _Expansion(ask)
    if len(records) > 1:
        expansion.problem(
            Verdict.CRITICAL,
            "spf_multiple",
            f"{domain} publishes {len(records)} SPF records; receivers treat that as an error (permerror)",
            "merge them into one TXT record starting with v=spf1",
        )
    info.record = records[0]
    info.all = await expansion.expand(domain, records[0], 0)
    info.dns_lookups, info.void_lookups, info.includes = expansion.lookups, expansion.void, expansion.includes
    if expansion.lookups > LOOKUP_LIMIT:
        expansion.problem(
            Verdict.CRITICAL,
            "spf_too_many_lookups",
            f"the SPF record of {domain} needs {expansion.lookups} DNS lookups, over the limit of {LOOKUP_LIMIT} (permerror)",
            "flatten includes into ip4/ip6 ranges or drop services that no longer send for you",
        )
    if expansion.void > VOID_LIMIT:
        expansion.problem(
            Verdict.WARNING,
            "spf_void_lookups",
            f"{expansion.void} of the SPF lookups of {domain} find nothing (limit {VOID_LIMIT})",
            "remove mechanisms that point at names without records",
        )
    if info.all == "+all":
        expansion.problem(
            Verdict.CRITICAL,
            "spf_allows_all",
            f"the SPF record of {domain} ends in +all: anyone may send as {domain}",
            "end the record with -all (or ~all while testing)",
        )
    elif info.all == "?all":
        expansion.problem(
            Verdict.WARNING,
            "spf_neutral_all",
            f"the SPF record of {domain} ends in ?all, which protects nothing",
            "end the record with -all (or ~all while testing)",
        )
    elif info.all is None:
        expansion.problem(
            Verdict.WARNING,
            "spf_no_all",
            f"the SPF record of {domain} has no all term, so mail from anyone else is neutral",
            "end the record with -all",
        )
    return info, expansion.findings
