"""The tool schemas as `tools/list` publishes them: compact, because hosts put them in every prompt.

pydantic's schemas are thorough and large (titles, `$defs`, `anyOf` for every optional field,
the whole nested result model). The published form keeps what a model needs to call a tool and
read its result, and nothing that it must pay for on every turn:

- input: every parameter with its type, default, enum, bounds and one description; no titles,
  `$ref`s inlined, an optional parameter whose default is null is simply optional (not nullable).
- output: shallow, the top-level fields with their JSON types (a nullable field's as `{}`, which
  is a tenth of the size of `{"type": ["string", "null"]}`), no nested detail. It accepts every result the full model accepts, so clients that validate
  `structuredContent` against it keep working; the full schemas stay available as a resource.

The server still validates arguments with the full pydantic model, so nothing is loosened there.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

__all__ = ["compact_input", "shallow_output"]

_DROP = frozenset({"title", "$defs", "examples"})


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`node` with a `#/$defs/X` reference replaced by its target (sibling keys win)."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return node
    target = cast("dict[str, Any]", defs.get(ref.removeprefix("#/$defs/"), {}))
    merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
    return merged


def _is_null(node: object) -> bool:
    return isinstance(node, dict) and cast("dict[str, Any]", node) == {"type": "null"}


def _compact(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "additionalProperties" and value is True:
            continue  # the default
        if key == "properties" and isinstance(value, dict):
            props = cast("dict[str, dict[str, Any]]", value)
            out[key] = {name: _compact(sub, defs) for name, sub in props.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _compact(cast("dict[str, Any]", value), defs)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_compact(cast("dict[str, Any]", b), defs) for b in cast("list[Any]", value)]
        else:
            out[key] = value
    branches = cast("list[dict[str, Any]] | None", out.get("anyOf"))
    if branches is not None and out.get("default", 0) is None and any(_is_null(b) for b in branches):
        # Optional with a null default: leaving the parameter out means the same, and a single
        # type is portable where a nullable union is not.
        rest = [b for b in branches if not _is_null(b)]
        del out["anyOf"], out["default"]
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    return out


def compact_input(schema: dict[str, Any], brief: Collection[str] = ()) -> dict[str, Any]:
    """A tool's input schema without titles, `$defs` and null-defaulted unions (see the module);
    the parameters named in `brief` lose their description too."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    compact = _compact(schema, defs)
    for name, prop in cast("dict[str, dict[str, Any]]", compact.get("properties", {})).items():
        if name in brief:
            prop.pop("description", None)
    return compact


def _json_type_of(value: object) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else None


def _json_types(node: dict[str, Any], defs: dict[str, Any]) -> list[str] | None:
    """The JSON types a schema accepts, or None when it cannot be told cheaply (then: anything)."""
    node = _resolve(node, defs)
    declared = node.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in cast("list[Any]", declared)]
    values = node.get("enum", [node["const"]] if "const" in node else None)
    if isinstance(values, list):
        found = {_json_type_of(v) for v in cast("list[Any]", values)}
        return None if None in found else sorted(cast("set[str]", found))
    for key in ("anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            types: list[str] = []
            for branch in cast("list[dict[str, Any]]", branches):
                sub = _json_types(branch, defs)
                if sub is None:
                    return None
                types += [t for t in sub if t not in types]
            return types
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(cast("list[Any]", all_of)) == 1:
        return _json_types(cast("list[dict[str, Any]]", all_of)[0], defs)
    return None


def shallow_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema cut to its top-level fields and their JSON types (see the module)."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    properties: dict[str, Any] = {}
    for name, sub in cast("dict[str, dict[str, Any]]", schema.get("properties", {})).items():
        types = _json_types(sub, defs)
        if types is None or "null" in types:
            # Nullable or not cheaply told: any value. Still the field's name, at a tenth the size.
            properties[name] = {}
            continue
        if "integer" in types and "number" in types:
            types.remove("integer")
        properties[name] = {"type": types[0] if len(types) == 1 else types}
    return {"type": "object", "properties": properties}
