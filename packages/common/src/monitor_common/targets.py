"""Parsing and validation of the targets callers name: URLs, host names, addresses and host:port.

Every parser raises `TargetError` whose message quotes what was given, names the part that is
wrong and shows a valid example, so a person or model can correct the call in one go.

Host text is read the way a browser's URL parser (the WHATWG URL standard) reads it, because that
is also how the resolver and the HTTP client will read it: a host whose last label is a number is
an IPv4 address, so `2130706433`, `0x7f.1` and `0177.0.0.1` all mean 127.0.0.1. Reading them
differently from the code that dials would let a caller slip an address past the network policy.
Parsed hosts are returned normalized (lower-case ASCII, punycode, dotted-quad IPv4, compressed
IPv6 without brackets), so later stages never see the legacy spellings.

Surrounding whitespace is ignored everywhere; whitespace inside a target is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv6Address
from typing import TypeAlias

import idna

from monitor_common.errors import TargetError

__all__ = [
    "DEFAULT_PORTS",
    "Host",
    "HostPort",
    "IPAddress",
    "Url",
    "parse_host",
    "parse_host_port",
    "parse_hostname",
    "parse_ip",
    "parse_port",
    "parse_url",
    "redact_url",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}

_MAX_NAME = 253  # octets of a name without its trailing dot (RFC 1035 255 minus length and root octets)
_MAX_LABEL = 63
# RFC 9110 asks for at least 8000 octets; in UTF-8 bytes, so that even fully percent-encoded the URL
# stays under the HTTP client's own limit (64 KiB), which would otherwise fail mid-check.
_MAX_URL_BYTES = 8192
_ASCII_LABEL = re.compile(r"[a-z0-9_-]+")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]*")
_OCTAL = re.compile(r"[0-7]*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Where a URL may start in free text, and the characters it runs over: anything but whitespace and
# the quotes or brackets that enclose a URL in a message, JSON or markup.
_URL_START = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_END = re.compile(r"[\s\"<>`]")
_PORT = re.compile(r"[0-9]{0,5}")

_HOST_EXAMPLE = "e.g. example.com"
_IPV4_EXAMPLE = "e.g. 192.0.2.1"
_IPV6_EXAMPLE = "e.g. 2001:db8::1 or [2001:db8::1]"
_URL_EXAMPLE = "e.g. https://example.com/"


# --- IP addresses -------------------------------------------------------------------------------


def parse_ip(text: str) -> IPAddress | None:
    """The IP address `text` spells, None when it is a host name, TargetError when it is neither.

    Accepts IPv6 with or without brackets (zone ids such as `%eth0` are refused: they name an
    interface of this machine, which a caller has no business choosing) and every IPv4 spelling a
    URL parser or `inet_aton` accepts: one to four dot-separated parts in decimal, octal (leading
    0) or hex (0x), e.g. `127.1`, `0x7f.1`, `2130706433`, `017700000001`. As in the WHATWG URL
    standard, text whose last label is a number is an IPv4 address or invalid, never a host name:
    `256.1.1.1`, `1.2.3.4.5` and `example.123` raise.
    """
    s = text.strip()
    if not s.isascii():
        # Full-width digits and dots map to ASCII under UTS 46, which the URL parser applies first.
        try:
            s = idna.uts46_remap(s, std3_rules=False, transitional=False)
        except idna.IDNAError:
            return None
    if s.startswith("[") or s.endswith("]"):
        if not (s.startswith("[") and s.endswith("]")):
            raise TargetError(f"IPv6 address {text!r} has unbalanced brackets: {_IPV6_EXAMPLE}")
        return _parse_ipv6(s[1:-1], text)
    if ":" in s:
        return _parse_ipv6(s, text)
    return _parse_ipv4(s, text)


def _parse_ipv6(s: str, text: str) -> IPv6Address:
    if "%" in s:
        zone = s[s.index("%") :]
        raise TargetError(
            f"IPv6 address {text!r} has a zone id ({zone!r}); zone ids are not accepted: {_IPV6_EXAMPLE}"
        )
    try:
        return IPv6Address(s)
    except AddressValueError as exc:
        raise TargetError(f"{text!r} is not a valid IPv6 address ({exc}): {_IPV6_EXAMPLE}") from None


def _ends_in_number(parts: list[str]) -> bool:
    last = parts[-1]
    if _DIGITS.fullmatch(last):
        return True
    return last[:2].lower() == "0x" and _HEX.fullmatch(last[2:]) is not None


def _ipv4_number(part: str) -> int | None:
    if part[:2].lower() == "0x":
        digits, base, pattern = part[2:], 16, _HEX
    elif len(part) > 1 and part.startswith("0"):
        digits, base, pattern = part[1:], 8, _OCTAL
    else:
        digits, base, pattern = part, 10, _DIGITS
    if not part or not pattern.fullmatch(digits):
        return None
    # Longer than any valid part; also keeps int() clear of its huge-number guard.
    if len(digits) > 32:
        return 1 << 32
    return int(digits, base) if digits else 0


def _parse_ipv4(s: str, text: str) -> IPv4Address | None:
    parts = s.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot is allowed, as in a fully qualified name
    if not parts or not _ends_in_number(parts):
        return None
    prefix = f"{text!r} ends in a number, so it is read as an IPv4 address, but"
    if len(parts) > 4:
        raise TargetError(f"{prefix} it has {len(parts)} parts (at most 4 are allowed): {_IPV4_EXAMPLE}")
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            what = (
                "an empty part"
                if part == ""
                else f"part {part!r}, which is not a decimal, octal (leading 0) or hex (0x) number"
            )
            raise TargetError(f"{prefix} it has {what}: {_IPV4_EXAMPLE}")
        numbers.append(number)
    for part, number in zip(parts[:-1], numbers[:-1], strict=True):
        if number > 255:
            raise TargetError(f"{prefix} part {part!r} is out of range (0 to 255): {_IPV4_EXAMPLE}")
    limit = 256 ** (5 - len(numbers))
    if numbers[-1] >= limit:
        raise TargetError(
            f"{prefix} its last part {parts[-1]!r} is out of range (0 to {limit - 1} in that position): "
            f"{_IPV4_EXAMPLE}"
        )
    value = numbers[-1]
    for i, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - i))
    return IPv4Address(value)


# --- host names ---------------------------------------------------------------------------------


def _remap(text: str) -> str:
    """UTS 46 mapping (lower case, full-width dots and letters to ASCII), as browsers apply it."""
    try:
        return idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise TargetError(
            f"host name {text!r} contains a character that is not allowed ({exc}): {_HOST_EXAMPLE}"
        ) from None


def _reject_bad_characters(text: str, what: str, example: str, shown: str | None = None) -> None:
    shown = text if shown is None else shown
    for ch in text:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise TargetError(f"{what} {shown!r} contains the control character {ch!r}: {example}")
        if ch.isspace():
            raise TargetError(
                f"{what} {shown!r} contains whitespace: remove it or percent-encode it, {example}"
            )


def parse_hostname(text: str) -> str:
    """The host name `text` in normalized ASCII form (IDNA 2008 with UTS 46 mapping, lower case).

    Labels are 1 to 63 octets and the whole name at most 253, counted on the ASCII (punycode)
    form; one trailing dot is accepted and removed. ASCII labels may hold letters, digits, hyphens
    (not first or last) and underscores: underscores are not valid in host names proper, but DNS
    tools must be able to name records such as `_dmarc.example.com` and `_443._tcp.example.com`.
    Non-ASCII labels must be valid IDNA 2008 and become `xn--` labels. IP addresses are refused.
    """
    s = text.strip()
    if not s:
        raise TargetError(f"host name is empty: give one, {_HOST_EXAMPLE}")
    _reject_bad_characters(s, "host name", _HOST_EXAMPLE)
    mapped = _remap(s)
    try:
        ip = parse_ip(mapped)
    except TargetError:
        # Text with ':' or '[' is no IPv6 address, but the label check below explains it better.
        if ":" not in mapped and "[" not in mapped:
            raise
        ip = None
    if ip is not None:
        raise TargetError(f"{text!r} is an IP address, not a host name: {_HOST_EXAMPLE}")
    if mapped.endswith("."):
        mapped = mapped[:-1]
    if not mapped:
        raise TargetError(f"host name {text!r} has no labels: {_HOST_EXAMPLE}")
    labels = [_label(label, text) for label in mapped.split(".")]
    name = ".".join(labels)
    if len(name) > _MAX_NAME:
        raise TargetError(
            f"host name {text!r} is {len(name)} characters long in ASCII form; at most {_MAX_NAME} are "
            f"allowed: {_HOST_EXAMPLE}"
        )
    return name


def _label(label: str, text: str) -> str:
    if not label:
        raise TargetError(
            f"host name {text!r} has an empty label (two dots in a row or a leading dot): {_HOST_EXAMPLE}"
        )
    if label.isascii():
        if not _ASCII_LABEL.fullmatch(label):
            bad = next(ch for ch in label if not _ASCII_LABEL.fullmatch(ch))
            raise TargetError(
                f"host name {text!r} contains {bad!r}, which is not allowed: use letters, digits, hyphens "
                f"and dots, {_HOST_EXAMPLE}"
            )
        if label.startswith("-") or label.endswith("-"):
            where = "starts" if label.startswith("-") else "ends"
            raise TargetError(f"label {label!r} in host name {text!r} {where} with a hyphen: {_HOST_EXAMPLE}")
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except idna.IDNAError as exc:
                raise TargetError(
                    f"label {label!r} in host name {text!r} is not a valid punycode (IDNA) label ({exc}): "
                    "e.g. xn--bcher-kva.example"
                ) from None
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except idna.IDNAError as exc:
            raise TargetError(
                f"label {label!r} in host name {text!r} is not a valid internationalized (IDNA 2008) label "
                f"({exc}): e.g. bücher.example"
            ) from None
    if len(ascii_label) > _MAX_LABEL:
        raise TargetError(
            f"label {ascii_label[:20]!r}... in host name {text!r} is {len(ascii_label)} characters long; "
            f"each label may have at most {_MAX_LABEL}: {_HOST_EXAMPLE}"
        )
    return ascii_label


# --- hosts, ports, host:port --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Host:
    """A host name or IP address; `name` is normalized, `ip` is set for an address."""

    name: str
    ip: IPAddress | None = None

    @property
    def bracketed(self) -> str:
        """The name as it appears in a URL or host:port: IPv6 addresses in brackets."""
        return f"[{self.name}]" if isinstance(self.ip, IPv6Address) else self.name

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host and a port, e.g. from `example.com:443` or `[2001:db8::1]:853`."""

    host: Host
    port: int

    @property
    def name(self) -> str:
        return self.host.name

    def __str__(self) -> str:
        return f"{self.host.bracketed}:{self.port}"


def parse_host(text: str) -> Host:
    """A host name or IP address (IPv4 in any spelling `parse_ip` accepts, IPv6 with or without
    brackets), normalized."""
    s = text.strip()
    if not s:
        raise TargetError(f"host is empty: give a name or an address, {_HOST_EXAMPLE} or 192.0.2.1")
    if s.count(":") == 1 and not s.startswith("["):
        raise TargetError(f"host {text!r} includes a port: give only the host, {_HOST_EXAMPLE}")
    ip = parse_ip(s)
    if ip is not None:
        return Host(ip.compressed, ip)
    return Host(parse_hostname(s))


def parse_port(value: int | str) -> int:
    """A TCP/UDP port number, 1 to 65535, from an int or a string of digits."""
    return _port(value, None, "443")


def _port(value: int | str, context: str | None, example: str) -> int:
    where = f" in {context!r}" if context is not None else ""
    if isinstance(value, bool):
        raise TargetError(f"port {value!r}{where} is not a number: use 1 to 65535, e.g. {example}")
    if isinstance(value, int):
        number = value
    else:
        digits = value.strip()
        if not digits:
            raise TargetError(f"port{where} is empty: use 1 to 65535, e.g. {example}")
        if not _DIGITS.fullmatch(digits):
            raise TargetError(f"port {digits!r}{where} is not a number: use 1 to 65535, e.g. {example}")
        number = int(digits) if len(digits) <= 10 else 1 << 32
        value = digits
    if not 1 <= number <= 65535:
        raise TargetError(f"port {value}{where} is out of range: use 1 to 65535, e.g. {example}")
    return number


def parse_host_port(text: str, default_port: int | None = None) -> HostPort:
    """`host`, `host:port`, `[ipv6]:port` or `[ipv6]`; a bare IPv6 address such as `::1` or
    `2001:db8::1:443` is a host without port (write `[2001:db8::1]:443` for a port).

    `default_port` applies when no port is written; without one a missing port is an error.
    """
    s = text.strip()
    if not s:
        raise TargetError("host:port is empty: give one, e.g. example.com:443")
    _reject_bad_characters(s, "host:port", "e.g. example.com:443")
    if "://" in s or "/" in s:
        raise TargetError(f"{text!r} looks like a URL; give only host:port, e.g. example.com:443")
    host_text, port_text = _split_host_port(s, text, url=False)
    host = parse_host(host_text)
    example_port = str(default_port or 443)
    example = f"{host.bracketed}:{example_port}"
    if port_text is None:
        if default_port is None:
            raise TargetError(f"port is missing in {text!r}: add one, e.g. {example}")
        return HostPort(host, _port(default_port, text, example))
    return HostPort(host, _port(port_text, text, example))


def _split_host_port(s: str, text: str, *, url: bool) -> tuple[str, str | None]:
    """Split host from port without interpreting either; `None` means no port was written."""
    if s.startswith("["):
        example = "e.g. https://[2001:db8::1]:8443/" if url else "e.g. [2001:db8::1]:443"
        end = s.find("]")
        if end == -1:
            raise TargetError(f"IPv6 address in {text!r} has no closing ']': {example}")
        rest = s[end + 1 :]
        if not rest:
            return s[: end + 1], None
        if not rest.startswith(":"):
            raise TargetError(f"unexpected {rest!r} after ']' in {text!r}: {example}")
        return s[: end + 1], rest[1:]
    if s.count(":") >= 2:
        if url:
            raise TargetError(
                f"an IPv6 address in a URL must be in brackets, in {text!r}: e.g. https://[2001:db8::1]/"
            )
        return s, None
    if ":" in s:
        host, _, port = s.partition(":")
        return host, port
    return s, None


# --- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Url:
    """An http or https URL, parsed and normalized.

    `str()` and `geturl()` give the real URL, credentials included, so it can be requested: never
    log or echo them. `redacted` and `repr()` replace the credentials with `***`.
    """

    scheme: str
    host: str
    port: int
    path_and_query: str = "/"
    username: str | None = None
    password: str | None = None
    ip: IPAddress | None = None

    @property
    def has_credentials(self) -> bool:
        return self.username is not None

    @property
    def netloc(self) -> str:
        """host[:port] without credentials; the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if isinstance(self.ip, IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def host_port(self) -> HostPort:
        return HostPort(Host(self.host, self.ip), self.port)

    def _build(self, userinfo: str | None) -> str:
        prefix = f"{userinfo}@" if userinfo is not None else ""
        return f"{self.scheme}://{prefix}{self.netloc}{self.path_and_query}"

    def geturl(self) -> str:
        """The URL to request, credentials included (as they were written, percent-encoded)."""
        if self.username is None:
            return self._build(None)
        if self.password is None:
            return self._build(self.username)
        return self._build(f"{self.username}:{self.password}")

    @property
    def redacted(self) -> str:
        """The URL with any username and password replaced by `***`: safe to log or echo."""
        if self.username is None:
            return self._build(None)
        return self._build("***" if self.password is None else "***:***")

    def __str__(self) -> str:
        return self.geturl()

    def __repr__(self) -> str:
        return f"Url({self.redacted!r})"


def parse_url(text: str) -> Url:
    """An absolute http or https URL with a host; the fragment is dropped, path and query kept.

    The host is normalized like `parse_host` (so `http://2130706433/` has host 127.0.0.1), the
    port defaults to the scheme's, an empty path becomes `/`. Backslashes and `%` in the host are
    refused rather than interpreted, since parsers disagree about them.
    """
    s = text.strip()
    if not s:
        raise TargetError(f"URL is empty: give one, {_URL_EXAMPLE}")
    if (size := len(s.encode("utf-8", "surrogatepass"))) > _MAX_URL_BYTES:
        raise TargetError(
            f"URL {redact_url(s)[:60]!r}... is {size} bytes long: at most {_MAX_URL_BYTES} are accepted, {_URL_EXAMPLE}"
        )
    shown = redact_url(s)  # messages quote the URL, so they must not leak its password
    _reject_bad_characters(s, "URL", _URL_EXAMPLE, shown)
    match = _SCHEME.match(s)
    scheme = match.group(1).lower() if match else ""
    after = s[match.end() :] if match else s
    if not match or (not after.startswith("//") and scheme not in DEFAULT_PORTS):
        example = f"https:{s}" if s.startswith("//") else f"https://{s}"
        if "@" in s:
            example = _URL_EXAMPLE.removeprefix("e.g. ")
        raise TargetError(f"URL {shown!r} has no scheme: write http:// or https:// first, e.g. {example}")
    if not after.startswith("//"):
        raise TargetError(f"URL {shown!r} is missing '//' after '{scheme}:': e.g. {scheme}://example.com/")
    if scheme not in DEFAULT_PORTS:
        raise TargetError(
            f"scheme {scheme!r} in {shown!r} is not supported: use http or https, {_URL_EXAMPLE}"
        )
    rest = after[2:]
    at = _userinfo_end(rest)
    if at is not None and any(delimiter in rest[:at] for delimiter in "/?#"):
        raise TargetError(
            f"URL {shown!r} has '/', '?' or '#' in its user name or password: percent-encode them "
            "(%2F, %3F, %23), e.g. a password p/ss written as p%2Fss"
        )
    end = len(rest)
    for delimiter in "/?#":
        index = rest.find(delimiter)
        if index != -1:
            end = min(end, index)
    authority, tail = rest[:end], rest[end:]
    if "\\" in authority:
        raise TargetError(f"URL {shown!r} has a backslash in its host part: use '/', {_URL_EXAMPLE}")

    username: str | None = None
    password: str | None = None
    hostport = authority
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        username, password = user, (secret if colon else None)
    if not hostport:
        raise TargetError(f"URL {shown!r} has no host: {_URL_EXAMPLE}")
    if "%" in hostport:
        raise TargetError(f"URL {shown!r} has a percent-encoded host: write it plainly, {_URL_EXAMPLE}")

    host_text, port_text = _split_host_port(hostport, shown, url=True)
    if not host_text:
        raise TargetError(f"URL {shown!r} has no host: {_URL_EXAMPLE}")
    host = parse_host(host_text)
    if port_text is None:
        port = DEFAULT_PORTS[scheme]
    else:
        port = _port(port_text, shown, f"{scheme}://{host.bracketed}:8443/")

    tail = tail.partition("#")[0]
    path_and_query = tail if tail.startswith("/") else "/" + tail
    return Url(scheme, host.name, port, path_and_query, username, password, host.ip)


def _userinfo_end(rest: str) -> int | None:
    """Where the userinfo of the URL text after `scheme://` ends (the index of its `@`), or None.

    A parser ends the authority at the first `/`, `?` or `#` and the userinfo at the last `@`
    before that. A password written with those characters unencoded (`user:p/a#s?s@host/`) then
    leaves the authority as `user:p`, whose "port" is no number: no parser can read it, and the
    caller meant the userinfo to run to the last `@` of the URL, and so does this function. An
    authority that reads as a host and port (`example.com:8443/@user`, `u:p@host/@user`) keeps
    the `@`s after it in the path, as the HTTP client reads them.
    """
    authority_end = len(rest)
    for delimiter in "/?#":
        index = rest.find(delimiter)
        if index != -1:
            authority_end = min(authority_end, index)
    authority = rest[:authority_end]
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):  # an IPv6 address: its colons are no port
        hostport = hostport.partition("]")[2]
    _, colon, port = hostport.rpartition(":")
    if colon and not _PORT.fullmatch(port) and (last := rest.rfind("@")) > authority_end:
        return last
    at = authority.rfind("@")
    return at if at != -1 else None


def redact_url(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by `***` (or `***:***` when it has a
    password). Never raises; text without URLs comes back unchanged.

    The userinfo ends at the last `@` of the URL's authority, or further, at the last `@` of the
    URL, when a password holds an unencoded `/`, `?` or `#` (see `_userinfo_end`): a URL's
    password is hidden however it was written, also in the messages that refuse such a URL.
    """
    out: list[str] = []
    position = 0
    while (start := _URL_START.search(text, position)) is not None:
        end_match = _URL_END.search(text, start.end())
        end = end_match.start() if end_match is not None else len(text)
        rest = text[start.end() : end]
        at = _userinfo_end(rest)
        out.append(text[position : start.end()])
        if at is None:
            out.append(rest)
        else:
            out.append(("***:***" if ":" in rest[:at] else "***") + rest[at:])
        position = end
    out.append(text[position:])
    return "".join(out)
