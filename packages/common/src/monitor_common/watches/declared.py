"""Watches declared in a file (`MCP_MONITOR_WATCHES_FILE`), kept in git as Gatus users keep theirs.

    http:
      - name: homepage
        url: https://example.com/
        interval_s: 60
        failure_threshold: 3
    ssl:
      - host: example.com
        interval_s: 3600
    dns:
      - domain: example.com
        rdtype: MX

Rules:

1. A top-level key per server, its watch kind's `section` (`http`, `ssl`, `dns`); each is a list
   of entries with the keys of that server's `*_watch action=add` (`name`, `interval_s`, the
   thresholds, the check's parameters under the names the watch tool shows). A server reads the
   sections of the kinds it runs and leaves the others to their servers; a key that is no
   section is an error (a typo would otherwise drop watches silently).
2. Every entry goes through the watch tool's own argument validation and
   `WatchService.spec_of`, the rules `action=add` applies: a file declares nothing the tool
   would refuse. What only a run can tell (a name the network policy refuses once resolved) is
   the watch's first result, as for a watch whose target changes later.
3. Unknown keys, duplicate keys and a name declared twice in a section are errors.
4. An error names the file, the line and the problem (`WatchesFileError`, a `ConfigError`: the
   server exits 78 at start-up; on SIGHUP the watches in force stay and the error is logged).

PyYAML parses (a well-kept parser whose node tree carries line marks); the values are built from
the same nodes, so each key's line is known without a second parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from pydantic import ValidationError

from monitor_common.errors import ConfigError, InputError, LimitError

if TYPE_CHECKING:
    from monitor_common.store import WatchSpec
    from monitor_common.watches.service import WatchService

__all__ = ["SECTIONS", "WatchesFileError", "load_declared"]

# The file's sections: one per server, named after it (ssl-monitor's watch kind is `cert`).
SECTIONS = ("http", "ssl", "dns")


class WatchesFileError(ConfigError):
    """The watches file cannot be read, does not parse, or declares a watch the tool would refuse."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"watches file {where}: {problem}")
        self.path = path
        self.line = line


def load_declared(path: Path, services: Sequence[WatchService]) -> dict[str, list[WatchSpec]]:
    """The watches `path` declares for each of `services`, by watch kind (an absent section
    declares none). Raises WatchesFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WatchesFileError(
            path, None, f"cannot read it ({reason}): fix MCP_MONITOR_WATCHES_FILE"
        ) from None
    return _Reader(path, text).read(services)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.source = str(path.resolve())
        self.loader = yaml.SafeLoader(text)

    def error(self, node: yaml.Node | None, problem: str) -> WatchesFileError:
        return WatchesFileError(self.path, _line(node) if node is not None else None, problem)

    def read(self, services: Sequence[WatchService]) -> dict[str, list[WatchSpec]]:
        ours = {service.kind.section: service for service in services}
        declared: dict[str, list[WatchSpec]] = {service.kind.kind: [] for service in services}
        try:
            root = self.loader.get_single_node()
            if root is None:
                return declared
            if not isinstance(root, yaml.MappingNode):
                raise self.error(root, f"expected sections ({', '.join(SECTIONS)}) at the top level")
            for section, entries in self.pairs(root, "section"):
                if section not in SECTIONS:
                    raise self.error(
                        entries, f"unknown section {section!r}: the sections are {', '.join(SECTIONS)}"
                    )
                service = ours.get(section)
                if service is not None:
                    declared[service.kind.kind] = self.section(service, section, entries)
            return declared
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            raise WatchesFileError(self.path, line, f"not valid YAML: {exc.problem or exc.context}") from None
        except yaml.YAMLError as exc:
            raise WatchesFileError(self.path, None, f"not valid YAML: {exc}") from None
        finally:
            self.loader.dispose()

    def construct(self, node: yaml.Node) -> Any:
        """The value of `node` (stubs leave the constructor's parameter untyped)."""
        return self.loader.construct_object(node, deep=True)  # pyright: ignore[reportUnknownMemberType]

    def pairs(self, mapping: yaml.MappingNode, what: str) -> list[tuple[str, yaml.Node]]:
        """The mapping's (key, value node) pairs; a key that is not text, or comes twice, is an error."""
        seen: dict[str, int] = {}
        pairs: list[tuple[str, yaml.Node]] = []
        for key_node, value_node in cast("list[tuple[yaml.Node, yaml.Node]]", mapping.value):
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or not key:
                raise self.error(key_node, f"expected a {what} name")
            if key in seen:
                raise self.error(key_node, f"{key!r} is given twice (first on line {seen[key]})")
            seen[key] = _line(key_node)
            pairs.append((key, value_node))
        return pairs

    def section(self, service: WatchService, section: str, node: yaml.Node) -> list[WatchSpec]:
        if isinstance(node, yaml.ScalarNode) and self.construct(node) is None:
            return []  # `dns:` with nothing under it
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"section {section!r} must be a list of watches (entries starting with -)")
        specs: list[WatchSpec] = []
        first_line: dict[str, int] = {}
        for entry in cast("list[yaml.Node]", node.value):
            spec = self.entry(service, section, entry)
            if spec.name in first_line:
                raise self.error(
                    entry,
                    f"a second {section} watch named {spec.name!r} (the first is on line "
                    f"{first_line[spec.name]}): give each a distinct name",
                )
            first_line[spec.name] = _line(entry)
            specs.append(spec)
        return specs

    def entry(self, service: WatchService, section: str, node: yaml.Node) -> WatchSpec:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(
                node, f"an entry of section {section!r} must be a mapping of keys, e.g. name: and interval_s:"
            )
        allowed = service.entry_keys()
        lines: dict[str, int] = {}
        values: dict[str, Any] = {}
        for key, value_node in self.pairs(node, "key"):
            if key not in allowed:
                raise self.error(
                    value_node,
                    f"unknown key {key!r} in section {section!r}: the keys are {', '.join(allowed)}",
                )
            lines[key] = _line(value_node)
            values[key] = self.construct(value_node)
        try:
            return service.declared_spec(values, self.source)
        except InputError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and cause.errors():
                first = cause.errors()[0]
                key = str(first["loc"][0]) if first["loc"] else ""
                line = lines.get(key, _line(node))
                # pydantic's own words, without the input (it may be a secret)
                raise WatchesFileError(self.path, line, f"{key}: {first['msg']}") from None
            raise self.error(node, str(exc)) from None
        except LimitError as exc:
            key = str(exc).partition("=")[0]
            raise WatchesFileError(self.path, lines.get(key, _line(node)), str(exc)) from None
