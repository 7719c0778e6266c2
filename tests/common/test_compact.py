"""The abridged tool schemas of tools/list: smaller, and never stricter than the full ones."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from jsonschema import Draft202012Validator
from monitor_common._compact import compact_input, shallow_output
from pydantic import BaseModel, Field


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    """Nested detail that the shallow output schema leaves out."""

    depth: int
    note: str | None = None


class Result(BaseModel):
    verdict: Colour
    summary: str
    count: int
    ratio: float
    maybe: str | None = None
    maybe_count: int | None = None
    when: datetime
    amount: Decimal
    inner: Inner
    inners: list[Inner] = []
    kind: Literal["a", "b"] = "a"
    labels: dict[str, str] = {}
    shade: Colour | None = None
    tags: list[str] = []
    fixed: Literal["v1"] = "v1"


class Arguments(BaseModel):
    url: Annotated[str, Field(description="where")]
    colour: Colour = Colour.RED
    limit: Annotated[int | None, Field(ge=1, description="at most")] = None
    tags: list[str] | None = None
    nested: Inner | None = None


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        (
            {
                "verdict": "red", "summary": "s", "count": 1, "ratio": 0.5, "maybe": None, "maybe_count": 3,
                "when": "2026-01-01T00:00:00Z", "amount": "1.5", "inner": {"depth": 1, "note": None},
                "inners": [], "kind": "b", "labels": {"a": "b"}, "extra": "fields are allowed",
            },
            True,
        ),
        ({"verdict": "red", "summary": "s", "count": 1.5}, False),  # an integer field gets a float
        ({"verdict": "red", "ratio": 2}, True),  # an integer is a number
        ({"verdict": None}, False),  # a non-null field is not nullable
        ({"verdict": "bogus"}, False),  # an enum keeps its values
        ({"kind": "c"}, False),  # so does a Literal
        ({"fixed": "v2"}, False),  # and a const
        ({"shade": None}, True),  # a nullable enum: its values or null
        ({"shade": "green"}, False),
        ({"tags": ["a", 1]}, False),  # an array of scalars keeps its item type
        ({"inners": [1, "x"]}, True),  # an array of objects is only an array
        ({"maybe": None, "maybe_count": None}, True),  # other nullable fields: their type or null
        ({"maybe": 5}, False),
        ({"maybe_count": "x"}, False),
        ({"maybe_count": 1.5}, False),
        ({"amount": "1.5"}, True),  # several types: any of them
        ({"amount": None}, False),
    ],
)  # fmt: skip
def test_shallow_output_keeps_the_top_level_types(instance: dict[str, Any], valid: bool) -> None:
    full = Result.model_json_schema()  # as the SDK makes it
    shallow = shallow_output(full)
    assert set(shallow["properties"]) == set(Result.model_fields)
    assert "$defs" not in shallow and "required" not in shallow
    props = shallow["properties"]
    assert props["inner"] == {"type": "object"}
    assert props["verdict"] == {"enum": ["red", "blue"]}  # carried over from $defs
    assert props["kind"] == {"enum": ["a", "b"]} and props["fixed"] == {"const": "v1"}
    assert props["shade"] == {"enum": ["red", "blue", None]}  # after stripping the null branch
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["inners"] == {"type": "array"}
    # Portable spellings: no type arrays, a null branch instead (no `$defs` for a type used once).
    assert props["maybe"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert props["maybe_count"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert props["amount"] == {"anyOf": [{"type": "number"}, {"type": "string"}]}
    assert all(prop and not isinstance(prop.get("type"), list) for prop in props.values())
    Draft202012Validator.check_schema(shallow)
    assert Draft202012Validator(shallow).is_valid(instance) is valid


def test_shallow_output_accepts_every_real_result() -> None:
    shallow = shallow_output(Result.model_json_schema())
    result = Result(
        verdict=Colour.BLUE, summary="x", count=2, ratio=1.0, when=datetime(2026, 1, 1), amount=Decimal("2"),
        inner=Inner(depth=0), inners=[Inner(depth=1, note="n")], shade=Colour.RED, tags=["t"],
    )  # fmt: skip
    assert Draft202012Validator(shallow).is_valid(result.model_dump(mode="json"))


class Endpoint(BaseModel):
    """Several nullable fields of one type, as in a check that may get no answer."""

    host: str
    sni: str | None = None
    remote_ip: str | None = None
    cipher: str | None = None
    trusted: bool | None = None
    expired: bool | None = None
    days_left: float | None = None
    leaf: Inner | None = None


def _size(schema: dict[str, Any]) -> int:
    return len(json.dumps(schema, separators=(",", ":")))


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each `$ref` replaced by its definition and no `$defs`."""
    defs = schema.get("$defs", {})
    props = {
        name: defs[prop["$ref"].removeprefix("#/$defs/")] if "$ref" in prop else prop
        for name, prop in schema["properties"].items()
    }
    return {"type": "object", "properties": props}


def test_shallow_output_declares_a_repeated_nullable_type_once() -> None:
    shallow = shallow_output(Endpoint.model_json_schema())
    props = shallow["properties"]
    # Three nullable strings pay for a definition; two booleans do too; a number and an object,
    # once each, stay inline.
    assert shallow["$defs"] == {
        "s": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "b": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
    }
    assert props["sni"] == props["remote_ip"] == props["cipher"] == {"$ref": "#/$defs/s"}
    assert props["trusted"] == props["expired"] == {"$ref": "#/$defs/b"}
    assert props["days_left"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert props["leaf"] == {"anyOf": [{"type": "object"}, {"type": "null"}]}
    assert props["host"] == {"type": "string"}
    assert _size(shallow) < _size(_inlined(shallow))
    Draft202012Validator.check_schema(shallow)
    validator = Draft202012Validator(shallow)
    assert validator.is_valid(Endpoint(host="h").model_dump(mode="json"))
    assert validator.is_valid(
        Endpoint(host="h", sni="s", trusted=False, days_left=3, leaf=Inner(depth=0)).model_dump(mode="json")
    )
    assert not validator.is_valid({"host": "h", "sni": 1})
    assert not validator.is_valid({"host": "h", "trusted": "yes"})


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_shallow_output_shares_a_type_only_where_it_is_smaller(count: int) -> None:
    properties = {f"f{i}": {"anyOf": [{"type": "string"}, {"type": "null"}]} for i in range(count)}
    shallow = shallow_output({"type": "object", "properties": properties})
    assert _size(shallow) <= _size({"type": "object", "properties": properties})
    assert ("$defs" in shallow) is (count >= 3)  # 45 bytes a use inline, 20 and the definition shared


def test_compact_input_keeps_what_a_model_needs() -> None:
    full = Arguments.model_json_schema()
    compact = compact_input(full, brief={"limit"})
    assert compact["required"] == ["url"]
    props = compact["properties"]
    assert props["url"] == {"description": "where", "type": "string"}
    # The enum is inlined from $defs with its default; no titles anywhere.
    assert props["colour"] == {"default": "red", "enum": ["red", "blue"], "type": "string"}
    # Optional with a null default: just optional, one type; `brief` keeps only the type.
    assert props["limit"] == {"type": "integer"}
    assert props["tags"] == {"items": {"type": "string"}, "type": "array"}
    assert props["nested"]["type"] == "object" and set(props["nested"]["properties"]) == {"depth", "note"}
    assert "title" not in str(compact) and "$defs" not in compact and "$ref" not in str(compact)
    Draft202012Validator.check_schema(compact)
    # What the model sends by the abridged schema, the full model accepts.
    sent = {"url": "u", "colour": "blue", "limit": 3, "tags": ["a"], "nested": {"depth": 1}}
    assert Draft202012Validator(compact).is_valid(sent)
    Arguments.model_validate(sent)
