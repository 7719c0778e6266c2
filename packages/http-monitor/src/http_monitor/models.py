"""Result models of http-monitor's tools. Light on imports: the server declares them at start-up."""

from __future__ import annotations

from monitor_common.results import CheckResult
from pydantic import BaseModel, Field

__all__ = ["HttpCheckResult", "HttpTimings"]


class HttpTimings(BaseModel):
    """Where the time went, in milliseconds."""

    total: float = Field(description="From the start of the check to the end of the body")


class HttpCheckResult(CheckResult):
    """What `http_check` saw."""

    url: str = Field(description="The URL checked (credentials redacted)")
    final_url: str | None = Field(default=None, description="The URL of the last response, after redirects")
    status_code: int | None = Field(
        default=None, description="Status of the last response; null if none came"
    )
    reason: str | None = Field(default=None, description="Reason phrase of the last response")
    http_version: str | None = Field(default=None, description="HTTP/1.1 or HTTP/2")
    remote_ip: str | None = Field(default=None, description="Address the last response came from")
    redirect_count: int = Field(default=0, description="Redirects followed")
    body_bytes: int | None = Field(default=None, description="Size of the decoded response body")
    timings_ms: HttpTimings | None = None
