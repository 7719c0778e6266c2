"""What a server watches (`WatchKind`): its main check and how to read that check's results."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from monitor_common.callcontext import is_injected
from monitor_common.targets import redact_url

__all__ = ["WATCH_PARAMETERS", "Figures", "WatchKind"]

# The watch tool's own parameters; a check parameter of the same name must be renamed.
WATCH_PARAMETERS = (
    "action",
    "name",
    "interval_s",
    "failure_threshold",
    "success_threshold",
    "notify",
    "notify_repeat_s",
)

# A check result (as JSON) to its key figures; `latency_ms`, when present, feeds the percentiles.
Figures = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class WatchKind:
    """What a server watches: its main check tool and how to read its results.

    `target` is the check's parameter that names what is checked (`url`, `host`, `name`);
    `rename` shows a check parameter under another name in the watch tool (dns_lookup's `name`
    collides with the watch's own and becomes `domain`).
    """

    kind: str
    check: Callable[..., Awaitable[Any]]
    target: str
    figures: Figures
    noun: str = "target"
    # What the tools' titles call the watched things ("Watch certificates"); default `noun`.
    label: str = ""
    rename: Mapping[str, str] = field(default_factory=lambda: dict[str, str]())
    # The figures whose trend the report shows (first, last, min, max, change per day); None: all.
    trends: tuple[str, ...] | None = None
    # This server's section of the watches file and its name for `watch --kinds` (default: kind).
    section_name: str | None = None

    @property
    def section(self) -> str:
        return self.section_name or self.kind

    @property
    def check_name(self) -> str:
        return self.check.__name__

    @property
    def target_parameter(self) -> str:
        """The target's parameter as the watch tool shows it."""
        return self.rename.get(self.target, self.target)

    def target_of(self, definition: Mapping[str, Any]) -> str:
        """The target of a stored watch definition (the check's arguments) as shown and recorded:
        a URL's password hidden (the check runs from the definition, which keeps it)."""
        return redact_url(str(definition.get(self.target, "")))

    def check_parameters(self) -> list[inspect.Parameter]:
        """The main check's parameters as the watch tool shows them (renamed, all optional).

        A parameter the tool machinery fills in (the call context) is left out.
        """
        parameters: list[inspect.Parameter] = []
        for parameter in inspect.signature(self.check, eval_str=True).parameters.values():
            if is_injected(parameter.annotation):
                continue
            shown = self.rename.get(parameter.name, parameter.name)
            if shown in WATCH_PARAMETERS:
                raise ValueError(f"{self.check_name}'s parameter {parameter.name!r} collides: pass rename=")
            annotation, default = parameter.annotation, parameter.default
            if default is inspect.Parameter.empty:
                annotation, default = _optional(annotation), None
            parameters.append(
                inspect.Parameter(
                    shown, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
                )
            )
        return parameters

    def check_defaults(self) -> dict[str, Any]:
        """The check's parameters that have a default, by their own (not renamed) name."""
        return {
            p.name: p.default
            for p in inspect.signature(self.check).parameters.values()
            if p.default is not inspect.Parameter.empty
        }


def _optional(annotation: Any) -> Any:
    """`Annotated[T, ...]` (or `T`) made to accept None as well."""
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        return Annotated[(base | None, *metadata)]  # pyright: ignore[reportInvalidTypeArguments]
    return annotation | None
