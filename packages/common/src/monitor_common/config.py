"""The server's settings: one frozen object built from CLI flags and `MCP_MONITOR_*` variables.

Every setting is declared once in `_SPECS`, which gives its environment variable, its command-line
flag, its parser and its help text; `Settings.load()` reads flags first, then the environment,
then the default. A malformed value, or an `MCP_MONITOR_*` variable that names no setting (a typo
that would otherwise be ignored silently), fails at start-up with a `ConfigError` naming the
variable or flag, so an operator never runs with a setting they did not mean.

The settings in force are kept process-wide (`get_settings()` / `set_settings()`) and read by
`serve` and the tool layer only: what the checks need is built from them once, as a
`context.CheckContext`, and passed down.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from monitor_common.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "effective_settings", "get_settings", "set_settings", "setting_specs"]

ENV_PREFIX = "MCP_MONITOR_"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Transport = Literal["stdio", "http"]
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set. Build with `Settings.load()`; tests may construct directly."""

    timeout_s: float = 10.0
    max_timeout_s: float = 60.0
    concurrency: int = 20
    per_host_concurrency: int = 4
    max_targets: int = 1000
    allow_private: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    resolver: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    audit_log: Path | None = None
    audit_send_payload: bool = False
    log_level: LogLevel = "warning"
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    tls_cert: Path | None = None
    tls_key: Path | None = None
    http_allowed_hosts: tuple[str, ...] = ()
    http_allowed_origins: tuple[str, ...] = ()
    http_stateless: bool = False
    http_behind_gateway: bool = False
    http_max_body_bytes: int = 1024 * 1024
    http_unsafe_methods: bool = False
    status_public: bool = False
    metrics_token: str | None = field(default=None, repr=False)
    dns_root_hints: Path | None = None
    dns_trust_anchors: Path | None = None
    dns_resolvers: tuple[str, ...] = ()
    dns_asn_zone: str = "asn.cymru.com"
    rdap_url: tuple[str, ...] = ()
    db: str | None = field(default=None, repr=False)
    record: bool = False
    retention_days: int = 30
    rollup_retention_days: int = 400
    watch_min_interval_s: float = 10.0
    watch_concurrency: int = 50
    watches_file: Path | None = None
    rate_limit_per_host: float = 10.0
    cert_warn_days: int = 21
    cert_critical_days: int = 7
    notify: tuple[str, ...] = field(default=(), repr=False)
    notify_targets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    status_url: str | None = None

    @classmethod
    def load(
        cls, flags: Mapping[str, str | None] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from `flags` (attribute name to raw text), then `environ`, then the defaults.

        Raises:
            ConfigError: a value does not parse, a variable with the prefix names no setting, or
                the combination is inconsistent (a TLS certificate without its key, ...).
        """
        flags = flags or {}
        environ = os.environ if environ is None else environ
        known = {spec.env for spec in _SPECS}
        unknown = sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
        if unknown:
            raise ConfigError(
                f"unknown setting {', '.join(unknown)}: the {ENV_PREFIX}* variables this server reads are "
                f"{', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for spec in _SPECS:
            raw = flags.get(spec.attr)
            source = spec.flag
            if raw is None:
                raw = environ.get(spec.env)
                source = spec.env
            # An empty variable counts as unset: host configurations and bundles often pass every
            # optional field through, empty when the user left it blank.
            if raw is None or not raw.strip():
                continue
            try:
                values[spec.attr] = spec.parse(raw.strip())
            except ValueError as exc:
                shown = "(hidden)" if spec.secret else repr(raw)
                raise ConfigError(
                    f"{source}={shown} is not valid: {exc}. Example: {source}={spec.example}"
                ) from None
        port = environ.get("PORT", "").strip()
        if "port" not in values and port:
            # The platform convention (Smithery, Cloud Run, Heroku): the port to listen on is
            # PORT when the operator did not name one with --port or MCP_MONITOR_PORT.
            try:
                values["port"] = _port(port)
            except ValueError as exc:
                raise ConfigError(f"PORT={port!r} is not valid: {exc}. Example: PORT=8081") from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks that no single parser can make."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                f"{ENV_PREFIX}TLS_CERT and {ENV_PREFIX}TLS_KEY (--tls-cert/--tls-key) must be given together"
            )
        if self.cert_critical_days > self.cert_warn_days:
            raise ConfigError(
                f"{ENV_PREFIX}CERT_CRITICAL_DAYS={self.cert_critical_days} is above "
                f"{ENV_PREFIX}CERT_WARN_DAYS={self.cert_warn_days}"
            )
        if self.max_timeout_s < self.timeout_s:
            raise ConfigError(
                f"{ENV_PREFIX}TIMEOUT_S={self.timeout_s} is above {ENV_PREFIX}MAX_TIMEOUT_S={self.max_timeout_s}"
            )

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated."""
        settings = replace(self, **changes)
        settings.validate()
        return settings


# --- parsers: each raises ValueError with a reason the ConfigError message will quote -------------


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive, finite number")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of requests per second") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected 0 (no limit) or a positive, finite number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 1:
        raise ValueError("expected 1 or more")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise ValueError("a port is 1 to 65535")
    return value


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _networks(text: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for item in _csv(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network in CIDR form") from None
    return tuple(networks)


def _hosts(text: str) -> tuple[str, ...]:
    from monitor_common.targets import parse_hostname

    hosts: list[str] = []
    for item in _csv(text):
        # ".corp.example" allows every name under corp.example.
        suffix = item.startswith(".")
        hosts.append(("." if suffix else "") + parse_hostname(item.removeprefix(".")))
    return tuple(hosts)


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text.lower()

    return parse


def _text(text: str) -> str:
    if not text:
        raise ValueError("expected a non-empty value")
    return text


def _path(text: str) -> Path:
    return Path(_text(text)).expanduser()


def _resolver(text: str) -> str:
    from monitor_common.targets import parse_host_port

    parsed = parse_host_port(text, default_port=53)
    if parsed.host.ip is None:
        raise ValueError("the resolver must be an IP address, optionally with :port")
    return text


def _lookup_zone(text: str) -> str:
    """A DNS zone name, or "" for "off" (an empty variable counts as unset, so it keeps the default)."""
    name = text.strip().strip(".").lower()
    if name in {"off", "none"}:
        return ""
    if name and not all(
        re.fullmatch(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", label) for label in name.split(".")
    ):
        raise ValueError("expected a DNS zone name such as asn.cymru.com, or off")
    return name


def _rdap_urls(text: str) -> tuple[str, ...]:
    entries = _csv(text)
    for entry in entries:
        url = entry.partition("=")[2] if "=" in entry and not entry.lower().startswith("http") else entry
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError(f"{entry!r} is not a URL, tld=URL or bootstrap=URL")
    return entries


def _notify_urls(text: str) -> tuple[str, ...]:
    from monitor_common.notify.targets import check_operator_url

    return tuple(check_operator_url(item) for item in _csv(text))


def _notify_targets(text: str) -> tuple[tuple[str, str], ...]:
    from monitor_common.notify.targets import check_operator_url, check_target_name

    targets: dict[str, str] = {}
    for item in _csv(text):
        name, sep, url = item.partition("=")
        if not sep:
            raise ValueError("each entry is name=apprise-url")
        name = check_target_name(name.strip())
        if name in targets:
            raise ValueError(f"the target name {name!r} is given twice")
        targets[name] = check_operator_url(url.strip())
    return tuple(targets.items())


def _base_url(text: str) -> str:
    if not text.lower().startswith(("https://", "http://")):
        raise ValueError("expected an http:// or https:// URL")
    return text.rstrip("/")


def _resolvers(text: str) -> tuple[str, ...]:
    return tuple(_resolver(item) for item in _csv(text))


@dataclass(frozen=True)
class _Spec:
    attr: str
    parse: Callable[[str], Any]
    example: str
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.attr.upper()

    @property
    def flag(self) -> str:
        return "--" + self.attr.replace("_", "-")


_SPECS: tuple[_Spec, ...] = (
    _Spec("timeout_s", _positive_float, "10", "default timeout of one check, in seconds"),
    _Spec("max_timeout_s", _positive_float, "60", "largest timeout_s a caller may ask for"),
    _Spec("concurrency", _positive_int, "20", "checks run at once by the *_many tools"),
    _Spec("per_host_concurrency", _positive_int, "4", "checks run at once against one host"),
    _Spec("max_targets", _positive_int, "1000", "most targets one call may name"),
    _Spec("allow_private", _bool, "true", "allow internal addresses (loopback, private, link-local, ...)"),
    _Spec("allow_networks", _networks, "10.0.0.0/8,fd00::/8", "internal networks to allow, comma-separated"),
    _Spec(
        "allow_hosts", _hosts, "intranet.example,.corp.example", "host names allowed whatever they resolve to"
    ),
    _Spec(
        "resolver", _resolver, "192.0.2.53:53", "DNS server used to resolve targets (default: the system's)"
    ),
    _Spec("auth_token", _text, "<random string>", "bearer token required by the HTTP transport", secret=True),
    _Spec("audit_log", _path, "/var/log/mcp-monitor-audit.jsonl", "file for the audit log (default: stderr)"),
    _Spec(
        "audit_send_payload",
        _bool,
        "true",
        "write tcp_check's send payload in the audit log (default: hidden, it may hold a login)",
    ),
    _Spec("log_level", _choice("debug", "info", "warning", "error"), "info", "log level (stderr)"),
    _Spec("transport", _choice("stdio", "http"), "http", "stdio or streamable HTTP"),
    _Spec("host", _text, "127.0.0.1", "address the HTTP transport binds"),
    _Spec("port", _port, "8000", "port the HTTP transport binds"),
    _Spec("tls_cert", _path, "/etc/mcp/cert.pem", "certificate chain for HTTPS (with tls_key)"),
    _Spec("tls_key", _path, "/etc/mcp/key.pem", "private key for HTTPS (with tls_cert)"),
    _Spec(
        "http_allowed_hosts",
        _csv,
        "monitor.example.com:8443",
        "extra Host header values the HTTP transport accepts",
    ),
    _Spec(
        "http_allowed_origins",
        _csv,
        "https://app.example.com",
        "Origin header values the HTTP transport accepts",
    ),
    _Spec(
        "http_stateless",
        _bool,
        "true",
        "serve HTTP without sessions, so that replicas behind a load balancer need no affinity",
    ),
    _Spec(
        "http_behind_gateway",
        _bool,
        "true",
        "the HTTP port is reachable only through a gateway that authenticates its users (Smithery): "
        "serve a non-loopback bind without a bearer token and without Host/Origin checks",
    ),
    _Spec(
        "status_public",
        _bool,
        "true",
        "serve /status and the badges over HTTP without the bearer token (/mcp keeps it)",
    ),
    _Spec(
        "metrics_token",
        _text,
        "<random string>",
        "bearer token for /metrics over HTTP (default: the auth token)",
        secret=True,
    ),
    _Spec("http_max_body_bytes", _positive_int, "1048576", "most response body bytes an HTTP check reads"),
    _Spec(
        "http_unsafe_methods",
        _bool,
        "true",
        "let http_check send methods other than GET, HEAD and OPTIONS (POST, DELETE, ...); "
        "the tool is then no longer marked read-only",
    ),
    _Spec("dns_root_hints", _path, "/etc/mcp/root.hints", "root hints zone file (default: the real root's)"),
    _Spec(
        "dns_trust_anchors",
        _path,
        "/etc/mcp/root.ds",
        "DNSSEC trust anchors as DS records (default: the root's)",
    ),
    _Spec(
        "dns_resolvers",
        _resolvers,
        "9.9.9.9,1.1.1.1:53",
        "resolvers dns_propagation asks (default: a list of public resolvers)",
    ),
    _Spec(
        "dns_asn_zone",
        _lookup_zone,
        "asnlookup.zonemaster.net or off",
        "Cymru-style DNS zone dns_delegation asks for the origin AS of each nameserver address "
        "(origin. and origin6. under it); off turns the lookup off",
    ),
    _Spec(
        "rdap_url",
        _rdap_urls,
        "com=https://rdap.verisign.com/com/v1/",
        "RDAP base URL, global or per TLD (tld=URL), comma-separated (default: IANA bootstrap)",
    ),
    _Spec(
        "db",
        _text,
        "/var/lib/mcp-monitor/monitor.db or postgresql://user:pw@127.0.0.1/monitor",
        "store of watches and history: a SQLite file or a postgresql:// URL (default: monitor.db in the user data dir)",
        secret=True,
    ),
    _Spec("record", _bool, "true", "also store the results of on-demand checks, not only of watches"),
    _Spec(
        "retention_days",
        _positive_int,
        "30",
        "days raw check results are kept before hourly rollups replace them",
    ),
    _Spec("rollup_retention_days", _positive_int, "400", "days hourly rollups are kept"),
    _Spec(
        "watch_min_interval_s",
        _positive_float,
        "10",
        "shortest interval_s a watch may have (lower it only for tests)",
    ),
    _Spec("watch_concurrency", _positive_int, "50", "watch checks one process runs at once"),
    _Spec(
        "watches_file",
        _path,
        "/etc/mcp-monitor/watches.yaml",
        "YAML file of declared watches (sections http, ssl, dns), applied at start and on SIGHUP",
    ),
    _Spec(
        "rate_limit_per_host",
        _rate,
        "10",
        "requests per second this process sends to one target host, all calls together (0: no limit)",
    ),
    _Spec(
        "cert_warn_days",
        _positive_int,
        "21",
        "a certificate that expires within this many days is a warning (http-monitor and ssl-monitor)",
    ),
    _Spec(
        "cert_critical_days",
        _positive_int,
        "7",
        "a certificate that expires within this many days is critical",
    ),
    _Spec(
        "notify",
        _notify_urls,
        "ntfy://ntfy.example.com/alerts,mailto://user:pw@mail.example.com",
        "Apprise URLs every watch's incidents are sent to, comma-separated",
        secret=True,
    ),
    _Spec(
        "notify_targets",
        _notify_targets,
        "ops=slack://tokA/tokB/tokC,oncall=pover://user@token",
        "named Apprise URLs a watch's notify may name (name=url, comma-separated)",
        secret=True,
    ),
    _Spec(
        "status_url",
        _base_url,
        "https://monitor.example.com",
        "base URL of the status pages, linked from notifications (<base>/status/<watch>)",
    ),
)

assert {spec.attr for spec in _SPECS} == {f.name for f in fields(Settings)}, "every setting needs a spec"


def setting_specs() -> Sequence[_Spec]:
    """The declared settings, for the CLI's flags and the documentation test."""
    return _SPECS


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings in force: those set by `set_settings`, else loaded from the environment once."""
    global _current
    if _current is None:
        _current = Settings.load()
    return _current


def set_settings(settings: Settings | None) -> None:
    """Install `settings` for this process (None: reload from the environment on next use)."""
    global _current
    _current = settings


def effective_settings() -> dict[str, Any]:
    """The settings in force as JSON, secrets hidden (the `monitor://config` resource)."""
    from monitor_common.targets import redact_url

    settings = get_settings()
    shown: dict[str, Any] = {}
    for spec in setting_specs():
        value = getattr(settings, spec.attr)
        if spec.attr == "notify_targets":
            # The names are what a watch's notify may use; the URLs behind them carry secrets.
            value = dict.fromkeys((name for name, _ in settings.notify_targets), "***")
        elif spec.secret and value not in (None, ()):
            value = redact_url(str(value)) if spec.attr == "db" else "***"
        elif isinstance(value, tuple):
            value = [redact_url(str(v)) for v in cast("tuple[Any, ...]", value)]
        elif value is not None and not isinstance(value, bool | int | float):
            value = redact_url(str(value))  # a URL setting (an RDAP server, a proxy) may hold a password
        shown[spec.env] = value
    return shown
