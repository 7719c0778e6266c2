"""A check of an http:// URL builds no TLS context; an https:// one builds the one it needs.

Building a context that trusts the system store reads every CA certificate (some 20 ms): a
check that never starts TLS, or a `call` from cron, should not pay for it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from http_monitor import tls
from http_monitor.probe import http_check
from http_monitor.redirects import http_redirects
from monitor_common.context import CheckContext
from monitor_common.errors import InputError
from support.http_server import HttpServer


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ssl.SSLContext]]:
    """Every SSLContext made while the test runs (the cached ones forgotten first)."""
    made: list[ssl.SSLContext] = []
    original = ssl.SSLContext.__new__

    def counting(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = original(cls, *args, **kwargs)
        made.append(context)
        return context

    tls._context.cache_clear()  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(ssl.SSLContext, "__new__", counting)
    yield made
    tls._context.cache_clear()  # pyright: ignore[reportPrivateUsage]


async def test_http_check_of_http_url_builds_no_tls_context(
    http_server: HttpServer, ctx: CheckContext, contexts: list[ssl.SSLContext]
) -> None:
    result = await http_check(http_server.url_for("/status/200"), ctx=ctx)
    assert result.verdict == "ok", result.findings
    redirects = await http_redirects(http_server.url_for("/status/200"), ctx=ctx)
    assert redirects.verdict in ("ok", "warning")  # no https upgrade is a finding, not a failure
    assert contexts == []


async def test_a_bad_ca_bundle_is_still_refused_before_sending(
    http_server: HttpServer, ctx: CheckContext, contexts: list[ssl.SSLContext]
) -> None:
    with pytest.raises(InputError, match="ca_bundle_pem"):
        await http_check(http_server.url_for("/status/200"), ctx=ctx, ca_bundle_pem="not a certificate")
    assert http_server.count() == 0
