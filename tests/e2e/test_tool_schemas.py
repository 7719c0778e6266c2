"""What every server tells a model about its tools: descriptions, annotations, schemas, size."""

from __future__ import annotations

import importlib
import json
from typing import Any, cast

import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.client import advertise
from mcp.shared.exceptions import MCPError
from mcp_types import ResourceTemplateReference, TextResourceContents
from monitor_common._compact import BOOKKEEPING

from e2e.helpers import MODULES

LISTING_LIMIT = 10 * 1024  # bytes of compact JSON; hosts put the listing in every prompt


async def _tools(module: str, *, apps: bool = False) -> list[dict[str, Any]]:
    """The listing a host sees; `apps`: a host that declared MCP Apps, whose listing also links
    the report views (`_meta.ui`, monitor_common.apps)."""
    server = importlib.import_module(f"{module}.server").mcp
    extensions = [advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})]
    async with Client(server, extensions=extensions if apps else None) as client:
        listed = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]


# What each kind of tool does to the world, as hosts read it to decide whether to ask the user.
# A check only reads, over the network; `*_watch` changes the server's watches and its `remove`
# drops their history (destructive); `*_watch_report` and `cert_decode` reach nothing outside the
# server. idempotentHint and destructiveHint mean something only for a tool that is not read-only.
CHECK = {"readOnlyHint": True, "openWorldHint": True}
WATCH = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}
LOCAL = {"readOnlyHint": True, "openWorldHint": False}


def expected_annotations(name: str) -> dict[str, bool]:
    if name.endswith("_watch"):
        return WATCH
    return LOCAL if name.endswith("_watch_report") or name == "cert_decode" else CHECK


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_every_tool_is_described_for_a_model(module: str) -> None:
    for tool in await _tools(module):
        description = str(tool.get("description", "")).strip()
        first_line = description.splitlines()[0] if description else ""
        assert len(first_line) >= 20, f"{tool['name']}: the first line must say when to use it"
        # What a host shows a person: a short title, not the snake_case name.
        title = str(tool.get("title", ""))
        assert 5 <= len(title) <= 40 and "_" not in title, tool["name"]
        assert tool.get("annotations") == expected_annotations(str(tool["name"])), tool["name"]
        for key in ("inputSchema", "outputSchema"):
            schema = tool.get(key)
            assert isinstance(schema, dict), (tool["name"], key)
            assert schema.get("type") == "object", (tool["name"], key)
            assert not {"oneOf", "anyOf", "allOf"} & set(schema), (tool["name"], key)
            Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_tools_list_fits_in_every_prompt(module: str) -> None:
    tools = await _tools(module)
    size = len(json.dumps({"tools": tools}, separators=(",", ":")).encode())
    assert size < LISTING_LIMIT, f"{module}: tools/list is {size} bytes, over {LISTING_LIMIT}"
    # A host with MCP Apps gets the same listing plus the view links: the budget holds for it too.
    with_apps = len(json.dumps({"tools": await _tools(module, apps=True)}, separators=(",", ":")).encode())
    assert size < with_apps < LISTING_LIMIT, f"{module}: tools/list with MCP Apps is {with_apps} bytes"
    for tool in tools:
        # Abridged, not lossy where it matters: every parameter keeps its type (or enum), and
        # nothing pydantic-internal leaks (titles, its $defs and $refs). The only definitions are
        # the output schema's shared nullable types (see monitor_common._compact).
        inputs = json.dumps(tool["inputSchema"])
        assert '"title"' not in json.dumps({k: v for k, v in tool.items() if k != "title"}), tool["name"]
        assert "$defs" not in inputs and "$ref" not in inputs, tool["name"]
        for name, prop in tool["inputSchema"]["properties"].items():
            assert "type" in prop or "enum" in prop or "anyOf" in prop, (tool["name"], name)
        for sub in tool["outputSchema"].get("$defs", {}).values():
            assert sub["anyOf"][1] == {"type": "null"}, tool["name"]


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_output_fields_are_typed_portably(module: str) -> None:
    # What the MCP Inspector's --strict check asks of a schema (scripts/conformance.py runs it):
    # no field that accepts anything, no type arrays.
    for tool in await _tools(module):
        for name, prop in tool["outputSchema"]["properties"].items():
            assert prop, (tool["name"], name)
            for branch in [prop, *prop.get("anyOf", []), *tool["outputSchema"].get("$defs", {}).values()]:
                assert not isinstance(branch.get("type"), list), (tool["name"], name)
            ref = prop.get("$ref")
            assert ref is None or ref.removeprefix("#/$defs/") in tool["outputSchema"]["$defs"]


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_full_schemas_are_a_resource(module: str) -> None:
    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "monitor://schemas/{tool}" in templates
        for name, tool in listed.items():
            read = await client.read_resource(f"monitor://schemas/{name}")
            (content,) = read.contents
            assert isinstance(content, TextResourceContents)
            full = cast("dict[str, Any]", json.loads(content.text))
            # The full schema knows at least what the abridged one shows, and more.
            assert set(full["inputSchema"]["properties"]) == set(tool.input_schema["properties"])
            assert tool.output_schema is not None
            # The listing leaves out the envelope's bookkeeping (monitor_common._compact, rule 5).
            assert (
                set(full["outputSchema"]["properties"]) == set(tool.output_schema["properties"]) | BOOKKEEPING
            )
            assert len(content.text) > len(json.dumps(tool.output_schema))
        completion = await client.complete(
            ResourceTemplateReference(uri="monitor://schemas/{tool}"), {"name": "tool", "value": ""}
        )
        assert sorted(completion.completion.values) == sorted(listed)
        with pytest.raises(MCPError, match="no tool 'no_such_tool'"):
            await client.read_resource("monitor://schemas/no_such_tool")
