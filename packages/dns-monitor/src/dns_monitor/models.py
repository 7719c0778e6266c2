"""Result models of dns-monitor's tools. Light on imports: the server declares them at start-up."""

from __future__ import annotations

from monitor_common.results import CheckResult
from pydantic import BaseModel, Field

__all__ = ["DnsAnswer", "DnsLookupResult"]


class DnsAnswer(BaseModel):
    """One record of the answer section."""

    name: str
    type: str
    ttl: int
    value: str


class DnsLookupResult(CheckResult):
    """What `dns_lookup` got back."""

    name: str = Field(description="The name asked for, absolute")
    record_type: str
    server: str = Field(description="The DNS server asked, IP:port")
    transport: str | None = Field(default=None, description="udp or tcp (tcp after a truncated UDP answer)")
    rcode: str | None = Field(default=None, description="Response code, e.g. NOERROR, NXDOMAIN, SERVFAIL")
    answers: list[DnsAnswer] = Field(default_factory=lambda: list[DnsAnswer]())
    latency_ms: float | None = Field(default=None, description="Time to the answer, all transports together")
