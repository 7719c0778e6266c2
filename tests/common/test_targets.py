"""Parsing of URLs, host names, addresses and host:port: what is accepted, how it is normalized,
and that every refusal names the bad part and shows a valid example."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from monitor_common.errors import InputError, TargetError
from monitor_common.targets import (
    Host,
    HostPort,
    Url,
    parse_host,
    parse_host_port,
    parse_hostname,
    parse_ip,
    parse_port,
    parse_url,
    redact_url,
)

# --- parse_ip -----------------------------------------------------------------------------------

IP_SPELLINGS = [
    ("127.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0177.0.0.01", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),  # one trailing dot, as in a fully qualified name
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),  # an empty hex number is 0 in the WHATWG parser
    ("4294967295", "255.255.255.255"),
    ("10.0.0.1", "10.0.0.1"),
    ("169.254.169.254", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("２５５．２５５．２５５．２５５", "255.255.255.255"),  # full-width, mapped by UTS 46 first
    ("::1", "::1"),
    ("[::1]", "::1"),
    ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ("64:ff9b::7f00:1", "64:ff9b::7f00:1"),
    ("2001:DB8::1", "2001:db8::1"),
    (" 192.0.2.1 ", "192.0.2.1"),
]


@pytest.mark.parametrize(("text", "expected"), IP_SPELLINGS)
def test_parse_ip_reads_every_spelling(text: str, expected: str) -> None:
    assert parse_ip(text) == ip_address(expected)


@pytest.mark.parametrize(
    "text",
    [
        "example.com",
        "localhost",
        "0x7f.example",
        "127.0.0.1.example",
        "a1",
        "xn--bcher-kva.example",
        "_dmarc.x",
    ],
)
def test_parse_ip_returns_none_for_host_names(text: str) -> None:
    assert parse_ip(text) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("256.1.1.1", "'256'"),
        ("1.2.3.4.5", "5 parts"),
        ("1.2.3.256", "'256'"),
        ("1.16777216", "'16777216'"),
        ("4294967296", "'4294967296'"),
        ("0x100000000", "'0x100000000'"),
        ("08.0.0.1", "'08'"),  # leading 0 means octal, and 8 is no octal digit
        ("1..2", "empty part"),
        ("example.123", "'example'"),
        ("0x7g.1", "'0x7g'"),
        ("9" * 5000, "out of range"),
        ("fe80::1%eth0", "zone id"),
        ("[fe80::1%25eth0]", "zone id"),
        ("[::g]", "'[::g]'"),
        ("1:2:3", "'1:2:3'"),
        ("[::1", "brackets"),
    ],
)
def test_parse_ip_rejects_numbers_that_are_no_address(text: str, named: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_ip(text)
    assert named in str(caught.value)
    assert "e.g." in str(caught.value)


# --- parse_hostname -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.Com", "example.com"),
        ("example.com.", "example.com"),
        ("localhost", "localhost"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Bücher.EXAMPLE", "xn--bcher-kva.example"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, not the transitional ss mapping
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("bücher。example", "xn--bcher-kva.example"),  # ideographic full stop is a dot
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("_443._tcp.example.com", "_443._tcp.example.com"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("0x7f.example", "0x7f.example"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
        (".".join(["a" * 63] * 3 + ["b" * 61]), ".".join(["a" * 63] * 3 + ["b" * 61])),  # 253
        ("  example.com\t", "example.com"),
    ],
)
def test_parse_hostname_normalizes(text: str, expected: str) -> None:
    assert parse_hostname(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty"),
        (".", "no labels"),
        ("exa mple.com", "whitespace"),
        ("example..com", "empty label"),
        (".example.com", "empty label"),
        ("-example.com", "'-example' in host name '-example.com' starts with a hyphen"),
        ("example-.com", "ends with a hyphen"),
        ("ex!ample.com", "'!'"),
        ("example.com:443", "':'"),
        ("http://example.com", "':'"),
        ("*.example.com", "'*'"),
        ("a" * 64 + ".example", "64 characters"),
        (".".join(["a" * 63] * 4), "255 characters"),
        ("xn--zz.example", "'xn--zz'"),
        ("a\u200db.example", "U+200D"),  # a zero-width joiner is only valid after a virama
        ("127.0.0.1", "is an IP address"),
        ("2130706433", "is an IP address"),
        ("::1", "is an IP address"),
        ("example.123", "ends in a number"),
        ("exa\x00mple.com", "control character"),
    ],
)
def test_parse_hostname_rejects_with_the_bad_part_named(text: str, named: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_hostname(text)
    assert named in str(caught.value)
    assert "e.g." in str(caught.value)


# --- parse_host ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", Host("example.com")),
        ("Bücher.example.", Host("xn--bcher-kva.example")),
        ("127.1", Host("127.0.0.1", IPv4Address("127.0.0.1"))),
        ("2130706433", Host("127.0.0.1", IPv4Address("127.0.0.1"))),
        ("::1", Host("::1", IPv6Address("::1"))),
        ("[::1]", Host("::1", IPv6Address("::1"))),
        ("[2001:DB8:0::1]", Host("2001:db8::1", IPv6Address("2001:db8::1"))),
    ],
)
def test_parse_host(text: str, expected: Host) -> None:
    assert parse_host(text) == expected


def test_host_bracketed_form() -> None:
    assert parse_host("::1").bracketed == "[::1]"
    assert parse_host("127.0.0.1").bracketed == "127.0.0.1"
    assert str(parse_host("EXAMPLE.com")) == "example.com"


@pytest.mark.parametrize(
    ("text", "named"),
    [("", "empty"), ("example.com:443", "includes a port"), ("256.0.0.1", "'256'"), ("a b", "whitespace")],
)
def test_parse_host_rejects(text: str, named: str) -> None:
    with pytest.raises(TargetError, match=named):
        parse_host(text)


# --- parse_port and parse_host_port -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), (443, 443), (65535, 65535), ("8080", 8080), (" 53 ", 53)]
)
def test_parse_port(value: int | str, expected: int) -> None:
    assert parse_port(value) == expected


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (0, "port 0 is out of range: use 1 to 65535"),
        (65536, "port 65536 is out of range"),
        (-1, "port -1 is out of range"),
        ("70000", "port 70000 is out of range"),
        ("9" * 5000, "is out of range"),
        ("http", "port 'http' is not a number"),
        ("", "port is empty"),
        ("1e3", "'1e3' is not a number"),
        (True, "True is not a number"),
    ],
)
def test_parse_port_rejects(value: int | str, named: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_port(value)
    assert named in str(caught.value)
    assert "e.g. 443" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("example.com:443", None, "example.com:443"),
        ("example.com", 443, "example.com:443"),
        ("EXAMPLE.com.:8443", None, "example.com:8443"),
        ("127.0.0.1:53", None, "127.0.0.1:53"),
        ("2130706433:80", None, "127.0.0.1:80"),
        ("[::1]:853", None, "[::1]:853"),
        ("[::1]", 53, "[::1]:53"),
        ("::1", 53, "[::1]:53"),  # a bare IPv6 address has no port
        ("2001:db8::1:443", 53, "[2001:db8::1:443]:53"),
        ("bücher.example:443", None, "xn--bcher-kva.example:443"),
    ],
)
def test_parse_host_port(text: str, default: int | None, expected: str) -> None:
    assert str(parse_host_port(text, default)) == expected


def test_host_port_fields() -> None:
    parsed = parse_host_port("[::1]:853")
    assert parsed == HostPort(Host("::1", IPv6Address("::1")), 853)
    assert parsed.name == "::1"


@pytest.mark.parametrize(
    ("text", "default", "message"),
    [
        ("example.com:70000", None,
         "port 70000 in 'example.com:70000' is out of range: use 1 to 65535, e.g. example.com:443"),
        ("example.com", None, "port is missing in 'example.com': add one, e.g. example.com:443"),
        ("::1", None, "port is missing in '::1': add one, e.g. [::1]:443"),
        ("example.com:https", None,
         "port 'https' in 'example.com:https' is not a number: use 1 to 65535, e.g. example.com:443"),
        ("example.com:", 443, "port in 'example.com:' is empty"),
        ("[::1]x", None, "unexpected 'x' after ']'"),
        ("[::1:53", None, "no closing ']'"),
        ("https://example.com", None, "looks like a URL"),
        ("exa mple.com:1", None, "whitespace"),
        ("", None, "empty"),
        ("ex_ample.com:0", None, "port 0 in 'ex_ample.com:0' is out of range"),
    ],
)  # fmt: skip
def test_parse_host_port_rejects(text: str, default: int | None, message: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_host_port(text, default)
    assert message in str(caught.value)


# --- parse_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "path", "url"),
    [
        ("https://example.com", "https", "example.com", 443, "/", "https://example.com/"),
        ("HTTP://Example.COM:80/a/b?c=d#frag", "http", "example.com", 80, "/a/b?c=d", "http://example.com/a/b?c=d"),
        ("https://example.com:8443/x", "https", "example.com", 8443, "/x", "https://example.com:8443/x"),
        ("https://example.com?q=1", "https", "example.com", 443, "/?q=1", "https://example.com/?q=1"),
        ("https://bücher.example/", "https", "xn--bcher-kva.example", 443, "/", "https://xn--bcher-kva.example/"),
        ("http://2130706433/", "http", "127.0.0.1", 80, "/", "http://127.0.0.1/"),
        ("http://0x7f.1:8080/", "http", "127.0.0.1", 8080, "/", "http://127.0.0.1:8080/"),
        ("http://[::1]:8080/p", "http", "::1", 8080, "/p", "http://[::1]:8080/p"),
        ("http://[::ffff:127.0.0.1]/", "http", "::ffff:7f00:1", 80, "/", "http://[::ffff:7f00:1]/"),
        ("https://example.com./", "https", "example.com", 443, "/", "https://example.com/"),
        ("https://example.com/%7Euser?a=%20", "https", "example.com", 443, "/%7Euser?a=%20", "https://example.com/%7Euser?a=%20"),
        ("  https://example.com/  ", "https", "example.com", 443, "/", "https://example.com/"),
    ],
)  # fmt: skip
def test_parse_url(text: str, scheme: str, host: str, port: int, path: str, url: str) -> None:
    parsed = parse_url(text)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path_and_query) == (scheme, host, port, path)
    assert parsed.geturl() == url
    assert str(parsed) == url
    assert parsed.username is None
    assert parsed.password is None


def test_parse_url_sets_ip_for_literals_only() -> None:
    assert parse_url("http://127.1/").ip == IPv4Address("127.0.0.1")
    assert parse_url("http://[::1]/").ip == IPv6Address("::1")
    assert parse_url("http://example.com/").ip is None
    assert str(parse_url("http://[::1]:8080/").host_port) == "[::1]:8080"


def test_url_credentials_are_kept_for_the_request_and_hidden_everywhere_else() -> None:
    url = parse_url("https://alice:s3cret@example.com/path?x=1")
    assert (url.username, url.password) == ("alice", "s3cret")
    assert url.has_credentials
    assert url.geturl() == "https://alice:s3cret@example.com/path?x=1"
    assert str(url) == url.geturl()
    assert url.redacted == "https://***:***@example.com/path?x=1"
    assert "s3cret" not in repr(url)
    assert "alice" not in repr(url)
    assert repr(url) == "Url('https://***:***@example.com/path?x=1')"


def test_url_username_only() -> None:
    url = parse_url("https://token@example.com/")
    assert (url.username, url.password) == ("token", None)
    assert url.redacted == "https://***@example.com/"
    assert url.geturl() == "https://token@example.com/"


def test_url_password_may_contain_at_signs() -> None:
    url = parse_url("http://u:p@ss@example.com/")  # the last @ ends the userinfo, as in browsers
    assert (url.host, url.password) == ("example.com", "p@ss")


def test_url_is_frozen() -> None:
    url = parse_url("https://example.com/")
    assert isinstance(url, Url)
    with pytest.raises(AttributeError):
        url.host = "evil.example"  # pyright: ignore[reportAttributeAccessIssue]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://example.com/", "scheme 'ftp' in 'ftp://example.com/' is not supported: use http or https"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:70/", "scheme 'gopher'"),
        ("example.com/path", "has no scheme: write http:// or https:// first, e.g. https://example.com/path"),
        ("localhost:8080", "has no scheme"),
        ("//example.com/", "e.g. https://example.com/"),
        ("http:example.com", "missing '//' after 'http:'"),
        ("https:/example.com", "missing '//'"),
        ("http:///path", "has no host"),
        ("http://:8080/", "has no host"),
        (
            "http://example.com:70000/",
            "port 70000 in 'http://example.com:70000/' is out of range: use 1 to 65535",
        ),
        ("http://example.com:0/", "port 0 in"),
        ("http://example.com:abc/", "port 'abc' in"),
        ("http://example.com:/", "port in 'http://example.com:/' is empty"),
        ("http://::1/", "must be in brackets"),
        ("http://[::1/", "no closing ']'"),
        ("http://[fe80::1%25eth0]/", "percent-encoded host"),
        ("http://127.0.0.%31/", "percent-encoded host"),
        ("http://256.0.0.1/", "'256'"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/a b", "whitespace"),
        ("http://example.com/\r\nX-Injected: 1", "control character"),
        ("http://evil.example\\@127.0.0.1/", "backslash"),
        ("http://-bad.example/", "starts with a hyphen"),
        ("", "URL is empty"),
    ],
)
def test_parse_url_rejects_with_the_bad_part_named(text: str, message: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_url(text)
    assert message in str(caught.value)
    assert "e.g." in str(caught.value)


def test_url_errors_never_echo_the_password() -> None:
    for text in (
        "http://u:s3cret@exa mple.com/",
        "ftp://u:s3cret@example.com/",
        "http://u:s3cret@example.com:99999/",
    ):
        with pytest.raises(TargetError) as caught:
            parse_url(text)
        assert "s3cret" not in str(caught.value)


def test_target_errors_are_input_errors() -> None:
    with pytest.raises(InputError):
        parse_url("ftp://example.com/")


# --- redact_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://u:p@example.com/x", "https://***:***@example.com/x"),
        ("https://token@example.com/", "https://***@example.com/"),
        ("https://example.com/a@b", "https://example.com/a@b"),  # an @ in the path is no userinfo
        ("https://example.com/?mail=a@b", "https://example.com/?mail=a@b"),
        ("calling postgresql://app:pw@db:5432/x now", "calling postgresql://***:***@db:5432/x now"),
        ("a http://u:p@h/ and https://v:q@i/", "a http://***:***@h/ and https://***:***@i/"),
        ("http://u:p@ss@h/", "http://***:***@h/"),
        # A password with an unencoded '/', '#' or '?' ends the authority early, at "u:p", whose
        # "port" is no number: the userinfo runs to the last '@' instead.
        ("https://user:p/a#s?s@host/path", "https://***:***@host/path"),
        ("https://u:p#s@h/x", "https://***:***@h/x"),
        ("https://u:p?s@h/x?y=1", "https://***:***@h/x?y=1"),
        ("https://u:p/a@b@h/", "https://***:***@h/"),
        ("'https://u:p/s@h/' and 'https://v:q/r@i/'", "'https://***:***@h/' and 'https://***:***@i/'"),
        ('{"url":"https://u:p/s@h/","mail":"a@b"}', '{"url":"https://***:***@h/","mail":"a@b"}'),
        # An authority that reads as host:port keeps the '@'s after it in the path.
        ("https://u:p@h/@user", "https://***:***@h/@user"),
        ("https://example.com:8443/@user", "https://example.com:8443/@user"),
        ("https://[2001:db8::1]:8443/@user", "https://[2001:db8::1]:8443/@user"),
        ("https://mastodon.example/@user", "https://mastodon.example/@user"),
        ("no url here, mail me at a@b.example", "no url here, mail me at a@b.example"),
        ("", ""),
        ("http://[::1", "http://[::1"),
        ("://@", "://@"),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


@pytest.mark.parametrize(
    "text",
    ["https://user:p/a#s?s@example.com/path", "https://u:p#s@example.com/", "https://u:p?s@example.com/"],
)
def test_a_password_with_delimiters_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(TargetError, match="percent-encode") as caught:
        parse_url(text)
    assert "s@" not in str(caught.value) and "***:***@example.com" in str(caught.value)
