"""Result models of dns-monitor's tools. Light on imports: the server declares them at start-up."""

from __future__ import annotations

from typing import Literal

from monitor_common.results import CheckResult
from pydantic import BaseModel, Field

__all__ = [
    "AnswerGroup",
    "DelegationNameserver",
    "DelegationResult",
    "DkimInfo",
    "DmarcInfo",
    "DnsFlags",
    "DnsLookupResult",
    "DnsRecord",
    "DnssecLink",
    "DnssecResult",
    "DomainExpiryResult",
    "EmailAuthResult",
    "ExtendedError",
    "MtaStsInfo",
    "MxHost",
    "MxInfo",
    "PropagationResult",
    "ResolverAnswer",
    "ReverseDnsResult",
    "ReverseEntry",
    "SpfInfo",
    "TypeLookup",
]


class DnsRecord(BaseModel):
    """One resource record, its data in zone-file text."""

    name: str
    type: str
    ttl: int
    value: str


DnsAnswer = DnsRecord  # the name the first release used


class DnsFlags(BaseModel):
    """The header flags of a response."""

    aa: bool = Field(description="authoritative answer")
    tc: bool = Field(description="truncated")
    rd: bool = Field(description="recursion desired (echoed)")
    ra: bool = Field(description="recursion available")
    ad: bool = Field(description="authentic data: the resolver validated it with DNSSEC")
    cd: bool = Field(description="checking disabled (echoed)")


class ExtendedError(BaseModel):
    """An extended DNS error (RFC 8914) attached to a response."""

    code: int
    name: str = Field(description="e.g. dnssec_bogus, signature_expired, stale_answer")
    text: str | None = None


class TypeLookup(BaseModel):
    """The answer to one record type."""

    record_type: str
    rcode: str | None = Field(
        default=None, description="NOERROR, NXDOMAIN, SERVFAIL, ...; None without answer"
    )
    flags: DnsFlags | None = None
    answers: list[DnsRecord] = Field(default_factory=lambda: list[DnsRecord]())
    soa: DnsRecord | None = Field(
        default=None, description="The authority section's SOA for NXDOMAIN and NODATA"
    )
    extended_errors: list[ExtendedError] = Field(default_factory=lambda: list[ExtendedError]())
    transport: str | None = Field(default=None, description="udp, tcp, tls or https, as finally used")
    latency_ms: float | None = None
    error: str | None = Field(default=None, description="Why there is no answer (timeout, unreachable, ...)")


class DnsLookupResult(CheckResult):
    """What `dns_lookup` got back, per record type."""

    name: str = Field(description="The name asked for, absolute")
    server: str = Field(description="The DNS server asked (IP:port, tls://IP:port or the DoH URL)")
    lookups: list[TypeLookup] = Field(default_factory=lambda: list[TypeLookup]())
    answers: list[DnsRecord] = Field(
        default_factory=lambda: list[DnsRecord](), description="The answer records of every type together"
    )


class ResolverAnswer(BaseModel):
    """What one resolver or authoritative nameserver said in a propagation check."""

    server: str
    kind: Literal["resolver", "authoritative"]
    rcode: str | None = None
    values: list[str] = Field(default_factory=lambda: list[str](), description="Sorted answer values")
    ttl: int | None = Field(default=None, description="TTL of the answer set (remaining, for a cache)")
    latency_ms: float | None = None
    error: str | None = None
    failure: Literal["timeout", "unreachable", "bad_response", "rate_limited"] | None = Field(
        default=None,
        description="Why there is no answer: no reply, no route, a reply not to our query, not asked",
    )


class AnswerGroup(BaseModel):
    """Servers that gave the same answer."""

    values: list[str]
    rcode: str
    servers: list[str]
    share_percent: float = Field(description="Share of the servers that answered")
    max_ttl: int | None = Field(default=None, description="Longest TTL seen: when the last cache expires")


class PropagationResult(CheckResult):
    """The same question to many resolvers and to the authoritative nameservers."""

    name: str
    record_type: str
    answers: list[ResolverAnswer]
    groups: list[AnswerGroup]
    agreement_percent: float = Field(
        description="Share of answering servers in the largest (or expected) group"
    )
    outliers: list[str] = Field(
        description="Servers whose answer differs from the authoritative (or main) one"
    )
    stale_within_s: int | None = Field(
        default=None, description="Seconds until every cached outlier answer has expired (their largest TTL)"
    )


class ReverseEntry(BaseModel):
    """The PTR names of one address and whether each resolves back to it (FCrDNS)."""

    address: str
    ptr_name: str
    names: list[str]
    confirmed: list[str] = Field(description="PTR names whose A/AAAA records include the address")
    rcode: str | None = None
    error: str | None = None


class ReverseDnsResult(CheckResult):
    target: str
    entries: list[ReverseEntry]


class DelegationNameserver(BaseModel):
    """One nameserver of the child zone, as the parent and the child describe it and as it answers."""

    name: str
    addresses: list[str]
    in_parent: bool
    in_child: bool
    glue: list[str] = Field(description="Addresses the parent gives as glue")
    authoritative: bool | None = Field(default=None, description="Answered the SOA with AA over UDP")
    soa_serial: int | None = None
    udp_ok: bool | None = None
    tcp_ok: bool | None = None
    latency_ms: float | None = None
    child_ns: list[str] = Field(default_factory=lambda: list[str](), description="NS set this server returns")


class DelegationResult(CheckResult):
    domain: str
    parent_zone: str | None = None
    parent_servers: list[str] = Field(default_factory=lambda: list[str]())
    parent_ns: list[str] = Field(default_factory=lambda: list[str]())
    child_ns: list[str] = Field(default_factory=lambda: list[str]())
    nameservers: list[DelegationNameserver] = Field(default_factory=lambda: list[DelegationNameserver]())


class DnssecLink(BaseModel):
    """One zone of the chain of trust."""

    zone: str
    status: Literal["secure", "insecure", "bogus", "unknown"]
    ds: list[str] = Field(
        default_factory=lambda: list[str](), description="DS records at the parent (key tag/alg/digest type)"
    )
    dnskeys: list[str] = Field(default_factory=lambda: list[str](), description="key tag, algorithm, flags")
    detail: str = ""


class DnssecResult(CheckResult):
    domain: str
    status: Literal["secure", "insecure", "bogus", "unknown"]
    broken_link: str | None = Field(default=None, description="The zone where the chain breaks, if it does")
    chain: list[DnssecLink] = Field(default_factory=lambda: list[DnssecLink]())
    algorithms: list[str] = Field(default_factory=lambda: list[str]())
    earliest_rrsig_expiry: str | None = None
    days_until_rrsig_expiry: float | None = None
    denial: Literal["nsec", "nsec3"] | None = None


class MxHost(BaseModel):
    preference: int
    host: str
    addresses: list[str] = Field(default_factory=lambda: list[str]())
    is_cname: bool = False


class MxInfo(BaseModel):
    hosts: list[MxHost] = Field(default_factory=lambda: list[MxHost]())
    null_mx: bool = Field(default=False, description="RFC 7505 null MX: the domain accepts no mail")


class SpfInfo(BaseModel):
    record: str | None = None
    dns_lookups: int = Field(
        default=0, description="DNS-querying terms with includes and redirects expanded (limit 10)"
    )
    void_lookups: int = Field(default=0, description="Lookups that found nothing (limit 2)")
    all: str | None = Field(default=None, description="The final all term: -all, ~all, ?all, +all, or None")
    includes: list[str] = Field(
        default_factory=lambda: list[str](), description="Domains included or redirected to"
    )


class DmarcInfo(BaseModel):
    record: str | None = None
    p: str | None = None
    sp: str | None = None
    pct: int | None = None
    rua: list[str] = Field(default_factory=lambda: list[str]())
    ruf: list[str] = Field(default_factory=lambda: list[str]())
    adkim: str = Field(default="r", description="DKIM alignment: r relaxed, s strict")
    aspf: str = Field(default="r", description="SPF alignment: r relaxed, s strict")


class DkimInfo(BaseModel):
    selector: str
    present: bool
    key_type: str | None = None
    bits: int | None = None
    revoked: bool = False


class MtaStsInfo(BaseModel):
    record: str | None = None
    policy_url: str | None = None
    mode: str | None = None
    mx_patterns: list[str] = Field(default_factory=lambda: list[str]())
    max_age: int | None = None
    error: str | None = None


class EmailAuthResult(CheckResult):
    domain: str
    mx: MxInfo
    spf: SpfInfo
    dmarc: DmarcInfo
    dkim: list[DkimInfo]
    mta_sts: MtaStsInfo
    tls_rpt: str | None = Field(default=None, description="The _smtp._tls TXT record")
    bimi: str | None = Field(default=None, description="The default._bimi TXT record")


class DomainExpiryResult(CheckResult):
    domain: str
    rdap_url: str | None = Field(default=None, description="The RDAP URL the data came from")
    registrar: str | None = None
    created: str | None = None
    expires: str | None = None
    days_left: float | None = None
    status: list[str] = Field(
        default_factory=lambda: list[str](), description="EPP status codes, as RDAP gives them"
    )
    nameservers: list[str] = Field(default_factory=lambda: list[str]())
