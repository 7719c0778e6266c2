"""What every server tells a model about its tools: descriptions, annotations, schemas, size."""

from __future__ import annotations

import importlib

import pytest
from mcp import Client

from e2e.helpers import MODULES


async def _tools(module: str) -> list[dict[str, object]]:
    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        listed = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_every_tool_is_described_for_a_model(module: str) -> None:
    for tool in await _tools(module):
        description = str(tool.get("description", "")).strip()
        first_line = description.splitlines()[0] if description else ""
        assert len(first_line) >= 20, f"{tool['name']}: the first line must say when to use it"
        annotations = tool.get("annotations")
        assert isinstance(annotations, dict), tool["name"]
        # Checks only read; `*_watch` changes the server's watches; `*_watch_report` reads only
        # the server's own store.
        changes = str(tool["name"]).endswith("_watch")
        local = str(tool["name"]).endswith("_watch_report")
        assert annotations.get("readOnlyHint") is not changes, tool["name"]
        assert annotations.get("openWorldHint") is not local, tool["name"]
        assert annotations.get("idempotentHint") is not changes, tool["name"]
        assert annotations.get("destructiveHint") in (False, None), tool["name"]
        for key in ("inputSchema", "outputSchema"):
            schema = tool.get(key)
            assert isinstance(schema, dict), (tool["name"], key)
            assert schema.get("type") == "object", (tool["name"], key)
            assert not {"oneOf", "anyOf", "allOf"} & set(schema), (tool["name"], key)
