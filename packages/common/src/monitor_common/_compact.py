"""The tool schemas as `tools/list` publishes them: compact, because hosts put them in every prompt.

pydantic's schemas are thorough and large (titles, `$defs`, `anyOf` for every optional field,
the whole nested result model). The published form keeps what a model needs to call a tool and
read its result, and what a client needs to check that result, within a budget: each server's
whole listing stays under 10 KiB (tests/e2e/test_tool_schemas.py).

- input: every parameter with its type, default, enum, bounds and one description; no titles,
  `$ref`s inlined, an optional parameter whose default is null is simply optional (not nullable).
- output: shallow, the top-level fields only, each as the cheapest schema that still constrains
  it, in spellings every client reads (the MCP Inspector's `--strict` check flags none of them
  but the `{}` of 4):
  1. an enum or const is carried over from `$defs`, also when the field is nullable (the null
     branch of the `anyOf` becomes a `null` in the enum), so `verdict` accepts ok, warning,
     critical and unknown, and not any string a client would then have to branch on;
  2. otherwise the field's JSON type; an array of scalars or enum values keeps its item schema
     (`list[str]` is `{"type": "array", "items": {"type": "string"}}`), an array of objects
     (the findings too) and an object stay bare: nested detail is what the full schema is for.
     Several types are `anyOf` branches of one `type` each, never a type array (`{"type":
     ["string", "null"]}`): clients that map schemas onto a single-`type` dialect drop those,
     and the Inspector flags them. An integer-or-number is a number;
  3. a nullable field is its type or null: `{"anyOf": [{"type": "string"}, {"type": "null"}]}`,
     45 bytes where the `{}` (any value) it replaced took 2. Where one type is nullable in
     several fields of a tool, it is declared once in that output schema's `$defs` under a
     one-letter name (`s` string, `i` integer, `n` number, `b` boolean, `o` object, `a` array)
     and each field is `{"$ref": "#/$defs/s"}`, 20 bytes; only where that comes out smaller,
     counting the definition and the `$defs` keyword (`_shared`);
  4. a field whose type cannot be told cheaply is `{}` (tests/e2e/test_tool_schemas.py holds
     every served field to a type: none is today);
  5. the envelope's bookkeeping, `checked_at` and `duration_ms`, is left out (`BOOKKEEPING`):
     every result carries it (README, "the result envelope"), no model chooses or reads a tool
     by it, and it cost 56 bytes in every tool of every listing. The schema still accepts it
     (additional properties are allowed), so the results stay valid against it.
  It accepts every result the full model accepts, so clients that validate `structuredContent`
  against it keep working; the full schemas stay available as a resource.

The server still validates arguments with the full pydantic model, so nothing is loosened there.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, cast

__all__ = ["BOOKKEEPING", "compact_input", "shallow_output"]

BOOKKEEPING = frozenset({"checked_at", "duration_ms"})  # envelope fields the listing leaves out (rule 5)

_DROP = frozenset({"title", "$defs", "examples"})
_NULL = {"type": "null"}
# Names of the shared nullable types in an output schema's `$defs`: short, since every use
# spells one out.
_DEF_NAMES = {"string": "s", "integer": "i", "number": "n", "boolean": "b", "object": "o", "array": "a"}


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


# What a `brief` parameter keeps: its JSON type or its values. The rest (description, default,
# bounds, item and value types) is in the listing of the tool it repeats, and in the full schema.
_BRIEF_KEEP = frozenset({"type", "enum", "const", "anyOf"})


def compact_input(schema: dict[str, Any], brief: Collection[str] = ()) -> dict[str, Any]:
    """A tool's input schema without titles, `$defs` and null-defaulted unions (see the module);
    the parameters named in `brief` keep only their type or enum (a watch tool's copy of its
    check's parameters: the check's own listing describes them)."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    compact = _compact(schema, defs)
    properties = cast("dict[str, dict[str, Any]]", compact.get("properties", {}))
    for name, prop in properties.items():
        if name in brief:
            properties[name] = {k: v for k, v in prop.items() if k in _BRIEF_KEEP}
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


def _without_null(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`node` resolved, with the null branch of its `anyOf`/`oneOf` taken out, and whether it had one."""
    node = _resolve(node, defs)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(cast("list[Any]", all_of)) == 1:
        return _without_null(cast("list[dict[str, Any]]", all_of)[0], defs)
    for key in ("anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list) and any(_is_null(b) for b in cast("list[Any]", branches)):
            rest = [b for b in cast("list[dict[str, Any]]", branches) if not _is_null(b)]
            if len(rest) == 1:
                return _without_null(rest[0], defs)[0], True
            return {key: rest}, True
    return node, False


def _values(node: dict[str, Any]) -> list[Any] | None:
    """The values an `enum` or `const` schema allows, or None when it is not one."""
    if isinstance(node.get("enum"), list):
        return list(cast("list[Any]", node["enum"]))
    return [node["const"]] if "const" in node else None


def _scalar(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a non-null enum, const or scalar, or None for anything bigger."""
    node, nullable = _without_null(node, defs)
    values = _values(node)
    if values is not None:
        return None if nullable else ({"const": values[0]} if "const" in node else {"enum": values})
    types = _json_types(node, defs)
    if nullable or types is None or len(types) != 1 or types[0] in ("array", "object", "null"):
        return None
    return {"type": types[0]}


def _typed(types: list[str]) -> dict[str, Any]:
    """`types` as one `type`, or as `anyOf` branches of one `type` each (portable, see the module)."""
    if "integer" in types and "number" in types:
        types = [t for t in types if t != "integer"]
    if len(types) == 1:
        return {"type": types[0]}
    return {"anyOf": [{"type": t} for t in types]}


def _field(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One top-level output field, shallow (see the module)."""
    inner, nullable = _without_null(node, defs)
    values = _values(inner)
    if values is not None:
        if nullable and None not in values:
            return {"enum": [*values, None]}
        return {"const": values[0]} if "const" in inner and not nullable else {"enum": values}
    types = _json_types(inner, defs)
    if types is None:
        return {}  # see the module: nothing cheap to say about it
    if "null" in types:
        types, nullable = [t for t in types if t != "null"], True
    if not types:
        return dict(_NULL)
    out = _typed(types)
    items = inner.get("items")
    if types == ["array"] and isinstance(items, dict):
        item = _scalar(cast("dict[str, Any]", items), defs)
        if item is not None:
            out["items"] = item
    if nullable:
        out = {"anyOf": [*out.get("anyOf", [out]), dict(_NULL)]}
    return out


def _dumped_len(node: object) -> int:
    return len(json.dumps(node, separators=(",", ":")).encode())


def _nullable_type(node: dict[str, Any]) -> str | None:
    """The type of a field spelled `{"anyOf": [{"type": T}, {"type": "null"}]}`, else None."""
    branches = node.get("anyOf")
    if len(node) != 1 or not isinstance(branches, list) or len(cast("list[Any]", branches)) != 2:
        return None
    first, second = cast("list[dict[str, Any]]", branches)
    return str(first["type"]) if set(first) == {"type"} and second == _NULL else None


def _shared(properties: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The nullable types worth declaring once in `$defs`, by name (see the module).

    A definition pays when its uses, each a `$ref` instead of the whole `anyOf`, save more than
    its entry costs; the `$defs` keyword itself must be paid for by them all together. The sizes
    are those of compact JSON, as hosts count them.
    """
    uses: dict[str, int] = {}
    for prop in properties.values():
        type_ = _nullable_type(prop)
        if type_ is not None:
            uses[type_] = uses.get(type_, 0) + 1
    shared: dict[str, dict[str, Any]] = {}
    saved = 1 - len(',"$defs":{}')  # the keyword, and one comma fewer than entries
    for type_, count in uses.items():
        key = _DEF_NAMES[type_]
        schema = {"anyOf": [{"type": type_}, dict(_NULL)]}
        entry = _dumped_len({key: schema}) - 1  # `"k":{...}` and its comma
        gain = count * (_dumped_len(schema) - _dumped_len({"$ref": f"#/$defs/{key}"})) - entry
        if gain > 0:
            shared[key] = schema
            saved += gain
    return shared if saved > 0 else {}


def shallow_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema cut to its top-level fields, their JSON types and enums (see the module)."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    source = cast("dict[str, dict[str, Any]]", schema.get("properties", {}))
    properties = {name: _field(sub, defs) for name, sub in source.items() if name not in BOOKKEEPING}
    shared = _shared(properties)
    for name, prop in properties.items():
        type_ = _nullable_type(prop)
        if type_ is not None and _DEF_NAMES[type_] in shared:
            properties[name] = {"$ref": f"#/$defs/{_DEF_NAMES[type_]}"}
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if shared:
        out["$defs"] = shared
    return out
