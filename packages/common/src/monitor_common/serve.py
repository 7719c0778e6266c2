"""The command line every server shares.

    mcp-X-monitor [serve] [--transport stdio|http] [--host H] [--port P] [--tls-cert F --tls-key F]
    mcp-X-monitor tools                      list the tools, one line each
    mcp-X-monitor call TOOL key=value ...    run one tool in-process, print its result as JSON
    mcp-X-monitor watch [--kinds http,ssl]   run the stored watches until SIGTERM, without MCP
                                             (`monitor_common.runner`)
    mcp-X-monitor status --out DIR           write the status page of the watches as static files

Every setting of `monitor_common.config` is also a flag (`--allow-private true`, `--timeout-s 5`).
`call` exits like a monitoring plugin: 0 ok, 1 warning, 2 critical, 3 unknown; 64 when the input is
invalid or refused (the message on stderr), 78 when the configuration is. Nothing but protocol
messages (or, for `call` and `tools`, the requested output) is written to stdout.

`call` and `tools` run from the server's `ToolSet` without importing the MCP SDK, which would
take longer than most checks (they are what cron and monitoring agents run); the SDK and the
`MonitorServer` (`monitor_common.server`) load only to serve.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from monitor_common.audit import AuditLog, RedactUrls
from monitor_common.config import Settings, set_settings, setting_specs
from monitor_common.errors import ConfigError, MonitorError
from monitor_common.notify.targets import SecretsFilter
from monitor_common.results import Verdict
from monitor_common.toolset import ToolCrashed, ToolSet

if TYPE_CHECKING:
    import argparse

    from monitor_common.server import MonitorServer
    from monitor_common.watches.kind import WatchKind

__all__ = ["EXIT_CONFIG", "EXIT_CRASH", "EXIT_USAGE", "main", "parse_call_arguments"]

EXIT_USAGE = 64  # sysexits EX_USAGE: the caller's input was wrong
EXIT_CONFIG = 78  # sysexits EX_CONFIG: the operator's settings were wrong
EXIT_CRASH = 3  # a tool that crashed: nothing is known (a monitoring plugin's UNKNOWN)

logger = logging.getLogger("monitor_common.serve")


def _parser(server: ToolSet | MonitorServer) -> argparse.ArgumentParser:
    import argparse  # only when there is a command line to parse (see `main`)

    # Flags default to SUPPRESS so that a subcommand's parser cannot overwrite a value given
    # before the subcommand (an argparse quirk), and so "not given" is distinguishable.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    for spec in setting_specs():
        common.add_argument(
            spec.flag, dest=spec.attr, metavar=spec.attr.upper(), help=f"{spec.help} ({spec.env})"
        )
    common.add_argument("-v", "--verbose", action="count", help="log more to stderr (-vv: debug)")

    parser = argparse.ArgumentParser(
        prog=server.name,
        description=server.instructions,
        parents=[common],
        argument_default=argparse.SUPPRESS,
    )
    sub = parser.add_subparsers(dest="command", metavar="{serve,tools,call,watch,status}")
    sub.add_parser("serve", parents=[common], help="serve MCP over stdio (default) or streamable HTTP")
    watch = sub.add_parser(
        "watch",
        parents=[common],
        help="run the stored watches and their notifications until SIGTERM, without MCP",
    )
    watch.add_argument(
        "--kinds",
        metavar="http,ssl,dns",
        help="the servers whose watches this process runs (default: this one's); each must be installed",
    )
    sub.add_parser("tools", parents=[common], help="list the tools with the first line of each description")
    call = sub.add_parser("call", parents=[common], help="run one tool and print its result as JSON")
    call.add_argument("tool", help="the tool's name, see `tools`")
    call.add_argument(
        "arguments", nargs="*", metavar="key=value", help="arguments; values are parsed as JSON if they parse"
    )
    status = sub.add_parser(
        "status", parents=[common], help="write the status page and badges of the watches as static files"
    )
    status.add_argument(
        "--out", required=True, metavar="DIR", help="the folder to write (created if missing)"
    )
    return parser


def parse_call_arguments(pairs: Sequence[str], strings: Collection[str] = ()) -> dict[str, Any]:
    """`["url=https://x", "timeout_s=5", "headers={\\"a\\":\\"b\\"}"]` -> a tool's arguments.

    A value is taken as JSON when it parses as JSON (numbers, booleans, lists, objects, null),
    else as a plain string, so `name=example.com` needs no quoting. The keys in `strings` (the
    tool's parameters that only take a string) keep their text as written (null stays None), so that
    `expect_status=200` is the string "200" a host would send, not a number refused as one.
    """
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"argument {pair!r} is not key=value, e.g. url=https://example.com")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        arguments[key] = raw if key in strings and not isinstance(value, str | None) else value
    return arguments


def _configure_logging(settings: Settings, verbose: int) -> None:
    level = {0: settings.log_level.upper(), 1: "INFO"}.get(verbose, "DEBUG")
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # the SDK configures the root logger when a server is built; ours replaces it
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactUrls())  # whichever library logs a URL, its password stays hidden
        handler.addFilter(SecretsFilter())  # and the secrets of notify URLs (Apprise, urllib3)


def main(app: ToolSet | MonitorServer, argv: Sequence[str] | None = None) -> NoReturn:
    """Parse the command line, apply the settings and run the subcommand; exits with its status.

    `app` is a server's ToolSet (the servers), or an MCP server built by hand (tests): then `call`
    goes through an in-process MCP client session.
    """
    argv = sys.argv[1:] if argv is None else argv
    # No arguments (how hosts usually launch a server): serve with the environment's settings,
    # without building the parser for every setting's flag - a few ms of every cold start.
    args = vars(_parser(app).parse_args(argv)) if argv else {}
    command = args.pop("command", None) or "serve"
    verbose = int(args.pop("verbose", 0) or 0)
    tool = args.pop("tool", None)
    pairs: list[str] = args.pop("arguments", [])
    kinds: str | None = args.pop("kinds", None)
    out: str | None = args.pop("out", None)
    try:
        settings = Settings.load(flags=args)
    except ConfigError as exc:
        print(f"{app.name}: configuration error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    set_settings(settings)
    _configure_logging(settings, verbose)
    audit = AuditLog(settings.audit_log, send_payload=settings.audit_send_payload)

    if command == "watch":
        sys.exit(_watch(app, settings, kinds))
    if command == "status":
        assert out is not None
        services = app.watches if isinstance(app, ToolSet) else app.watch_services
        sys.exit(_export_status(app.name, [s.kind for s in services], settings, out))
    if isinstance(app, ToolSet):
        if command == "tools":
            sys.exit(_list_declared(app))
        if command == "call":
            assert tool is not None
            sys.exit(_call_declared(app, audit, tool, pairs))
        from monitor_common.server import server_for

        server = server_for(app)
    else:
        server = app
    from monitor_common.server import install_call_log_handler

    install_call_log_handler()  # basicConfig(force=True) removed it
    server.audit = audit
    if command == "tools":
        sys.exit(_list_tools(server))
    if command == "call":
        assert tool is not None
        sys.exit(_call(server, tool, pairs))
    if settings.watches_file is not None:
        from monitor_common.runner import declare, declared_reloader

        try:
            declare(server.watch_services, settings.watches_file)
        except ConfigError as exc:
            print(f"{server.name}: configuration error: {exc}", file=sys.stderr)
            sys.exit(EXIT_CONFIG)
        server.add_service(declared_reloader(server.watch_services, settings.watches_file))
    sys.exit(_serve(server, settings))


def _watch(app: ToolSet | MonitorServer, settings: Settings, kinds: str | None) -> int:
    """`watch`: the watch services of `app` (and of the servers `--kinds` names) until SIGTERM."""
    from monitor_common.runner import declare, kinds_of, run_watches

    own = app.watches if isinstance(app, ToolSet) else app.watch_services
    try:
        services = kinds_of(own, kinds)
        if not services:
            raise ConfigError(f"{app.name} has no watches to run")
        declare(services, settings.watches_file)
    except ConfigError as exc:
        print(f"{app.name}: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return run_watches(services, settings.watches_file)


def _print_tools(tools: Sequence[tuple[str, str]]) -> int:
    width = max((len(name) for name, _ in tools), default=0)
    for name, description in tools:
        lines = description.strip().splitlines()
        print(f"{name.ljust(width)}  {lines[0] if lines else ''}")
    return 0


def _list_declared(tools: ToolSet) -> int:
    return _print_tools([(spec.name, spec.description) for spec in tools.tools.values()])


def _list_tools(server: MonitorServer) -> int:
    import anyio

    return _print_tools([(t.name, t.description or "") for t in anyio.run(server.list_tools)])


def _exit_status(structured: dict[str, Any]) -> int:
    print(json.dumps(structured, indent=2, default=str))
    try:
        return Verdict(structured.get("verdict")).exit_code
    except ValueError:  # no verdict: not a check result, so nothing is known
        return Verdict.UNKNOWN.exit_code


def _call_declared(tools: ToolSet, audit: AuditLog, tool: str, pairs: Sequence[str]) -> int:
    """`call`, straight from the declarations: what MonitorServer does for a host's call (the
    validation, the error mapping, the audit line, the recording hook), without the SDK."""
    import anyio

    spec = tools.tools.get(tool)
    try:
        arguments = parse_call_arguments(pairs, spec.string_parameters if spec is not None else ())
    except ConfigError as exc:
        print(f"{tools.name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()

    def finish(verdict: str | None = None, error: str | None = None) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        audit.record(
            server=tools.name,
            tool=tool,
            arguments=arguments,
            duration_ms=duration_ms,
            verdict=verdict,
            error=error,
        )

    async def run() -> dict[str, Any]:
        structured = await tools.call_json(tool, arguments)
        for service in tools.watches:
            await service.record_call(tool, arguments, structured)
        return structured

    try:
        structured = anyio.run(run)
    except ToolCrashed as exc:
        cause = exc.__cause__
        logger.error("%s crashed", tool, exc_info=cause)
        finish(error=f"internal error: {type(cause).__name__}")
        print(f"{tools.name}: {exc}", file=sys.stderr)
        return EXIT_CRASH
    except MonitorError as exc:
        finish(error=str(exc))
        print(f"{tools.name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verdict = structured.get("verdict")
    finish(verdict=str(verdict) if verdict is not None else None)
    return _exit_status(structured)


def _call(server: MonitorServer, tool: str, pairs: Sequence[str]) -> int:
    import anyio
    from mcp.client import Client
    from mcp.shared.exceptions import MCPError
    from mcp_types import CallToolResult

    try:
        arguments = parse_call_arguments(pairs)
    except ConfigError as exc:
        print(f"{server.name}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    server.run_background = False  # one call: no watch runs meanwhile

    async def run() -> CallToolResult | MCPError:
        # In-process through a real client session, so a tool that reports progress or reads
        # its request context behaves exactly as it does for an MCP host.
        async with Client(server) as client:
            try:
                return await client.call_tool(tool, arguments)
            except MCPError as exc:  # a protocol error, e.g. -32602 for a tool that does not exist
                return exc

    result = anyio.run(run)
    if isinstance(result, MCPError):
        print(f"{server.name}: {result.error.message}", file=sys.stderr)
        return EXIT_USAGE
    if result.is_error:
        text = " ".join(c.text for c in result.content if c.type == "text")
        print(f"{server.name}: {text}", file=sys.stderr)
        return EXIT_CRASH if server.last_outcome == "crash" else EXIT_USAGE
    return _exit_status(cast("dict[str, Any]", result.structured_content or {}))


def _export_status(name: str, kinds: Sequence[WatchKind], settings: Settings, out: str) -> int:
    """`status --out DIR`: the status page of the store's watches as static files."""
    from pathlib import Path

    import anyio

    from monitor_common.errors import StoreError
    from monitor_common.store import open_store
    from monitor_common.web.export import export_status

    async def run() -> int:
        store = await open_store(settings.db, create=False)
        try:
            written = await export_status(store, kinds, Path(out), title=f"{name} status")
        finally:
            if store is not None:
                await store.close()
        return len(written)

    try:
        count = anyio.run(run)
    except (StoreError, OSError) as exc:
        print(f"{name}: cannot write the status page: {exc}", file=sys.stderr)
        return EXIT_CRASH
    print(f"wrote {count} files to {out}")
    return 0


def _serve(server: MonitorServer, settings: Settings) -> int:
    import anyio

    from monitor_common.server import serve_stdio

    # What is imported and declared by now lives as long as the server: keep it out of the
    # collector's full passes, which otherwise rescan those ~100k objects (50-70 ms with the
    # event loop stalled, every request in flight delayed) now and then in the middle of a call.
    gc.freeze()
    if settings.transport == "stdio":
        anyio.run(serve_stdio, server)
        return 0
    from monitor_common._http import serve_http

    try:
        serve_http(server, settings)
    except ConfigError as exc:
        print(f"{server.name}: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0
