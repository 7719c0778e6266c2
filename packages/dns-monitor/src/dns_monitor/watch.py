"""What dns-monitor's watches need besides its check: the key figures of a `dns_lookup` result and the
`review_dns_health` prompt (`server.py` registers both). Every watched run is a `dns_lookup` with the stored arguments (use
`expect` so that a changed answer fails); its `name` is the watch tool's `domain`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import Field

__all__ = ["dns_figures", "review_dns_health"]


def dns_figures(result: Mapping[str, Any]) -> dict[str, Any]:
    """The key figures of a dns_lookup result: the slowest lookup and the number of answers."""
    lookups = cast("list[Mapping[str, Any]]", result.get("lookups") or [])
    latencies = [float(x["latency_ms"]) for x in lookups if x.get("latency_ms") is not None]
    return {
        "latency_ms": max(latencies) if latencies else result.get("duration_ms"),
        "answers": len(cast("list[Any]", result.get("answers") or [])),
    }


def review_dns_health(
    domain: Annotated[str, Field(description="The domain to review, e.g. example.com")],
) -> str:
    """Review a domain's DNS end to end: delegation, DNSSEC, records, mail authentication, expiry."""
    return (
        f"Review the DNS health of {domain}, using the dns-monitor tools in this order:\n"
        f"1. dns_delegation domain={domain}: are the nameservers consistent from the parent down (lame "
        "servers, serial mismatch, missing glue, no TCP)?\n"
        f"2. dnssec_check domain={domain}: is the chain of trust intact (and are signatures close to "
        "expiring)?\n"
        f"3. dns_lookup name={domain} record_types=['A','AAAA','MX','NS','TXT','CAA']: what it resolves "
        "to; dns_propagation for any record that was changed recently.\n"
        f"4. email_auth_check domain={domain} when it sends or receives mail: MX, SPF, DMARC, DKIM, MTA-STS.\n"
        f"5. domain_expiry domain={domain}: when the registration expires.\n"
        f"6. dns_watch_report name={domain} window=7d if it is watched: failures and changed answers over time.\n"
        "Then list the problems worst first with their finding codes and the fix for each, and offer "
        f"dns_watch action=add domain={domain} expect=[...] for the records that matter, so a change or "
        "an outage is noticed."
    )
