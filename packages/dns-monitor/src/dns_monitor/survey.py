"""What `dns_delegation` saw of a zone, for the checks that build on it.

`dns_delegation` walks to the zone, asks every nameserver for the apex SOA and NS set over UDP and
TCP, and then hands a `Survey` to each check of `dns_monitor.delegation.CHECKS`. A check is an
async function `check(survey) -> list[Finding]`; the checks run concurrently under the call's
deadline, ask further questions through `survey.walker` (policy and rate limit included) and
report a fault that several nameservers share as one finding that lists them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import dns.message
    import dns.rrset
    from monitor_common.results import Finding

    from dns_monitor.models import DelegationNameserver
    from dns_monitor.walk import Walker, ZoneStep

__all__ = ["Check", "SignedZone", "Status", "Survey"]

Status = Literal["secure", "insecure", "bogus", "unknown"]  # of a DNSSEC chain


@dataclass
class Survey:
    """The zone, the parent's referral and each nameserver as it answered."""

    zone: str  # absolute, lower case: "example.com."
    walker: Walker
    step: ZoneStep  # the parent's view: NS names, glue, the parent's servers
    servers: dict[str, DelegationNameserver]  # every nameserver named by the parent or the child
    child_ns: list[str]  # the union of the NS sets the nameservers serve
    # nameserver name -> address -> its authoritative (AA, NOERROR) UDP answer to the apex SOA
    soa: dict[str, dict[str, dns.message.Message]] = field(
        default_factory=lambda: dict[str, dict[str, "dns.message.Message"]]()
    )
    # nameserver name -> address -> its authoritative UDP answer to the apex NS
    ns: dict[str, dict[str, dns.message.Message]] = field(
        default_factory=lambda: dict[str, dict[str, "dns.message.Message"]]()
    )

    # nameservers whose failure a check explained with a finding of its own (`behaviour`: EDNS
    # breaks them, `edns_unsupported`; their UDP answer comes from another address,
    # `answer_from_other_address`): the delegation does not call them lame or UDP-silent as well
    explained: set[str] = field(default_factory=lambda: set[str]())

    def answering(self) -> list[tuple[str, str]]:
        """(name, address) of every nameserver address that answered the SOA authoritatively,
        sorted: the servers worth asking further questions."""
        return sorted((name, address) for name, by_address in self.soa.items() for address in by_address)


Check = Callable[[Survey], Awaitable[list["Finding"]]]


@dataclass
class SignedZone:
    """What `dnssec_check` saw of the zone at the end of the chain, for the checks of
    `dns_monitor.dnssec.ZONE_CHECKS` (the DNSSEC counterpart of `Survey`)."""

    zone: str  # absolute: "example.com."
    status: Status  # "secure" or "insecure" (the checks do not run on a bogus or unknown chain)
    step: ZoneStep  # its servers and its parent's
    walker: Walker  # for further questions, under the call's policy, rate limit and deadline
    keys: dns.rrset.RRset | None  # its DNSKEY set (validated when secure; as served when insecure)
    ds: dns.rrset.RRset | None  # the DS set at its parent (None when insecure)
    denial: Literal["nsec", "nsec3"] | None  # what a name that does not exist was answered with
    warn_days: float
