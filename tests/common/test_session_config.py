"""session_config: what a hosted session may set from the query string, and the bounds on it."""

from __future__ import annotations

from typing import Any

import pytest
from monitor_common.config import Settings, set_settings
from monitor_common.context import get_context, session_context
from monitor_common.errors import InputError
from monitor_common.session_config import SESSION_SETTINGS, parse_query, session_changes

ALLOWED = SESSION_SETTINGS


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("timeout_s=5", {"timeout_s": 5.0}),
        ("timeout_s=%205%20&cert_warn_days=30", {"timeout_s": 5.0, "cert_warn_days": 30}),
        (
            "cert_critical_days=3&api_key=x&profile=y&config=abc",
            {"cert_critical_days": 3},
        ),  # not ours: ignored
        ("timeout_s=&cert_warn_days=", {}),  # left blank: the server's values hold
        ("MCP_MONITOR_TIMEOUT_S=7", {"timeout_s": 7.0}),
    ],
)
def test_declared_keys_are_parsed(query: str, expected: dict[str, Any]) -> None:
    assert session_changes(parse_query(query), ALLOWED, Settings()) == expected


@pytest.mark.parametrize(
    ("query", "allowed", "needle"),
    [
        ("allow_private=true", ALLOWED, "operator's setting (MCP_MONITOR_ALLOW_PRIVATE)"),
        ("cert_warn_days=30", ("timeout_s",), "A session may set timeout_s"),  # dns-monitor's list
        ("timeout_s=1&timeout_s=2", ALLOWED, "given 2 times"),
        ("timeout_s=-1", ALLOWED, "positive"),
        ("timeout_s=61", ALLOWED, "maximum of 60 s"),
        ("cert_critical_days=30", ALLOWED, "cert_critical_days=30 is above cert_warn_days=21"),
        ("rate_limit_per_host=0", ALLOWED, "operator's setting"),
    ],
)
def test_the_rest_is_refused(query: str, allowed: tuple[str, ...], needle: str) -> None:
    with pytest.raises(InputError) as refused:
        session_changes(parse_query(query), allowed, Settings())
    assert needle in str(refused.value)


def test_a_session_context_changes_only_what_it_names() -> None:
    set_settings(Settings())
    base = get_context()
    with session_context({"timeout_s": 2.5, "cert_warn_days": 40}):
        session = get_context()
        assert get_context() is session  # built once per session's values
    assert (session.timeout_s, session.cert_warn_days) == (2.5, 40)
    assert session.policy is base.policy and session.limiter is base.limiter
    assert (
        session.max_timeout_s == base.max_timeout_s and session.cert_critical_days == base.cert_critical_days
    )
    assert get_context() is base
    with pytest.raises(ValueError, match="allow_private"), session_context({"allow_private": True}):
        pass
