"""Numbers a tool cannot use: non-finite ones anywhere, booleans where a number is expected.

pydantic, as the SDK and `ToolSpec` configure the argument models, takes `NaN`, `Infinity` and
`1e400` (which JSON parsers read as infinity) as floats, and `true` as the number 1, so
`interval_s=NaN` passed every bound (NaN compares false with each) and reached the store, and
`port=true` dialled port 1. No tool has a use for either, so they are refused before the model
sees them, by this one rule, on both paths into a tool: MCP (`MonitorServer.call_tool`) and
`call` (`ToolSpec.validate`), with the same message.

1. A float that is not finite is refused wherever it is, nested values included; so is a string
   that reads as one (`"NaN"`, `"inf"`, `"1e400"`) where a number and not a string is expected,
   which pydantic would convert.
2. A boolean is refused where the parameter's JSON schema expects a number or an integer and not
   a boolean (a parameter of any type, `{}`, takes it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

__all__ = ["unusable_number"]

_NUMBERS = frozenset({"integer", "number"})


def unusable_number(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """What is wrong with the first unusable number in `arguments`, or None when there is none.

    `schema` is the tool's input schema (pydantic's, with `$defs`); the message names the
    parameter, e.g. `interval_s must be a finite number, not NaN`.
    """
    defs = cast("Mapping[str, Any]", schema.get("$defs", {}))
    properties = cast("Mapping[str, Any]", schema.get("properties", {}))
    for key, value in arguments.items():
        problem = _check(value, properties.get(key), defs, key)
        if problem is not None:
            return problem
    return None


def _check(value: object, schema: object, defs: Mapping[str, Any], path: str) -> str | None:
    node = _resolve(schema, defs)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} must be a finite number, not {json.dumps(value)}"
    if isinstance(value, str):
        # pydantic reads "NaN", "inf" or "1e400" given for a number as that float (lax mode).
        types = _types(node, defs)
        if types & _NUMBERS and "string" not in types and not _finite_text(value):
            return f"{path} must be a finite number, not {json.dumps(value)}"
        return None
    if isinstance(value, bool):
        types = _types(node, defs)
        if types & _NUMBERS and "boolean" not in types:
            return f"{path} must be a number, not {json.dumps(value)}"
        return None
    if isinstance(value, list):
        items = _branch(node, defs, "items")
        for index, item in enumerate(cast("list[object]", value)):
            problem = _check(item, items, defs, f"{path}[{index}]")
            if problem is not None:
                return problem
    elif isinstance(value, dict):
        properties = cast("Mapping[str, Any]", _branch(node, defs, "properties") or {})
        extra = _branch(node, defs, "additionalProperties")
        for key, item in cast("dict[str, object]", value).items():
            problem = _check(item, properties.get(key, extra), defs, f"{path}.{key}")
            if problem is not None:
                return problem
    return None


def _finite_text(text: str) -> bool:
    """Whether `text`, read as a float, is finite (text that is no number at all is pydantic's to refuse)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return True


def _resolve(schema: object, defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """`schema` as a mapping, a `#/$defs/X` reference replaced by its target."""
    if not isinstance(schema, Mapping):
        return {}
    node = cast("Mapping[str, Any]", schema)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(defs.get(ref.removeprefix("#/$defs/")), defs)
    return node


def _branches(node: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """`node` and, recursively, the branches of its `anyOf` / `oneOf` / `allOf`."""
    found = [node]
    for keyword in ("anyOf", "oneOf", "allOf"):
        for branch in cast("list[object]", node.get(keyword, [])):
            found += _branches(_resolve(branch, defs), defs)
    return found


def _types(node: Mapping[str, Any], defs: Mapping[str, Any]) -> set[str]:
    types: set[str] = set()
    for branch in _branches(node, defs):
        declared = branch.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(str(t) for t in cast("list[object]", declared))
    return types


def _branch(node: Mapping[str, Any], defs: Mapping[str, Any], keyword: str) -> object:
    """`keyword` (`items`, `properties`, ...) of the first branch of `node` that has it."""
    for branch in _branches(node, defs):
        if keyword in branch:
            return branch[keyword]
    return None
