"""Root hints and DNSSEC trust anchors: the shipped copies of the real root's, or the
operator's files (`MCP_MONITOR_DNS_ROOT_HINTS`, `MCP_MONITOR_DNS_TRUST_ANCHORS`) for a private
DNS tree or a test hierarchy.

Both files are zone-file lines (`owner [ttl] [class] type rdata`, `;` comments):
root hints give the root's NS names and their A/AAAA records, trust anchors are DS records.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from monitor_common.errors import ConfigError

__all__ = ["RootHints", "TrustAnchor", "load_root_hints", "load_trust_anchors"]

_TYPES = {"NS", "A", "AAAA", "DS"}


@dataclass(frozen=True)
class RootHints:
    """The root's nameservers as (name, address) pairs."""

    servers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TrustAnchor:
    """One DS record for a zone (usually the root)."""

    zone: str
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str

    def text(self) -> str:
        return f"{self.key_tag} {self.algorithm} {self.digest_type} {self.digest}"


def _read(path: Path | None, shipped: str, setting: str) -> list[tuple[str, str, str]]:
    try:
        text = (
            resources.files("dns_monitor").joinpath("data", shipped).read_text()
            if path is None
            else path.read_text()
        )
    except OSError as exc:
        raise ConfigError(f"MCP_MONITOR_{setting}={path}: cannot read it ({exc.strerror})") from None
    records: list[tuple[str, str, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        kinds = [i for i, token in enumerate(tokens) if token.upper() in _TYPES]
        if not kinds or kinds[0] == 0 or kinds[0] == len(tokens) - 1:
            raise ConfigError(
                f"MCP_MONITOR_{setting}: line {number} of {path or shipped} is not a record: {raw!r}"
            )
        i = kinds[0]
        records.append((tokens[0].lower(), tokens[i].upper(), " ".join(tokens[i + 1 :])))
    return records


def load_root_hints(path: Path | None = None) -> RootHints:
    """The root servers from `path`, or the shipped IANA root hints."""
    records = _read(path, "root.hints", "DNS_ROOT_HINTS")
    names = [rdata.lower() for owner, rtype, rdata in records if rtype == "NS" and owner == "."]
    servers = tuple(
        (owner, rdata)
        for name in names
        for owner, rtype, rdata in records
        if owner == name and rtype in ("A", "AAAA")
    )
    if not servers:
        raise ConfigError(f"MCP_MONITOR_DNS_ROOT_HINTS={path}: no root NS with an address in it")
    return RootHints(servers)


def load_trust_anchors(path: Path | None = None) -> list[TrustAnchor]:
    """The DS trust anchors from `path`, or the shipped IANA root anchors."""
    anchors: list[TrustAnchor] = []
    for owner, rtype, rdata in _read(path, "root.ds", "DNS_TRUST_ANCHORS"):
        if rtype != "DS":
            continue
        parts = rdata.split()
        try:
            anchors.append(
                TrustAnchor(owner, int(parts[0]), int(parts[1]), int(parts[2]), "".join(parts[3:]).upper())
            )
        except (ValueError, IndexError):
            raise ConfigError(f"MCP_MONITOR_DNS_TRUST_ANCHORS: malformed DS {rdata!r}") from None
    if not anchors:
        raise ConfigError(f"MCP_MONITOR_DNS_TRUST_ANCHORS={path}: no DS record in it")
    return anchors
