"""SPF (RFC 7208): find the one record, check its syntax, and evaluate it with every include and
redirect expanded, within the limits receivers enforce.

The zone being checked decides what an include leads to, so evaluation is bounded as RFC 7208
section 4.6.4 bounds a receiver's, and for the same reason:

1. At most 10 DNS-querying terms (include, a, mx, ptr, exists, and the redirect modifier) in
   the whole evaluation, includes and redirects together. The 11th is not asked: evaluation stops
   there (a receiver's permerror) with one `spf_too_many_lookups` naming that term. Nesting needs
   no limit of its own, as every level costs an include.
2. At most 2 void lookups (NXDOMAIN, or an answer with no records); the 3rd stops evaluation with
   `spf_void_lookups`.
3. An mx term whose name has more than 10 MX hosts is a permerror (`spf_too_many_mx`): a receiver
   would look up more than 10 addresses for it. The hosts' addresses are not looked up here. A
   ptr term needs the sending address, which a check has not got, so it is counted and not asked
   (its own sub-limit, 10 names, never comes into play); so is exists, whose name is usually
   built from the sender with macros.
4. What the result shows is capped: `includes` holds the names actually looked up (at most 10),
   at most `MAX_FINDINGS_PER_CODE` findings of one code are listed (the last says how many more
   there were), and terms, names and errors quoted in messages are cut to `MAX_QUOTED` characters.

Findings: `spf_missing`, `spf_multiple`, `spf_syntax_error`, `spf_too_many_lookups`,
`spf_void_lookups`, `spf_too_many_mx`, `spf_include_missing`, `spf_allows_all`,
`spf_neutral_all`, `spf_no_all`, `spf_ptr`, `spf_lookup_failed`.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Awaitable, Callable

from monitor_common.results import Finding, Verdict

from dns_monitor.models import SpfInfo
from dns_monitor.query import Values

__all__ = ["LOOKUP_LIMIT", "MX_LIMIT", "VOID_LIMIT", "check_spf", "spf_records"]

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
MX_LIMIT = 10
MAX_FINDINGS_PER_CODE = 10
MAX_QUOTED = 100
_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_LOOKUP_MECHANISMS = {"include", "a", "mx", "ptr", "exists"}
_TERM = re.compile(r"^([+\-~?]?)([a-z0-9]+)([:/].*)?$", re.IGNORECASE)

Ask = Callable[[str, str], Awaitable[Values]]


def spf_records(txt: list[str]) -> list[str]:
    """The TXT strings that are SPF records ("v=spf1" alone or followed by a space)."""
    return [t for t in txt if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def _quoted(text: str) -> str:
    """`text` as a message quotes it: the zone wrote it, so it may be any length (rule 4)."""
    return text if len(text) <= MAX_QUOTED else f"{text[:MAX_QUOTED]}... ({len(text)} characters)"


def _own_all(record: str) -> str | None:
    """The all term of `record` itself, read without any lookup."""
    for term in record.split()[1:]:
        match = _TERM.match(term)
        if match is not None and match.group(2).lower() == "all" and match.group(3) is None:
            return f"{match.group(1) or '+'}all"
    return None


class _Stopped(Exception):
    """A limit of rule 1 to 3 was exceeded: evaluation ends, as in a receiver's permerror (the
    finding that says so is already recorded)."""


class _Expansion:
    def __init__(self, ask: Ask) -> None:
        self.ask = ask
        self.lookups = 0
        self.void = 0
        self.includes: list[str] = []
        self.findings: list[Finding] = []
        self.listed: Counter[str] = Counter()
        self.unlisted: Counter[str] = Counter()

    def problem(self, severity: Verdict, code: str, message: str, hint: str) -> None:
        if any(f.code == code and f.message == message for f in self.findings):
            return
        if self.listed[code] >= MAX_FINDINGS_PER_CODE:
            self.unlisted[code] += 1
            return
        self.listed[code] += 1
        self.findings.append(Finding(severity=severity, code=code, message=message, hint=hint))

    def close_lists(self) -> list[Finding]:
        """The findings, the last of each code that had more than the cap saying how many more."""
        findings = list(self.findings)
        for code, more in self.unlisted.items():
            at = max(i for i, f in enumerate(findings) if f.code == code)
            last = findings[at]
            findings[at] = last.model_copy(
                update={"message": f"{last.message} (and {more} more {code} findings, not listed)"}
            )
        return findings

    def lookup(self, domain: str, term: str) -> None:
        """Count a DNS-querying term of `domain`'s record; stop before asking the 11th (rule 1)."""
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            self.problem(
                Verdict.CRITICAL,
                "spf_too_many_lookups",
                f"SPF evaluation needs more than {LOOKUP_LIMIT} DNS lookups: {_quoted(term)} in the "
                f"record of {_quoted(domain)} is number {self.lookups}, where receivers stop with a "
                "permerror (so did this check: what follows it was not looked up)",
                "flatten includes into ip4/ip6 ranges or drop services that no longer send for you",
            )
            raise _Stopped

    def voided(self, domain: str, term: str) -> None:
        """Count a lookup that found nothing; stop at the one past the limit (rule 2)."""
        self.void += 1
        if self.void > VOID_LIMIT:
            self.problem(
                Verdict.CRITICAL,
                "spf_void_lookups",
                f"{_quoted(term)} in the SPF record of {_quoted(domain)} is lookup number {self.void} "
                f"that finds nothing, over the limit of {VOID_LIMIT}: receivers stop there with a permerror",
                "remove mechanisms that point at names without records",
            )
            raise _Stopped

    async def follow(self, domain: str, term: str, target: str) -> str | None:
        """Evaluate the record `term` (include or redirect) of `domain` leads to, at `target`:
        return its final all term."""
        self.lookup(domain, term)
        self.includes.append(_quoted(target))
        answer = await self.ask(target, "TXT")
        if answer.rcode is None:
            self.problem(
                Verdict.UNKNOWN,
                "spf_lookup_failed",
                f"the TXT lookup for {_quoted(target)} failed: {_quoted(answer.error or 'no answer')}",
                "try again; if it persists the domain's nameservers are failing",
            )
            return None
        records = spf_records(answer.values)
        if not records:
            self.problem(
                Verdict.CRITICAL,
                "spf_include_missing",
                f"{_quoted(domain)} has {_quoted(term)}, but {_quoted(target)} publishes no SPF record "
                "(permerror)",
                f"remove the term or ask the owner of {_quoted(target)} to publish SPF",
            )
            if answer.rcode == "NXDOMAIN" or not answer.values:
                self.voided(domain, term)
            return None
        if len(records) > 1:
            self.problem(
                Verdict.CRITICAL,
                "spf_multiple",
                f"{_quoted(target)} publishes {len(records)} SPF records; receivers treat that as an "
                "error (permerror)",
                "merge them into one TXT record starting with v=spf1",
            )
        return await self.expand(target, records[0])

    async def expand(self, domain: str, record: str) -> str | None:
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
                    f"the SPF record of {_quoted(domain)} has an invalid term {_quoted(term)!r}",
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
                        f"the SPF record of {_quoted(domain)} has an invalid address in {_quoted(term)!r}",
                        "write ip4:192.0.2.0/24 or ip6:2001:db8::/32",
                    )
                continue
            if mechanism == "all":
                final_all = f"{qualifier}all"
                continue
            if mechanism == "include":
                await self.follow(domain, term, target)
                continue
            self.lookup(domain, term)
            if mechanism == "ptr":
                self.problem(
                    Verdict.WARNING,
                    "spf_ptr",
                    f"the SPF record of {_quoted(domain)} uses ptr, which RFC 7208 says not to use",
                    "replace ptr with ip4/ip6 or a mechanisms",
                )
            elif mechanism in ("a", "mx"):
                await self.addresses(domain, term, mechanism, target)
        if redirect is not None and final_all is None:
            return await self.follow(domain, f"redirect={redirect}", redirect)
        return final_all

    async def addresses(self, domain: str, term: str, mechanism: str, target: str) -> None:
        """The lookup of an a or mx term: void or not, and for mx the number of hosts (rule 3)."""
        answer = await self.ask(target, "A" if mechanism == "a" else "MX")
        if answer.rcode is None:
            return
        if not answer.values:
            self.voided(domain, term)
        elif mechanism == "mx" and len(answer.values) > MX_LIMIT:
            self.problem(
                Verdict.CRITICAL,
                "spf_too_many_mx",
                f"{_quoted(term)} in the SPF record of {_quoted(domain)} names {len(answer.values)} MX "
                f"hosts; receivers look up at most {MX_LIMIT} for one mx term and fail it with a "
                "permerror beyond that",
                f"use at most {MX_LIMIT} MX hosts, or list the mail servers' ranges with ip4/ip6 instead of mx",
            )
            raise _Stopped


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
    # When evaluation stops early the record's own all term is still known, a redirect's is not.
    all_unknown = False
    try:
        info.all = await expansion.expand(domain, records[0])
    except _Stopped:
        info.all = _own_all(records[0])
        all_unknown = info.all is None and "redirect=" in records[0].lower()
    info.dns_lookups, info.void_lookups, info.includes = expansion.lookups, expansion.void, expansion.includes
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
    elif info.all is None and not all_unknown:
        expansion.problem(
            Verdict.WARNING,
            "spf_no_all",
            f"the SPF record of {domain} has no all term, so mail from anyone else is neutral",
            "end the record with -all",
        )
    return info, expansion.close_lists()
