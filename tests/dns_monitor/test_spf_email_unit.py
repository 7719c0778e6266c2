"""Pure-function tier for SPF expansion and the email tag and pattern helpers."""

from __future__ import annotations

import pytest
from dns_monitor.email import mx_pattern_matches, parse_tags
from dns_monitor.query import Values
from dns_monitor.spf import check_spf

TXT = {
    "example.test": ["v=spf1 include:a.test redirect=r.test"],
    "a.test": ["v=spf1 ip4:192.0.2.0/24 -all"],
    "r.test": ["v=spf1 mx -all"],
    "loop.test": ["v=spf1 include:loop.test -all"],
    "eleven.test": ["v=spf1 " + " ".join(["a"] * 11) + " -all"],
}
MX = {
    "many-mx.test": [f"10 mx{i}.test." for i in range(11)],
    "ten-mx.test": [f"10 mx{i}.test." for i in range(10)],
}


async def ask(name: str, rdtype: str) -> Values:
    if rdtype == "TXT":
        return Values(rcode="NOERROR" if name in TXT else "NXDOMAIN", values=TXT.get(name, []))
    if rdtype == "MX":
        return Values(rcode="NOERROR", values=MX.get(name, ["10 mx.test."]))
    return Values(rcode="NOERROR", values=["192.0.2.1"])


@pytest.mark.parametrize(
    ("record", "codes", "lookups", "final"),
    [
        ("v=spf1 -all", [], 0, "-all"),
        ("v=spf1 +all", ["spf_allows_all"], 0, "+all"),
        ("v=spf1 all", ["spf_allows_all"], 0, "+all"),
        ("v=spf1 ?all", ["spf_neutral_all"], 0, "?all"),
        ("v=spf1 ip4:192.0.2.1", ["spf_no_all"], 0, None),
        ("v=spf1 ip4:300.1.1.1 -all", ["spf_syntax_error"], 0, "-all"),
        ("v=spf1 bogus:x -all", ["spf_syntax_error"], 0, "-all"),
        ("v=spf1 ptr -all", ["spf_ptr"], 1, "-all"),
        ("v=spf1 include:nothing.test -all", ["spf_include_missing"], 1, "-all"),
        # include + (include a.test + redirect + mx) = 4; the included all does not end this record
        ("v=spf1 include:example.test", ["spf_no_all"], 4, None),
        ("v=spf1 include:loop.test -all", ["spf_too_many_lookups"], 11, "-all"),
        ("v=spf1 " + " ".join(["a"] * 11) + " -all", ["spf_too_many_lookups"], 11, "-all"),
        # Evaluation stopped before the redirect was read: its all term is unknown, not missing.
        ("v=spf1 include:eleven.test redirect=a.test", ["spf_too_many_lookups"], 11, None),
        ("v=spf1 include:eleven.test", ["spf_no_all", "spf_too_many_lookups"], 11, None),
        ("v=spf1 mx:ten-mx.test -all", [], 1, "-all"),
        ("v=spf1 mx:many-mx.test a a -all", ["spf_too_many_mx"], 1, "-all"),
    ],
)
async def test_spf(record: str, codes: list[str], lookups: int, final: str | None) -> None:
    info, findings = await check_spf("d.test", Values(rcode="NOERROR", values=[record, "other text"]), ask)
    assert sorted({f.code for f in findings}) == codes
    assert info.dns_lookups == lookups
    assert info.all == final


class Counting:
    """An endless tree: every name's record includes three names one level further down."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, name: str, rdtype: str) -> Values:
        self.asked.append(name)
        below = len(name.split(".")) - 1
        includes = " ".join(f"include:n{i}.{name}" for i in range(3)) if below < 60 else ""
        return Values(rcode="NOERROR", values=[f"v=spf1 {includes} -all"])


async def test_evaluation_stops_at_the_eleventh_lookup_unasked() -> None:
    ask = Counting()
    info, findings = await check_spf(
        "d.test", Values(rcode="NOERROR", values=["v=spf1 include:t.test -all"]), ask
    )
    assert len(ask.asked) == 10 and info.includes == ask.asked
    assert [f.code for f in findings] == ["spf_too_many_lookups"]
    assert info.dns_lookups == 11


async def test_a_record_full_of_bad_terms_gives_a_capped_list() -> None:
    record = "v=spf1 " + " ".join(f"bad{i}:x" for i in range(500)) + " " + "z" * 5000 + " -all"
    _, findings = await check_spf("d.test", Values(rcode="NOERROR", values=[record]), ask)
    assert [f.code for f in findings] == ["spf_syntax_error"] * 10
    assert "and 491 more spf_syntax_error findings, not listed" in findings[-1].message
    assert sum(len(f.message) for f in findings) < 3000


async def test_two_spf_records_are_an_error() -> None:
    _, findings = await check_spf(
        "d.test", Values(rcode="NOERROR", values=["v=spf1 -all", "v=spf1 mx -all"]), ask
    )
    assert [f.code for f in findings] == ["spf_multiple"]


async def test_no_spf_record() -> None:
    _, findings = await check_spf(
        "d.test", Values(rcode="NOERROR", values=["google-site-verification=x"]), ask
    )
    assert [f.code for f in findings] == ["spf_missing"]


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mx.example.com", "mx.example.com.", True),
        ("*.example.com", "mx1.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("mx.example.com", "mx2.example.com", False),
    ],
)
def test_mta_sts_mx_patterns(pattern: str, host: str, matches: bool) -> None:
    assert mx_pattern_matches(pattern, host) is matches


def test_tags() -> None:
    assert parse_tags("v=DMARC1; p=reject ;RUA=mailto:a@b.test, mailto:c@d.test;") == {
        "v": "DMARC1",
        "p": "reject",
        "rua": "mailto:a@b.test, mailto:c@d.test",
    }
