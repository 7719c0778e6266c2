"""JSON-RPC 2.0 framing errors, for the transports (stdio in `server` and `_stdio`, streamable HTTP in `_http`)."""

from __future__ import annotations

from typing import Any, cast

from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

__all__ = ["protocol_error", "unusable_id"]


def protocol_error(exc: Exception) -> JSONRPCError:
    """The JSON-RPC 2.0 answer to a line that is not a valid message.

    -32700 (parse error, id null) when it is not JSON; else -32600 (invalid request), with the
    request's id when it has a usable one, null otherwise, as section 5 of the specification says.
    """
    errors: list[Any] = list(exc.errors()) if isinstance(exc, ValidationError) else []
    if not errors or any(e["type"] == "json_invalid" for e in errors):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
    request_id: str | int | None = None
    for error in errors:
        candidate = cast("dict[str, Any]", error["input"]) if isinstance(error["input"], dict) else {}
        value = candidate.get("id")
        if "method" in candidate and isinstance(value, str | int) and not isinstance(value, bool):
            request_id = value
            break
    return JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=ErrorData(code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message"),
    )


def unusable_id(parsed: object) -> JSONRPCError | None:
    """The -32600 answer (id null) to a parsed request whose id is neither a string nor an integer.

    The SDK takes such a request (an id that is an object, a list, a boolean, null, NaN, 1e400 or
    1.5) for a notification, which gets no answer: its sender would wait forever.
    """
    if not isinstance(parsed, dict) or "method" not in parsed or "id" not in parsed:
        return None
    request_id = cast("dict[str, object]", parsed)["id"]
    if isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)):
        return None
    return JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=ErrorData(code=INVALID_REQUEST, message="Invalid Request: id must be a string or an integer"),
    )
