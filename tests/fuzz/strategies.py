"""Hypothesis strategies that build a tool's arguments from its input schema, valid and hostile.

`arguments_for(schema)` draws a dict for one `tools/call`: each property from its JSON schema type
(with sample values for the fields whose names say what they hold: url, host, domain, pem, ...),
mixed with hostile values (unicode, NUL and control characters, CR/LF, 100 KB strings, negative,
huge and non-finite numbers, values of the wrong type), and now and then a required argument
left out or an unknown one added.

Generated values stay on loopback: names end in `.test` (the fuzz suite's local DNS server
answers NXDOMAIN, or loopback, which the default policy refuses), addresses are internal ones
the policy must refuse. `reaches_public(value)` tells whether a drawn value (at any depth) could
name a public address in any spelling; the tests `assume()` it away, since such a value would
make a correct server dial out, and the isolation guard fails any test that tries.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import unicodedata
from typing import Any

from hypothesis import strategies as st
from support.certs import CertAuthority

__all__ = ["HOSTILE_STRINGS", "arguments_for", "reaches_public"]

_LEAF = CertAuthority("fuzz CA").issue_leaf(["loop.test"])

# Strings any text field may receive.
HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "x\r\nX-Injected: 1",
    "GET / HTTP/1.1\r\nHost: loop.test\r\n\r\n",
    "\t\x0b\x0c\x1b[31m\x7f",
    "".join(chr(c) for c in range(32)),
    "\u202eevil\u202c",  # right-to-left override
    "\ufeff\u200b\u200d",  # BOM, zero-width space and joiner
    "😀" * 10,
    "ǅ\u0301\u0308" * 5,
    "a" * 100_000,
    "é" * 50_000,
    "%00%0d%0a",
    "../../../../etc/passwd",
    "${jndi:ldap://loop.test/a}",
    "'; DROP TABLE watches; --",
    "{{7*7}}",
    "null",
    "[]",
    '{"a":',
    "-1",
    "1e309",
    "NaN",
    "0x7fffffff",
)

_HOSTS = (
    "loop.test",  # resolves to 127.0.0.1 and ::1 (refused by the default policy)
    "private.test",  # resolves to 10.0.0.1 (refused)
    "mail.test",
    "nx.test",  # NXDOMAIN
    "LOOP.TEST.",
    "localhost",
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "2130706433",
    "017700000001",
    "0.0.0.0",
    "10.0.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "::1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "64:ff9b::7f00:1",
    "fd00::1",
    "fe80::1%eth0",
    ".",
    "..",
    "a..test",
    "-a.test",
    "a-.test",
    "*.test",
    "_dmarc.mail.test",
    "a" * 64 + ".test",
    ("a" * 63 + ".") * 4 + "test",
    "bücher.test",
    "xn--bcher-kva.test",
    "xn--zz.test",
    "ｌｏｏｐ．ｔｅｓｔ",
    "loop.test:80",
    "loop.test:0",
    "loop.test:99999",
    "user@loop.test",
)

_URLS = (
    "http://loop.test/",
    "https://loop.test/health?x=1#frag",
    "http://nx.test:8080/a/b",
    "https://private.test/",
    "http://127.0.0.1:1/",
    "http://[::1]:80/",
    "http://[::ffff:127.0.0.1]/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://user:pass@loop.test/",
    "http://loop.test:0/",
    "http://loop.test:65536/",
    "http://loop.test:-1/",
    "http://bücher.test/",
    "http://loop.test/" + "a" * 100_000,
    "http://loop.test/\r\nX-Injected: 1",
    "http://loop.test/%0d%0aSet-Cookie:x=1",
    "http://",
    "https://",
    "http:///path",
    "http://[::1/",
    "ftp://loop.test/",
    "file:///etc/passwd",
    "gopher://loop.test:70/_",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "//loop.test/",
    "loop.test",
    "HTTP://LOOP.TEST/",
)

_SERVERS = (
    "127.0.0.1",
    "127.0.0.1:53",
    "[::1]:53",
    "10.0.0.1:5353",
    "tls://127.0.0.1",
    "tls://loop.test:853",
    "https://loop.test/dns-query",  # a DoH host name, resolved through the configured resolver
    "https://127.0.0.1/dns-query",
    "https://[::1]:8443/dns-query",
    "udp://127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "loop.test",
)

_PEMS = (
    _LEAF.cert_pem,
    _LEAF.chain_pem,
    _LEAF.cert_pem[:200],
    _LEAF.cert_pem.replace("A", "B", 3),
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\n" + "QUFB" * 25_000 + "\n-----END CERTIFICATE-----\n",
    "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "not base64 at all !!!",
)

_REGEXES = ("(a+)+$", "[", "(?P<x", "a{1000000}", ".*", "\\", "(?i)ok", "^$")
_STATUSES = ("200", "2xx", "200-399", "2xx,301,404", "399-200", "abc", "1-2-3", "2xx,", "-1", "99999", "0xx")
_RECORD_TYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CAA", "ANY", "AXFR", "OPT", "TYPE65535", "NONE", "a")
_CIDRS = ("127.0.0.1", "10.0.0.0/8", "::1/128", "::1/129", "10.0.0.0/33", "bad/cidr", "mail.test.")
_METHODS = ("GET", "HEAD", "POST", "DELETE", "CONNECT", "TRACE", "G\r\nET", "get", "")

# Field name -> sample values of what it holds; other strings draw only from the generic pool.
_FIELD_SAMPLES: dict[str, tuple[str, ...]] = {
    "url": _URLS,
    "urls": _URLS,
    "host": _HOSTS,
    "sni": _HOSTS,
    "domain": _HOSTS,
    "target": _HOSTS,
    "targets": _HOSTS,
    "name": _HOSTS + _URLS[:4],
    "connect_ip": _HOSTS,
    "connect_ips": _HOSTS,
    "server": _SERVERS,
    "resolvers": _SERVERS,
    "pem": _PEMS,
    "ca_bundle_pem": _PEMS,
    "body_regex": _REGEXES,
    "expect_regex": _REGEXES,
    "expect_status": _STATUSES,
    "record_type": _RECORD_TYPES,
    "record_types": _RECORD_TYPES,
    "expect": _CIDRS,
    "expected": _CIDRS,
    "method": _METHODS,
    "dkim_selectors": ("s1", "default", "", "a" * 300, "../x", "s1._domainkey"),
}

_NUMBERS = (0, -1, -0.0, 0.001, 1, 5, 30, 2**31, -(2**31), 2**63, 2**64 + 1, 10**30, -(10**30), 1e308)
_NON_FINITE = (float("nan"), float("inf"), float("-inf"))

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _text(field: str) -> st.SearchStrategy[str]:
    samples = _FIELD_SAMPLES.get(field, ())
    generic = st.sampled_from(HOSTILE_STRINGS) | st.text(max_size=40)
    if not samples:
        return generic
    known = st.sampled_from(samples)
    return st.one_of(known, known, known, generic)


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None and schema.get("exclusiveMinimum") is not None:
        low = schema["exclusiveMinimum"] + (1 if integer else 1e-6)
    if integer:
        valid: st.SearchStrategy[Any] = st.integers(min_value=low, max_value=high)
    else:
        valid = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    hostile: st.SearchStrategy[Any] = st.sampled_from(_NUMBERS) | st.integers()
    if not integer:
        hostile = hostile | st.sampled_from(_NON_FINITE) | st.floats()
    return st.one_of(valid, valid, hostile)


def _typed(field: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the schema's own type (within its bounds or not)."""
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), st.sampled_from(schema["enum"]), _text(field))
    if "anyOf" in schema:
        return st.one_of([_typed(field, option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        return _text(field)
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = _typed(field, schema.get("items", {}))
        return st.one_of(st.lists(items, max_size=6), st.lists(items, min_size=1, max_size=60))
    if kind == "object":
        values = schema.get("additionalProperties")
        value = _typed(field, values) if isinstance(values, dict) else _JSON
        keys = st.sampled_from(("X-Test", "Host", "Content-Length", "", "a b", "x\r\ny", "é")) | st.text(
            max_size=12
        )
        return st.dictionaries(keys, value, max_size=5)
    return _JSON


def arguments_for(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A tool's arguments: every required property and some optional ones, of their types (within
    their bounds or not); sometimes one of them of another type, a required one left out, or an
    argument the schema does not declare."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    optional = {name: _typed(name, spec) for name, spec in properties.items() if name not in required}
    full = st.fixed_dictionaries(
        {name: _typed(name, properties[name]) for name in required}, optional=optional
    )
    names = sorted(properties) or ["unexpected"]

    def replaced(arguments: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        return {**arguments, name: value}

    def dropped(arguments: dict[str, Any], name: str) -> dict[str, Any]:
        return {k: v for k, v in arguments.items() if k != name}

    wrong_type = st.builds(replaced, full, st.sampled_from(names), _JSON)
    missing = st.builds(dropped, full, st.sampled_from(required or names))
    unknown = st.sampled_from(("unexpected", "__proto__", "timeout", "")) | st.text(max_size=10)
    extra = st.builds(replaced, full, unknown, _JSON)
    return st.one_of(full, full, full, full, full, wrong_type, missing, extra)


# --- keeping generated values on loopback ------------------------------------------------------------

# What the default network policy must refuse; anything else could be a real host on the internet.
_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)  # fmt: skip
_SPLIT = re.compile(r"[\s/\\@\[\],;=?#|'\"<>(){}%]+")


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    packed = int(ip)
    if packed >> 32 in (0, 0x64FF9B << 64) or ip in ipaddress.ip_network("64:ff9b:1::/48"):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded(ip)) is not None:
        return _public(inner)
    return not any(ip.version == net.version and ip in net for net in _INTERNAL)


def _addresses(token: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    candidates = {token, token.rstrip("."), token.partition("%")[0]}
    if token.count(":") == 1:
        candidates.add(token.rsplit(":", 1)[0])
    for candidate in candidates:
        try:
            found.append(ipaddress.ip_address(candidate))
            continue
        except ValueError:
            pass
        with contextlib.suppress(OSError, ValueError, UnicodeError):  # 127.1, 0x7f000001, 2130706433
            found.append(ipaddress.IPv4Address(socket.inet_aton(candidate)))
    return found


def _string_reaches_public(text: str) -> bool:
    if "\x00" in text:
        text = text.replace("\x00", " ")
    normalized = unicodedata.normalize("NFKC", text)
    for variant in {text, normalized, normalized.replace("。", ".").replace("｡", ".")}:
        for token in _SPLIT.split(variant):
            if token and any(_public(ip) for ip in _addresses(token)):
                return True
    return False


def reaches_public(value: Any) -> bool:
    """Whether `value` holds, at any depth, a string that could spell a public IP address."""
    if isinstance(value, str):
        return _string_reaches_public(value)
    if isinstance(value, dict):
        return any(reaches_public(k) or reaches_public(v) for k, v in value.items())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return any(reaches_public(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return False
