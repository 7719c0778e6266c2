"""Unit tier of dns_monitor.denial: the order rules of NSEC/NSEC3 coverage, and the judgement of
denial answers that real servers rarely give (SERVFAIL, NSEC and NSEC3 in one answer, expired
NSEC signatures, an NSEC3 chain that misses the name), built with dnspython and signed with a
fresh key."""

from __future__ import annotations

import time
import warnings
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import dns.dnssectypes
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from dns_monitor.denial import _denial, _hash_covers, _nsec_covers, _Served  # pyright: ignore[reportPrivateUsage]

with warnings.catch_warnings():  # dnspython's DSA classes name cryptography's deprecated DSA types
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import dns.dnssec

if TYPE_CHECKING:
    from dns_monitor.survey import SignedZone

ZONE = "example.test."
PROBE = f"_denial-0001.{ZONE}"
KEY = ec.generate_private_key(ec.SECP256R1())
DNSKEY = dns.dnssec.make_dnskey(KEY.public_key(), dns.dnssectypes.Algorithm.ECDSAP256SHA256, flags=257)


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


@pytest.mark.parametrize(
    ("owner", "following", "queried", "covered"),
    [
        ("a.z.", "c.z.", "b.z.", True),
        ("a.z.", "c.z.", "c.z.", False),  # the next name exists
        ("a.z.", "c.z.", "a.z.", False),  # the owner exists
        ("a.z.", "c.z.", "d.z.", False),
        ("z.", "a.z.", "_x.z.", True),  # the apex NSEC: "_" sorts before letters
        ("z.", "_b.z.", "_x.z.", False),  # the gap of den-nsecgap.test
        ("y.z.", "z.", "zz.z.", True),  # the last NSEC points back to the apex
        ("y.z.", "z.", "b.z.", False),
        ("b.z.", "c.z.", "x.b.z.", True),  # below b, before c in canonical order
        ("A.z.", "C.z.", "b.z.", True),  # case does not count
    ],
)
def test_nsec_coverage_follows_canonical_order(
    owner: str, following: str, queried: str, covered: bool
) -> None:
    assert _nsec_covers(name(owner), name(following), name(queried)) is covered


@pytest.mark.parametrize(
    ("owner", "following", "hashed", "covered"),
    [
        ("2", "8", "5", True),
        ("2", "8", "8", False),
        ("2", "8", "2", False),
        ("V", "2", "0", True),  # the last NSEC3 wraps around to the first hash
        ("V", "2", "VV", True),
        ("V", "2", "5", False),
    ],
)
def test_nsec3_coverage_wraps_around(owner: str, following: str, hashed: str, covered: bool) -> None:
    assert _hash_covers(owner, following, hashed) is covered


def keys() -> dns.rrset.RRset:
    return dns.rrset.from_rdata(ZONE, 300, DNSKEY)


def signed_zone(denial: str | None = "nsec") -> SignedZone:
    return cast("SignedZone", SimpleNamespace(zone=ZONE, keys=keys(), status="secure", denial=denial))


def signature(rrset: dns.rrset.RRset, *, inception: float, expiration: float) -> dns.rrset.RRset:
    sig = dns.dnssec.sign(
        rrset, KEY, name(ZONE), DNSKEY, inception=int(inception), expiration=int(expiration)
    )
    return dns.rrset.from_rdata(rrset.name, rrset.ttl, sig)


def answer(
    *records: tuple[str, str, str], rcode: dns.rcode.Rcode = dns.rcode.NXDOMAIN, age: float = 0
) -> Any:
    """An authoritative answer to PROBE whose authority section holds `records` (owner, type,
    rdata), each with an RRSIG made `age` seconds ago (valid 30 days from then)."""
    response = dns.message.make_response(dns.message.make_query(PROBE, "A", want_dnssec=True))
    response.flags |= dns.flags.AA
    response.set_rcode(rcode)
    now = time.time() - age
    for owner, rdtype, rdata in records:
        rrset = dns.rrset.from_text(owner, 300, "IN", rdtype, rdata)
        response.authority += [rrset, signature(rrset, inception=now - 3600, expiration=now + 30 * 86400)]
    return response


def served(address: str, response: dns.message.Message) -> _Served:
    return _Served(address, address, {"probe": response})


def judged(*servers: _Served, denial: str | None = "nsec") -> dict[str, dict[str, Any]]:
    return {f.code: f.model_dump() for f in _denial(signed_zone(denial), list(servers), PROBE)}


NSEC_OK = (ZONE, "NSEC", f"www.{ZONE} NS SOA RRSIG NSEC DNSKEY")


def nsec3(owner_of: str, following: str, params: str = "1 0 0 -") -> tuple[str, str, str]:
    return (f"{owner_of}.{ZONE}", "NSEC3", f"{params} {following} A RRSIG")


def hashed(text: str, salt: str | None = None, iterations: int = 0) -> str:
    return dns.dnssec.nsec3_hash(text, salt, iterations, 1)


def test_a_valid_nsec_proof_is_no_finding() -> None:
    assert judged(served("192.0.2.1", answer(NSEC_OK)), served("192.0.2.2", answer(NSEC_OK))) == {}


def test_a_server_that_fails_the_missing_name_is_named() -> None:
    failing = served("192.0.2.2", answer(rcode=dns.rcode.SERVFAIL))
    found = judged(served("192.0.2.1", answer(NSEC_OK)), failing)
    assert list(found) == ["denial_failed"]
    assert found["denial_failed"]["severity"] == "critical"
    assert (
        "192.0.2.2" in found["denial_failed"]["message"]
        and "192.0.2.1" not in found["denial_failed"]["message"]
    )


def test_nsec_and_nsec3_in_one_answer_are_inconsistent() -> None:
    mixed = answer(NSEC_OK, nsec3(hashed(ZONE), hashed(ZONE)))
    found = judged(served("192.0.2.1", mixed))
    assert found["denial_inconsistent"]["severity"] == "critical"
    assert "192.0.2.1 send NSEC and NSEC3 in one answer" in found["denial_inconsistent"]["message"]


def test_a_server_without_denial_records_is_named_when_the_others_send_them() -> None:
    bare = served("192.0.2.2", answer())
    found = judged(served("192.0.2.1", answer(NSEC_OK)), bare)
    assert list(found) == ["denial_missing"]
    assert "192.0.2.2 answer" in found["denial_missing"]["message"]
    assert found["denial_missing"]["severity"] == "critical"  # validators answer SERVFAIL there
    # When the first server sent none either, dnssec_check's own denial_missing says it once.
    assert judged(bare, denial=None) == {}


def test_a_valid_nsec3_proof_is_no_finding_and_one_that_misses_the_name_is_named() -> None:
    apex, probe = hashed(ZONE), hashed(PROBE)
    # One NSEC3 matching the apex whose range covers the probe's hash: the whole chain of a zone
    # with one name, wrapping around.
    covering = nsec3(apex, apex)
    assert judged(served("192.0.2.1", answer(covering)), denial="nsec3") == {}
    # A range that ends just before the probe's hash (the same hash with its last digit lowered,
    # or a range that starts after it).
    low = probe[:-1] + ("0" if probe[-1] != "0" else "1")
    start, end = (low, probe) if low < probe else (probe, low)
    missing = answer(nsec3(apex, start), nsec3(start, end))
    found = judged(served("192.0.2.1", missing), denial="nsec3")
    assert found["denial_not_covering"]["severity"] == "critical"
    assert f"no NSEC3 covers the name's hash {probe}" in found["denial_not_covering"]["message"]


def test_expired_and_future_nsec_signatures_say_so() -> None:
    expired = answer(NSEC_OK, age=60 * 86400)
    future = answer(NSEC_OK, age=-7200)
    found = judged(served("192.0.2.1", expired), served("192.0.2.2", future))
    assert "192.0.2.1" in found["rrsig_expired"]["message"]
    assert "192.0.2.2" in found["rrsig_not_yet_valid"]["message"]
    assert "dnssec_bogus" not in found


def test_nsec3_parameters_per_rfc_9276() -> None:
    apex = hashed(ZONE, "ab", 150)
    found = judged(served("192.0.2.1", answer(nsec3(apex, apex, "1 1 150 AB"))), denial="nsec3")
    assert found["nsec3_iterations_insecure"]["severity"] == "warning"
    assert "150 extra iterations" in found["nsec3_iterations_insecure"]["message"]
    assert found["nsec3_salt"]["severity"] == "warning" and "AB" in found["nsec3_salt"]["message"]
    assert found["nsec3_opt_out"]["severity"] == "ok"
    assert "nsec3_iterations" not in found and "denial_not_covering" not in found
