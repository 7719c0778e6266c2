"""Which cookies a `tough-cookie` jar keeps, as the Observatory's scanner collects them.

Written by hand to agree with the scanner's jar, not with a browser: it parses strictly (a cookie
needs a name; a SameSite other than strict, lax or none is unset), refuses a Domain that the host
does not match or that is a public suffix, and drops `__Secure-` / `__Host-` cookies that break
their prefix's rules; the last cookie of a name, domain and path wins. The registrable domain is
the one tldts computes, from the ICANN part of the Public Suffix List (`publicsuffixlist`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

__all__ = ["Cookie", "is_ip", "jar", "samesite_invalid", "site_domain"]


@dataclass
class Cookie:
    name: str
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None


def _parse_cookie(raw: str) -> Cookie | None:
    """tough-cookie's strict parse: a name is required, SameSite other than strict/lax/none is unset."""
    pair, _, rest = raw.strip().partition(";")
    name, eq, _value = pair.partition("=")
    if not eq or not name.strip() or re.search(r"[\x00-\x1f]", pair):
        return None
    cookie = Cookie(name.strip())
    for attribute in rest.split(";"):
        key, _, value = attribute.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "domain" and value.lstrip("."):
            cookie.domain = value.lstrip(".").lower()
        elif key == "path":
            cookie.path = value if value.startswith("/") else None
        elif key == "secure":
            cookie.secure = True
        elif key == "httponly":
            cookie.http_only = True
        elif key == "samesite":
            cookie.same_site = value.lower() if value.lower() in ("strict", "lax", "none") else None
    return cookie


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def _suffixes() -> PublicSuffixList:
    """The ICANN part of the Public Suffix List, as tldts and tough-cookie use it (read once)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True)


def jar(cookies: list[tuple[str, str]]) -> list[Cookie]:
    """The cookies a tough-cookie jar keeps: the domain must match, the prefixes' rules hold."""
    suffixes = _suffixes()
    kept: dict[tuple[str, str, str], Cookie] = {}
    for url, raw in cookies:
        cookie = _parse_cookie(raw)
        if cookie is None:
            continue
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if cookie.domain is not None:
            if not is_ip(cookie.domain) and suffixes.is_public(cookie.domain):
                continue
            matches = host == cookie.domain or (host.endswith("." + cookie.domain) and not is_ip(host))
            if not matches:
                continue
        host_only = cookie.domain is None
        if cookie.name.startswith("__Secure-") and not cookie.secure:
            continue
        if cookie.name.startswith("__Host-") and not (cookie.secure and host_only and cookie.path == "/"):
            continue
        path = cookie.path or (parts.path.rsplit("/", 1)[0] or "/")
        kept[(cookie.domain or host, path, cookie.name)] = cookie
    return [cookie for cookie in kept.values() if cookie.name != "heroku-session-affinity"]


def samesite_invalid(raw: str) -> bool:
    for part in raw.strip().split(";"):
        pieces = part.strip().split("=")
        if pieces[0].strip().lower() == "samesite":
            value = pieces[1] if len(pieces) > 1 else ""
            if value.strip().lower() not in ("lax", "strict", "none"):
                return True
    return False


def site_domain(host: str) -> str | None:
    """The registrable domain as tldts computes it (ICANN suffixes only; none for an IP)."""
    host = host.lower().rstrip(".")
    if not host or is_ip(host):
        return None
    return _suffixes().privatesuffix(host)
