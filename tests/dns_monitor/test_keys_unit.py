"""dns_monitor.keys' pure judgements: DS digest types, DNSKEY algorithms and RSA key sizes."""

from __future__ import annotations

import base64
import warnings

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import dns.dnssec

from dns_monitor.cds import Served, cds_findings
from dns_monitor.keys import algorithm_findings, digest_findings
from monitor_common.results import Finding


def by_code(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.code, []).append(finding)
    return out


@pytest.mark.parametrize(
    ("ds", "expected"),
    [
        ([(1, 13, 2)], {}),
        ([(1, 13, 4)], {}),
        ([(1, 13, 1)], {"deprecated_algorithm": "warning"}),
        ([(1, 13, 3)], {"deprecated_algorithm": "warning"}),
        ([(1, 13, 1), (1, 13, 2)], {"deprecated_algorithm": "ok"}),
        ([(1, 13, 2), (1, 13, 0)], {"ds_digest_invalid": "warning"}),
        ([(1, 13, 2), (1, 13, 99)], {"ds_digest_invalid": "warning"}),
        # SHA-1 only for key 1, SHA-256 for key 2: key 1 alone is named
        ([(1, 13, 1), (2, 13, 2)], {"deprecated_algorithm": "warning"}),
    ],
)
def test_digest_types(ds: list[tuple[int, int, int]], expected: dict[str, str]) -> None:
    found = by_code(digest_findings("example.test.", ds))
    assert {code: [f.severity.value for f in fs] for code, fs in found.items()} == {
        code: [severity] for code, severity in expected.items()
    }


def test_sha1_only_names_only_the_key_without_sha256() -> None:
    (finding,) = digest_findings("example.test.", [(111, 13, 1), (222, 13, 2), (222, 13, 1)])[:1]
    assert "111" in finding.message and "222" not in finding.message


def keyset(*keys: tuple[object, int, int]) -> dns.rrset.RRset:
    """A DNSKEY set of (public key, algorithm, flags)."""
    rrset = dns.rrset.RRset(dns.name.from_text("example.test."), dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for public, algorithm, flags in keys:
        rrset.add(dns.dnssec.make_dnskey(public, algorithm, flags))  # pyright: ignore[reportArgumentType]
    return rrset


def rsa_key(bits: int, algorithm: int = 8, flags: int = 257) -> str:
    """DNSKEY rdata of an RSA key with a modulus of exactly `bits` bits (RFC 3110 wire form; not a
    real key pair, and written by hand because dnspython refuses to encode sizes outside 512-4096)."""
    modulus = ((1 << (bits - 1)) | 1).to_bytes((bits + 7) // 8, "big")
    return f"{flags} 3 {algorithm} " + base64.b64encode(b"\x03\x01\x00\x01" + modulus).decode()


def rrset_of(*rdatas: str) -> dns.rrset.RRset:
    return dns.rrset.from_text_list("example.test.", 300, "IN", "DNSKEY", list(rdatas))


def test_rsa_sizes() -> None:
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key()
    rrset = keyset((ecdsa, 13, 257))
    rrset.union_update(rrset_of(rsa_key(2048, flags=256), rsa_key(4096, flags=256)))
    findings = by_code(algorithm_findings("example.test.", rrset))
    assert findings == {}
    findings = by_code(algorithm_findings("example.test.", rrset_of(rsa_key(1024))))
    assert [f.severity.value for f in findings["dnskey_too_small"]] == ["warning"]
    assert "1024 bits" in findings["dnskey_too_small"][0].message
    findings = by_code(algorithm_findings("example.test.", rrset_of(rsa_key(1000, 10))))
    assert findings["dnskey_too_small"][0].severity.value == "critical"  # RSASHA512 starts at 1024
    findings = by_code(algorithm_findings("example.test.", rrset_of(rsa_key(4104))))
    assert findings["dnskey_too_large"][0].severity.value == "critical"
    assert "4104 bits" in findings["dnskey_too_large"][0].message


@pytest.mark.parametrize(
    ("algorithm", "code", "severity"),
    [
        (1, "deprecated_algorithm", "critical"),  # RSAMD5: must not
        (5, "deprecated_algorithm", "warning"),  # RSASHA1: not recommended
        (10, "deprecated_algorithm", "warning"),  # RSASHA512: not recommended
        (8, None, None),
    ],
)
def test_rsa_algorithms(algorithm: int, code: str | None, severity: str | None) -> None:
    findings = algorithm_findings("example.test.", rrset_of(rsa_key(2048, algorithm)))
    assert [(f.code, f.severity.value) for f in findings] == ([(code, severity)] if code else [])


@pytest.mark.parametrize(
    ("algorithm", "why"),
    [(0, "not for zone signing"), (4, "reserved"), (100, "unassigned"), (200, "reserved"), (254, "private")],
)
def test_unusable_algorithm_numbers(algorithm: int, why: str) -> None:
    rrset = dns.rrset.from_text("example.test.", 300, "IN", "DNSKEY", f"257 3 {algorithm} AQIDBAUGBwgJ")
    (finding,) = algorithm_findings("example.test.", rrset)
    assert finding.code == "dnskey_algorithm_invalid" and finding.severity.value == "critical"
    assert f"algorithm {algorithm}" in finding.message and why in finding.message


def served_answer(zone: str, *rrsets: dns.rrset.RRset) -> dns.message.Message:
    """An authoritative NOERROR answer holding `rrsets`."""
    response = dns.message.make_response(dns.message.make_query(zone, "CDS"))
    response.flags |= dns.flags.AA
    response.answer.extend(rrsets)
    return response


def test_delete_cds_beside_other_records_is_mixed() -> None:
    # BIND refuses to load such a zone, so the tree cannot serve it: the answer is built here.
    zone = "example.test."
    keys = dns.rrset.from_text_list(zone, 300, "IN", "DNSKEY", [rsa_key(2048)])
    (key,) = list(keys)  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    ds = dns.dnssec.make_ds(zone, key, "SHA256")  # pyright: ignore[reportUnknownArgumentType]
    cds = dns.rrset.from_text_list(zone, 300, "IN", "CDS", ["0 0 0 00", str(ds)])
    served = [
        Served(
            "ns1.example. (192.0.2.1)",
            cds=served_answer(zone, cds),
            cdnskey=served_answer(zone),
            dnskey=served_answer(zone, keys),
        )
    ]
    found = by_code(cds_findings(zone, served, None))
    (mixed,) = found["cds_delete_mixed"]
    assert (
        mixed.severity.value == "critical" and "0 0 0 00" in mixed.message and "ns1.example." in mixed.message
    )
    assert "cds_delete" not in found


def test_delete_cds_alone_is_a_notice() -> None:
    zone = "example.test."
    served = [
        Served(
            "ns1.example. (192.0.2.1)",
            cds=served_answer(zone, dns.rrset.from_text(zone, 300, "IN", "CDS", "0 0 0 00")),
            cdnskey=served_answer(zone, dns.rrset.from_text(zone, 300, "IN", "CDNSKEY", "0 3 0 AA==")),
            dnskey=served_answer(zone),
        )
    ]
    found = by_code(cds_findings(zone, served, None))
    assert [f.severity.value for f in found["cds_delete"]] == ["ok"]
    # The zone is already unsigned (no DNSKEY): the delete request is all there is to say.
    assert list(found) == ["cds_delete"]


def test_cdnskey_of_a_key_without_the_zone_flag_is_critical() -> None:
    zone = "example.test."
    keys = dns.rrset.from_text_list(zone, 300, "IN", "DNSKEY", [rsa_key(2048, flags=1)])
    cdnskey = dns.rrset.from_text_list(zone, 300, "IN", "CDNSKEY", [rsa_key(2048, flags=1)])
    served = [
        Served(
            "ns1.example. (192.0.2.1)", cdnskey=served_answer(zone, cdnskey), dnskey=served_answer(zone, keys)
        )
    ]
    (finding,) = by_code(cds_findings(zone, served, None))["cds_matches_no_dnskey"]
    assert finding.severity.value == "critical" and "not a zone key" in finding.message


def test_cds_with_a_signature_that_does_not_validate() -> None:
    zone = "example.test."
    private = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(private.public_key(), 13, 257)
    keys = dns.rrset.from_rdata_list(zone, 300, [dnskey])
    ds = dns.dnssec.make_ds(zone, dnskey, "SHA256")
    cds = dns.rrset.from_text_list(zone, 300, "IN", "CDS", [str(ds)])
    signed = dns.rrset.from_rdata_list(
        zone, 300, [dns.dnssec.sign(cds, private, dns.name.from_text(zone), dnskey, lifetime=3600)]
    )
    other = dns.rrset.from_text_list(zone, 300, "IN", "CDS", [str(ds).rsplit(" ", 1)[0] + " " + "00" * 32])
    tag = dns.dnssec.key_id(dnskey)
    keysig = dns.rrset.from_rdata_list(
        zone, 300, [dns.dnssec.sign(keys, private, dns.name.from_text(zone), dnskey, lifetime=3600)]
    )
    good = Served(
        "ns1.example. (192.0.2.1)",
        cds=served_answer(zone, cds, signed),
        dnskey=served_answer(zone, keys, keysig),
    )
    assert cds_findings(zone, [good], {tag}) == []
    # The same signature over other records (a record changed after signing) does not validate.
    bad = Served(
        "ns1.example. (192.0.2.1)",
        cds=served_answer(zone, other, signed),
        dnskey=served_answer(zone, keys, keysig),
    )
    found = by_code(cds_findings(zone, [bad], {tag}))
    assert [f.severity.value for f in found["cds_signature_invalid"]] == ["critical"]
    assert "cds_not_signed_by_ds_key" not in found  # signed by the DS key, only not validly
