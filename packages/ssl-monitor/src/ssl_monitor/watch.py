"""What ssl-monitor's watches need besides its check: the key figures of a `cert_check` result and
the `plan_certificate_renewal` prompt (`server.py` registers both). Every watched run is a `cert_check` with the stored arguments;
the report shows the trend of the days left."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import Field

__all__ = ["cert_figures", "plan_certificate_renewal"]


def cert_figures(result: Mapping[str, Any]) -> dict[str, Any]:
    """The key figures of a cert_check result: days left (leaf and chain) and handshake time."""
    leaf = cast("Mapping[str, Any]", result.get("leaf") or {})
    figures: dict[str, Any] = {"latency_ms": result.get("duration_ms")}
    if leaf.get("days_left") is not None:
        figures["days_left"] = leaf["days_left"]
    if result.get("days_left_chain_min") is not None:
        figures["days_left_chain_min"] = result["days_left_chain_min"]
    return figures


def plan_certificate_renewal(
    host: Annotated[
        str,
        Field(description="The host whose certificate to renew, e.g. example.com or mail.example.com:465"),
    ],
) -> str:
    """Plan the renewal of a host's TLS certificate: what is served now, what must change, how to verify."""
    return (
        f"Plan the renewal of the TLS certificate of {host}, using the ssl-monitor tools in this order:\n"
        f"1. cert_check host={host}: days left, issuer, names (SANs), key type and size, chain and trust, "
        "OCSP stapling; every finding is something the new certificate must fix or keep.\n"
        f"2. cert_compare_endpoints host={host} when it has several addresses or a load balancer: every "
        "backend must get the new certificate.\n"
        f"3. tls_scan host={host}: protocol versions and ciphers to keep or retire at the same time.\n"
        f"4. cert_revocation host={host} if the old certificate may be compromised.\n"
        f"5. cert_watch_report name={host} window=30d if it is watched: the days-left trend shows whether "
        "automatic renewal has been working.\n"
        "Then write the plan: the names and key the new certificate needs, the chain to serve, the "
        "deadline (days left minus a safety margin), the order of the backends, and how to verify "
        f"afterwards (cert_check again). Offer cert_watch action=add host={host} so an expiry is never "
        "missed again."
    )
