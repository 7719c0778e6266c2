"""Requests a server cannot serve get JSON-RPC errors with valid codes and clear messages.

The 2025-11-25 specification: a tool that does not exist is a protocol error, -32602 ("Unknown
tool: <name>"), not a tool result; invalid params of a prompt (an unknown prompt, a required
argument left out) are -32602 too. None of them is the server's failure: no -32603, and no
traceback on stderr.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from e2e.helpers import MODULES, child_env

INVALID_PARAMS = -32602
PROMPTS = {"http_monitor": "investigate_outage", "ssl_monitor": "plan_certificate_renewal", "dns_monitor": "review_dns_health"}  # fmt: skip


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_unknown_tool_and_prompt_are_invalid_params(module: str) -> None:
    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        with pytest.raises(MCPError) as tool:
            await client.call_tool("no_such_tool", {})
        with pytest.raises(MCPError) as prompt:
            await client.get_prompt("no_such_prompt", {})
        with pytest.raises(MCPError) as argument:
            await client.get_prompt(PROMPTS[module], {})
        listed = (await client.list_prompts()).prompts
    assert tool.value.error.code == INVALID_PARAMS
    assert tool.value.error.message.startswith("Unknown tool: no_such_tool. This server's tools: ")
    assert prompt.value.error.code == INVALID_PARAMS
    assert (
        prompt.value.error.message
        == f"Unknown prompt: no_such_prompt. This server's prompts: {PROMPTS[module]}"
    )
    # The message names the missing argument and what it is, so the client can ask for it.
    (required,) = [a for a in listed[0].arguments or () if a.required]
    assert argument.value.error.code == INVALID_PARAMS
    assert argument.value.error.message == (
        f"Prompt {PROMPTS[module]} needs the argument {required.name} ({required.name}: {required.description})"
    )


def _exchange(module: str, requests: list[dict[str, Any]]) -> tuple[dict[Any, dict[str, Any]], str]:
    """Send `requests` to `python -m module` over stdio and wait for their answers (by id);
    then close its input and return them with its stderr."""
    opening = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else ""))
    drain.start()
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in opening + requests))
    proc.stdin.flush()
    answers: dict[Any, dict[str, Any]] = {}
    wanted = {r["id"] for r in requests}
    for line in proc.stdout:
        answer = json.loads(line)
        answers[answer.get("id")] = answer
        if wanted <= set(answers):
            break
    proc.stdin.close()
    proc.wait(timeout=30)
    drain.join(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    return answers, "".join(errors)


@pytest.mark.parametrize("module", sorted(MODULES.values()))
def test_over_stdio_without_a_traceback(module: str) -> None:
    answers, stderr = _exchange(
        module,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 2, "method": "prompts/get", "params": {"name": "no_such_prompt"}},
            {"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": PROMPTS[module], "arguments": {}}},
        ],
    )  # fmt: skip
    for request_id, needle in (
        (1, "Unknown tool: no_such_tool"),
        (2, "Unknown prompt"),
        (3, "needs the argument"),
    ):
        error = answers[request_id].get("error")
        assert error is not None and error["code"] == INVALID_PARAMS, answers[request_id]
        assert needle in error["message"]
    assert "Traceback" not in stderr and "raised" not in stderr, stderr
