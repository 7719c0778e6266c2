"""The origin AS of each nameserver address: nameservers that all sit in one AS (CONNECTIVITY03).

A check of `dns_monitor.delegation.CHECKS`. Zonemaster's CONNECTIVITY03 asks a Cymru-style DNS
service for the AS that announces each nameserver address: a TXT question for the reversed
address under `origin.<zone>` (IPv4) or `origin6.<zone>` (IPv6, nibbles), answered with
`"64500 | 192.0.2.0/24 | ZZ | ..."` (the ASNs, space-separated, then the announced prefix; of
several records the longest prefix counts). The zone is the setting `MCP_MONITOR_DNS_ASN_ZONE`
(default `asn.cymru.com`, Zonemaster's default source; empty turns the lookup off). The questions
go to the operator's resolver (`MCP_MONITOR_RESOLVER`) as zone_content asks names outside the
zone, or, without one, are walked from the root hints like the delegation itself; all addresses
at once, one try each, under the call's deadline.

Findings, per IP family, at Zonemaster's default levels (a NOTICE is a finding of severity ok):

- `nameservers_one_asn` (warning, IPV4_ONE_ASN / IPV6_ONE_ASN): every nameserver address of the
  family is announced by one and the same AS: one routing incident or one operator's outage
  takes the zone off the air. Names the AS and the servers.
- `nameservers_same_asn_set` (ok, IPV4_SAME_ASN / IPV6_SAME_ASN): the addresses are announced by
  several ASes, but every address by the same set of them.

An address the service knows nothing about (NXDOMAIN, no TXT) or a service that does not answer
says nothing about the zone (Zonemaster's EMPTY_ASN_SET and ERROR_ASN_DATABASE blame the zone
for the lookup service; here they are silent), and a family is judged only when the origin of
every one of its addresses is known (an unknown one may sit in another AS; Zonemaster compares
the known ones). The TXT
format is parsed here by hand: it is one line of `|`-separated fields, which no library covers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import anyio
from monitor_common.results import Finding, Verdict

if TYPE_CHECKING:
    import dns.message

    from dns_monitor.survey import Survey

__all__ = ["Origin", "asn_diversity", "judge", "lookup_name", "parse_origin"]

_FIELD = re.compile(r"\s*\|\s*")


@dataclass(frozen=True)
class Origin:
    """What the AS service says of one address: the ASNs announcing it and the prefix."""

    asns: tuple[int, ...]
    prefix: str


def lookup_name(address: str, zone: str) -> str:
    """The TXT name that holds `address`'s origin under the Cymru-style `zone`."""
    ip = ipaddress.ip_address(address)
    base = zone.strip(".")
    if ip.version == 4:
        return ".".join(reversed(address.split("."))) + f".origin.{base}."
    nibbles = ip.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + f".origin6.{base}."


def parse_origin(texts: list[str]) -> Origin | None:
    """The origin the TXT strings `texts` give (the longest prefix of several), or None when
    none reads as `ASN [ASN...] | prefix | ...`."""
    best: Origin | None = None
    best_length = -1
    for text in texts:
        fields = _FIELD.split(text.strip())
        if len(fields) < 2:
            continue
        try:
            asns = tuple(sorted({int(item) for item in fields[0].split()}))
            network = ipaddress.ip_network(fields[1], strict=False)
        except ValueError:
            continue
        if asns and network.prefixlen > best_length:
            best, best_length = Origin(asns, str(network)), network.prefixlen
    return best


def _texts(response: dns.message.Message | None) -> list[str]:
    import dns.rcode
    import dns.rdatatype

    if response is None or response.rcode() != dns.rcode.NOERROR:
        return []
    texts: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            for rdata in rrset:  # pyright: ignore[reportUnknownVariableType]
                strings = cast("tuple[bytes, ...]", rdata.strings)  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue]
                texts.append(b"".join(strings).decode("utf-8", "replace"))
    return texts


async def _ask(survey: Survey, name: str) -> dns.message.Message | None:
    """`name` TXT from the operator's resolver, else walked from the root hints; None when
    nothing answered."""
    from dns_monitor.query import exchange, make_query, system_server

    walker = survey.walker
    if walker.ctx.resolver_address is None:
        return (await walker.iterate(name, "TXT")).response
    done = await exchange(
        make_query(name, "TXT"),
        system_server(walker.ctx.resolver_address),
        walker.ctx,
        timeout=min(walker.try_timeout, walker.left()),
    )
    return done.response


def _servers_by_address(survey: Survey) -> dict[str, list[str]]:
    by_address: dict[str, list[str]] = {}
    for name, server in survey.servers.items():
        for address in server.addresses:
            by_address.setdefault(address, []).append(name)
    return by_address


def judge(origins: dict[str, Origin], names: dict[str, list[str]]) -> list[Finding]:
    """The findings for the addresses whose origin is known (`origins`), per IP family; `names`
    gives the nameserver names of every address. A family with an address of unknown origin is
    not judged: that address may sit in another AS."""
    findings: list[Finding] = []
    for version, family in ((4, "IPv4"), (6, "IPv6")):
        known = {
            address: origin
            for address, origin in origins.items()
            if ipaddress.ip_address(address).version == version
        }
        family_addresses = [address for address in names if ipaddress.ip_address(address).version == version]
        if not known or any(address not in known for address in family_addresses):
            continue
        every = sorted({asn for origin in known.values() for asn in origin.asns})
        sets = {origin.asns for origin in known.values()}
        shown = ", ".join(
            f"{'/'.join(names.get(address, [address]))} ({address}, {known[address].prefix})"
            for address in sorted(known)
        )
        if len(every) == 1:
            findings.append(
                Finding(
                    code="nameservers_one_asn",
                    severity=Verdict.WARNING,
                    message=f"every {family} nameserver address is announced by one AS, AS{every[0]}: {shown}",
                    hint="Add a nameserver whose address another network (AS) announces, e.g. a secondary "
                    "DNS provider, so one routing incident cannot take the zone off the air.",
                )
            )
        elif len(sets) == 1:
            asns = ", ".join(f"AS{asn}" for asn in every)
            findings.append(
                Finding(
                    code="nameservers_same_asn_set",
                    severity=Verdict.OK,
                    message=f"every {family} nameserver address is announced by the same ASes ({asns}): {shown}",
                    hint="For independent routing, add a nameserver announced by a different set of ASes.",
                )
            )
    return findings


async def asn_diversity(survey: Survey) -> list[Finding]:
    """CONNECTIVITY03: the origin AS of every nameserver address (see the module)."""
    zone = survey.walker.ctx.dns_asn_zone
    names = _servers_by_address(survey)
    if not zone or not names:
        return []
    origins: dict[str, Origin] = {}

    async def one(address: str) -> None:
        try:
            name = lookup_name(address, zone)
        except ValueError:
            return
        origin = parse_origin(_texts(await _ask(survey, name)))
        if origin is not None:
            origins[address] = origin

    with anyio.move_on_after(survey.walker.left()):
        async with anyio.create_task_group() as group:
            for address in sorted(names):
                group.start_soon(one, address)
    return judge(origins, names)
