"""A Prometheus blackbox_exporter `http` module as one `http_check` call.

The caller passes a module as JSON: its `http:` options (`{"valid_status_codes": [200], ...}`),
or the whole module (`{"prober": "http", "timeout": "5s", "http": {...}}`). `translate` checks
it (an unknown key or a wrong type is an `InputError` naming the key and what to pass instead)
and splits it into what maps onto http_check's own parameters and the rules http_check did not
have, which `assertions.Expectations` judges:

    valid_status_codes               expect_status (a module without it expects 2xx, as blackbox does)
    method, headers                  method, headers
    follow_redirects / no_follow_redirects      follow_redirects
    preferred_ip_protocol, ip_protocol_fallback ip_version ("auto" while fallback is on)
    tls_config.insecure_skip_verify  verify_tls = not it
    timeout (of the whole module)    timeout_s (`module_timeout`)
    fail_if_ssl / fail_if_not_ssl    the final response must not / must come over TLS
    fail_if_header_matches / _not_matches      header rules (allow_missing as blackbox reads it)
    valid_http_versions              the final response's version ("HTTP/2.0" is HTTP/2)
    fail_if_body_matches_regexp / _not_matches_regexp    body patterns

Blackbox's regexps are Go's RE2, searched unanchored; ours are RE2 too (`monitor_common.patterns`),
searched the same way, so a module's patterns mean what they meant there. Options http_check has
no counterpart for (a request body, credentials options, a proxy, client certificates) are
refused with what to do instead, never ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from monitor_common.errors import InputError
from monitor_common.patterns import Pattern, compile_pattern

__all__ = ["HeaderRule", "Module", "module_timeout", "translate"]

_VERSION = re.compile(r"HTTP/(\d)(?:\.(\d))?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

_INSTEAD = {
    "body": "http_check sends no request body: check a URL that answers a GET or HEAD",
    "basic_auth": 'pass the credentials as a header: headers={"Authorization": "Basic ..."}',
    "bearer_token": 'pass the token as a header: headers={"Authorization": "Bearer ..."}',
    "bearer_token_file": 'pass the token as a header: headers={"Authorization": "Bearer ..."}',
    "oauth2": 'fetch a token first and pass it as a header: headers={"Authorization": "Bearer ..."}',
    "proxy_url": "the monitor connects directly, so that the network policy sees every address it dials",
    "proxy_connect_header": "the monitor connects directly, without a proxy",
    "skip_resolve_phase_with_proxy": "the monitor connects directly, without a proxy",
    "body_size_limit": "bodies are read up to the server's cap (MCP_MONITOR_HTTP_MAX_BODY_BYTES)",
    "compression": "bodies are decoded as the server encoded them (gzip, br, deflate)",
    "ca_file": "pass the CA certificates themselves (PEM) as ca_bundle_pem",
    "cert_file": "client certificates are not supported",
    "key_file": "client certificates are not supported",
    "server_name": "use connect_ip to dial another address with the URL's host name",
}
_HTTP_KEYS = frozenset(
    {
        "valid_status_codes",
        "valid_http_versions",
        "method",
        "headers",
        "follow_redirects",
        "no_follow_redirects",
        "fail_if_ssl",
        "fail_if_not_ssl",
        "fail_if_body_matches_regexp",
        "fail_if_body_not_matches_regexp",
        "fail_if_header_matches",
        "fail_if_header_not_matches",
        "tls_config",
        "preferred_ip_protocol",
        "ip_protocol_fallback",
        "enable_http2",
    }
)


@dataclass(frozen=True)
class HeaderRule:
    """A blackbox header match: `forbid` (fail_if_header_matches) fails when any value of the
    header matches; otherwise (fail_if_header_not_matches) when none does. A missing header fails
    either way unless `allow_missing`."""

    header: str
    pattern: Pattern
    allow_missing: bool
    forbid: bool

    @property
    def key(self) -> str:
        return "fail_if_header_matches" if self.forbid else "fail_if_header_not_matches"


@dataclass(frozen=True)
class Module:
    """A translated module: http_check parameters it sets, and the rules it adds."""

    params: dict[str, Any] = field(default_factory=lambda: dict[str, Any]())
    body_forbidden: tuple[Pattern, ...] = ()
    body_required: tuple[Pattern, ...] = ()
    header_rules: tuple[HeaderRule, ...] = ()
    http_versions: frozenset[str] | None = None
    tls: bool | None = None
    """True: the final response must come over TLS (fail_if_not_ssl); False: must not (fail_if_ssl)."""

    def merge(self, given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        """`given` (http_check's arguments) with the module's parameters in; InputError when the
        caller set one to something else than the module says (one of the two must go)."""
        merged = dict(given)
        for name, value in self.params.items():
            if given[name] != defaults[name] and given[name] != value:
                raise InputError(
                    f"{name}={given[name]!r} disagrees with the blackbox module ({value!r}): give one of them"
                )
            merged[name] = value
        return merged


def _http_options(options: dict[str, Any]) -> dict[str, Any]:
    """The `http:` options of a module given whole, or the options given as they are."""
    if "prober" in options or "http" in options:
        prober = options.get("prober", "http")
        if prober != "http":
            raise InputError(
                f"blackbox.prober is {prober!r}: http_check runs http modules only (use tcp_check for tcp)"
            )
        extra = set(options) - {"prober", "timeout", "http"}
        if extra:
            raise InputError(
                f"blackbox has {', '.join(sorted(extra))} beside prober, timeout and http: "
                "pass one module, or only its http options"
            )
        inner: object = options.get("http") or {}
        if not isinstance(inner, dict):
            raise InputError("blackbox.http must be an object of http prober options")
        return dict(inner)  # pyright: ignore[reportUnknownArgumentType]
    return options


def module_timeout(options: dict[str, Any] | None) -> float | None:
    """The `timeout` of a module given whole ("5s", "500ms"), in seconds; None without one."""
    if not options or "timeout" not in options:
        return None
    text = options["timeout"]
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(f'blackbox.timeout must be a duration such as "5s" or "500ms", not {text!r}')
    return float(match[1]) * _UNIT_S[match[2]]


def _flag(options: dict[str, Any], key: str) -> bool | None:
    value = options.get(key)
    if value is not None and not isinstance(value, bool):
        raise InputError(f"blackbox.{key} must be true or false, not {value!r}")
    return value


def _strings(options: dict[str, Any], key: str) -> list[str]:
    value: object = options.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):  # pyright: ignore[reportUnknownVariableType]
        raise InputError(f'blackbox.{key} must be a list of strings, e.g. ["ok"], not {value!r}')
    return list(value)  # pyright: ignore[reportUnknownArgumentType]


def _header_rules(options: dict[str, Any], key: str) -> list[HeaderRule]:
    specs: object = options.get(key) or []
    if not isinstance(specs, list):
        raise InputError(f'blackbox.{key} must be a list of {{"header": ..., "regexp": ...}}, not {specs!r}')
    rules: list[HeaderRule] = []
    for index, spec in enumerate(specs):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        where = f"blackbox.{key}[{index}]"
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("header"), str)  # pyright: ignore[reportUnknownMemberType]
            or not isinstance(spec.get("regexp"), str)  # pyright: ignore[reportUnknownMemberType]
            or set(spec) - {"header", "regexp", "allow_missing"}  # pyright: ignore[reportUnknownArgumentType]
            or not isinstance(spec.get("allow_missing", False), bool)  # pyright: ignore[reportUnknownMemberType]
        ):
            raise InputError(
                f'{where} must be {{"header": "Name", "regexp": "...", "allow_missing": false}}, not {spec!r}'
            )
        rules.append(
            HeaderRule(
                header=str(spec["header"]),  # pyright: ignore[reportUnknownArgumentType]
                pattern=compile_pattern(str(spec["regexp"]), f"{where}.regexp"),  # pyright: ignore[reportUnknownArgumentType]
                allow_missing=bool(spec.get("allow_missing", False)),  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
                forbid=key == "fail_if_header_matches",
            )
        )
    return rules


def _ip_version(options: dict[str, Any]) -> str | None:
    preferred = options.get("preferred_ip_protocol")
    fallback = _flag(options, "ip_protocol_fallback")
    if preferred is None and fallback is None:
        return None
    if preferred not in (None, "ip4", "ip6"):
        raise InputError(f'blackbox.preferred_ip_protocol must be "ip4" or "ip6", not {preferred!r}')
    if fallback is None or fallback:
        return "auto"  # either family, as blackbox falls back to the other
    return "4" if preferred == "ip4" else "6"  # blackbox prefers ip6 by default


def translate(options: dict[str, Any]) -> Module:
    """The module `options` describe (see the module docstring); InputError for what it cannot be."""
    http = _http_options(options)
    for key in http:
        if key in _INSTEAD:
            raise InputError(f"blackbox.{key} is not supported: {_INSTEAD[key]}")
        if key not in _HTTP_KEYS:
            raise InputError(
                f"blackbox.{key} is not a blackbox http option this check knows; it knows "
                f"{', '.join(sorted(_HTTP_KEYS))}"
            )
    params: dict[str, Any] = {}
    codes: object = http.get("valid_status_codes")
    if codes is not None:
        listed: list[object] = list(codes) if isinstance(codes, list) else []  # pyright: ignore[reportUnknownArgumentType]
        if not listed or not all(type(c) is int for c in listed):
            raise InputError(
                f"blackbox.valid_status_codes must be a list of status codes, e.g. [200, 301], not {codes!r}"
            )
        params["expect_status"] = ",".join(str(c) for c in listed)
    else:
        params["expect_status"] = "2xx"  # blackbox's default
    if "method" in http:
        if not isinstance(http["method"], str):
            raise InputError(f'blackbox.method must be a string such as "GET", not {http["method"]!r}')
        params["method"] = http["method"]
    if "headers" in http:
        headers = http["headers"]
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in headers.items()  # pyright: ignore[reportUnknownVariableType]
        ):
            raise InputError(
                f'blackbox.headers must map names to strings, e.g. {{"Accept": "*/*"}}, not {headers!r}'
            )
        params["headers"] = dict(headers)  # pyright: ignore[reportUnknownArgumentType]
    follow, no_follow = _flag(http, "follow_redirects"), _flag(http, "no_follow_redirects")
    if follow is not None and no_follow is not None and follow == no_follow:
        raise InputError("blackbox.follow_redirects and blackbox.no_follow_redirects disagree: give one")
    if follow is not None or no_follow is not None:
        params["follow_redirects"] = follow if follow is not None else not no_follow
    ip_version = _ip_version(http)
    if ip_version is not None:
        params["ip_version"] = ip_version
    if _flag(http, "enable_http2") is False:
        raise InputError(
            "blackbox.enable_http2=false is not supported: http_check offers HTTP/2 and HTTP/1.1 as a "
            'browser does; use valid_http_versions=["HTTP/1.1"] to require one'
        )
    tls_config = http.get("tls_config")
    if tls_config is not None:
        if not isinstance(tls_config, dict):
            raise InputError('blackbox.tls_config must be an object, e.g. {"insecure_skip_verify": true}')
        for key in tls_config:  # pyright: ignore[reportUnknownVariableType]
            if key != "insecure_skip_verify":
                advice = _INSTEAD.get(str(key), "only insecure_skip_verify is supported")  # pyright: ignore[reportUnknownArgumentType]
                raise InputError(f"blackbox.tls_config.{key} is not supported: {advice}")
        skip = _flag(tls_config, "insecure_skip_verify")  # pyright: ignore[reportUnknownArgumentType]
        if skip is not None:
            params["verify_tls"] = not skip
    fail_if_ssl, fail_if_not_ssl = _flag(http, "fail_if_ssl"), _flag(http, "fail_if_not_ssl")
    if fail_if_ssl and fail_if_not_ssl:
        raise InputError(
            "blackbox.fail_if_ssl and blackbox.fail_if_not_ssl are both true: no response passes both"
        )
    versions = _strings(http, "valid_http_versions")
    normalized: set[str] = set()
    for version in versions:
        match = _VERSION.fullmatch(version.strip().upper())
        if match is None:
            raise InputError(
                f'blackbox.valid_http_versions: {version!r} is not a version such as "HTTP/1.1" or "HTTP/2.0"'
            )
        normalized.add(_version_name(match[1], match[2]))
    return Module(
        params=params,
        body_forbidden=tuple(
            compile_pattern(p, f"blackbox.fail_if_body_matches_regexp[{i}]")
            for i, p in enumerate(_strings(http, "fail_if_body_matches_regexp"))
        ),
        body_required=tuple(
            compile_pattern(p, f"blackbox.fail_if_body_not_matches_regexp[{i}]")
            for i, p in enumerate(_strings(http, "fail_if_body_not_matches_regexp"))
        ),
        header_rules=tuple(
            _header_rules(http, "fail_if_header_matches") + _header_rules(http, "fail_if_header_not_matches")
        ),
        http_versions=frozenset(normalized) if normalized else None,
        tls=True if fail_if_not_ssl else False if fail_if_ssl else None,
    )


def _version_name(major: str, minor: str | None) -> str:
    # httpx2 names HTTP/2 "HTTP/2" where Go says "HTTP/2.0"; 1.x keeps its minor version.
    if major in ("2", "3") and minor in (None, "0"):
        return f"HTTP/{major}"
    return f"HTTP/{major}.{minor or '0'}"


def version_name(version: str) -> str:
    """A response's version as `translate` names versions ("HTTP/2" for "HTTP/2.0")."""
    match = _VERSION.fullmatch(version.strip().upper())
    return _version_name(match[1], match[2]) if match else version
