"""Hypothesis profiles and the loopback-only world the fuzz campaign runs in.

Profiles (`HYPOTHESIS_PROFILE`): `ci` (the default) is derandomized with a modest number of
examples, so that tests/fuzz stays around two minutes and fails the same way on every run;
`deep` draws many more, randomly, for the reliability report.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, zone
from support.ports import free_port

_SLOW = [
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None, database=None, suppress_health_check=_SLOW
)
settings.register_profile(
    "deep", max_examples=1000, deadline=None, database=None, suppress_health_check=_SLOW
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# What the local DNS server knows; every other name is NXDOMAIN. Every address in it is one the
# default policy refuses, so a generated target can be resolved but never dialled.
RECORDS = {
    ("loop.test.", "A"): ["127.0.0.1"],
    ("loop.test.", "AAAA"): ["::1"],
    ("private.test.", "A"): ["10.0.0.1"],
    ("mail.test.", "MX"): ["10 loop.test."],
    ("mail.test.", "TXT"): ['"v=spf1 ip4:127.0.0.1 include:loop.test include:nx.test -all"'],
    ("_dmarc.mail.test.", "TXT"): ['"v=DMARC1; p=reject; rua=mailto:d@mail.test"'],
    ("_mta-sts.mail.test.", "TXT"): ['"v=STSv1; id=1"'],
    ("mta-sts.mail.test.", "A"): ["127.0.0.1"],
    ("s1._domainkey.mail.test.", "TXT"): ['"v=DKIM1; k=rsa; p=AAAA"'],
    ("1.0.0.127.in-addr.arpa.", "PTR"): ["loop.test."],
}

# The calls' own timeout: small, so that a target that never answers costs little, and a bound
# past which a call counts as hung.
MAX_TIMEOUT_S = 3.0
CALL_BOUND_S = MAX_TIMEOUT_S + 7.0


@pytest.fixture
def fuzz_settings(dns_server: DNSServer, tmp_path: Path) -> Settings:
    """Default policy (internal addresses refused), every resolver and remote service on loopback.

    Target names and the DNS tools' default server go to the local DNS server; the root hints
    name a loopback address where nothing listens, RDAP a closed loopback port; the watches use
    a SQLite file in the test's directory.
    """
    dns_server.handler = zone(RECORDS, origin="test.")
    local = f"127.0.0.1:{dns_server.port}"
    hints = tmp_path / "root.hints"
    hints.write_text(". NS a.root.fuzz.\na.root.fuzz. A 127.0.99.1\n")
    fuzz = Settings(
        resolver=local,
        dns_resolvers=(local,),
        dns_root_hints=hints,
        rdap_url=(f"http://127.0.0.1:{free_port()}/",),
        db=str(tmp_path / "monitor.db"),
        timeout_s=2.0,
        max_timeout_s=MAX_TIMEOUT_S,
        max_targets=50,
        # The per-host rate limit would hold the local DNS server (which every DNS tool asks) to
        # 10 queries a second: this campaign is about input handling; the limiter has its own tests.
        rate_limit_per_host=0.0,
    )
    set_settings(fuzz)
    return fuzz
