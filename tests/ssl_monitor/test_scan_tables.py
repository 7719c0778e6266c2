"""The pure parts of tls_scan: the suite table, ClientHello/ServerHello bytes, grading, Mozilla profiles."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from ssl_monitor.grade import grade
from ssl_monitor.hello import TLS10, TLS12, TLS13, Offer, client_hello, parse_server_hello
from ssl_monitor.models import KeyExchangeGroup, ProtocolSupport
from ssl_monitor.mozilla import ServerProfile, compliance
from ssl_monitor.suites import SUITES, suites_for


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_every_suite_openssl_knows_has_the_same_code_and_name() -> None:
    listing = subprocess.run(
        ["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    known = {int(m[1] + m[2], 16): m[3] for m in re.finditer(r"0x(..),0x(..) - (\S+)", listing)}
    assert len(known) > 100
    for code, name in known.items():
        if "PSK" in name or "SRP" in name:  # a scanner has no pre-shared key or password
            assert code not in SUITES
        else:
            assert SUITES[code].name == name


@pytest.mark.parametrize(
    ("code", "kx", "auth", "family", "pfs", "cbc"),
    [
        (0x000A, "RSA", "RSA", "3DES", False, True),
        (0x0003, "RSA", "RSA", "EXPORT", False, False),
        (0x0018, "DHE", "anon", "anon", True, False),
        (0xC015, "ECDHE", "anon", "NULL", True, False),
        (0x0009, "RSA", "RSA", "DES", False, True),
        (0x0005, "RSA", "RSA", "RC4", False, False),
        (0xC030, "ECDHE", "RSA", None, True, False),
        (0x0031, "DH", "RSA", None, False, True),
        (0xC0AC, "ECDHE", "ECDSA", None, True, False),
        (0x1301, "ANY", "ANY", None, True, False),
    ],
)
def test_suite_attributes_come_from_the_name(
    code: int, kx: str, auth: str, family: str | None, pfs: bool, cbc: bool
) -> None:
    suite = SUITES[code]
    assert (suite.kx, suite.auth, suite.family, suite.pfs, suite.cbc) == (kx, auth, family, pfs, cbc)


def test_versions_are_offered_only_what_they_define() -> None:
    assert set(suites_for(TLS13)) == {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}
    tls10, tls12 = set(suites_for(TLS10)), set(suites_for(TLS12))
    assert 0xC02F not in tls10 and 0xC02F in tls12  # GCM is TLS 1.2 only
    assert 0x002F in tls10 and tls10 < tls12
    assert suites_for(TLS12)[0] in (0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0xCCA9)  # strongest first


def test_client_hello_offers_what_it_is_told() -> None:
    record = client_hello(Offer(TLS13, [0x1301, 0x1302], groups=[0x001D, 0x0017]), "example.test")
    assert record[0] == 22 and struct.unpack("!H", record[3:5])[0] == len(record) - 5
    body = record[9:]
    assert body[:2] == b"\x03\x03"  # legacy_version; TLS 1.3 is in supported_versions
    at = 35 + body[34]
    assert body[at : at + 6] == b"\x00\x04\x13\x01\x13\x02"
    assert b"example.test" in body and b"\x00\x2b\x00\x03\x02\x03\x04" in body  # supported_versions


def _server_hello(version: int, suite: int, random: bytes, extensions: bytes = b"") -> bytes:
    return (struct.pack("!H", version) + random + b"\x00" + struct.pack("!H", suite) + b"\x00"
            + struct.pack("!H", len(extensions)) + extensions)  # fmt: skip


def test_server_hello_and_hello_retry_request() -> None:
    plain = parse_server_hello(_server_hello(TLS12, 0xC02F, bytes(32)))
    assert (plain.version, plain.suite, plain.retry) == (TLS12, 0xC02F, False)
    hrr_random = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    extensions = b"\x00\x2b\x00\x02\x03\x04" + b"\x00\x33\x00\x02\x00\x18"  # TLS 1.3, secp384r1
    retry = parse_server_hello(_server_hello(TLS12, 0x1302, hrr_random, extensions))
    assert (retry.version, retry.suite, retry.group, retry.retry) == (TLS13, 0x1302, 0x0018, True)


def _protocol(version: str, *codes: int) -> ProtocolSupport:
    return ProtocolSupport(version=version, state="enabled", ciphers=[SUITES[c].name for c in codes])


def _group(name: str, kind: str, bits: int) -> KeyExchangeGroup:
    return KeyExchangeGroup(name=name, kind=kind, bits=bits, protocols=["TLSv1.2"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("protocols", "groups", "expected"),
    [
        ([_protocol("TLSv1.3", 0x1301), _protocol("TLSv1.2", 0xC02F)], [_group("x25519", "ec", 253)], []),
        ([_protocol("TLSv1", 0x002F)], [], ["modern_tls_missing", "no_forward_secrecy"]),
        ([_protocol("SSLv3", 0x0005), _protocol("TLSv1.2", 0xC02F)], [],
         ["ssl3_enabled", "tls13_missing", "weak_cipher"]),
        ([_protocol("TLSv1.2", 0x002F, 0x000A)], [], ["cbc_only", "no_forward_secrecy", "tls13_missing", "weak_cipher"]),
        ([_protocol("TLSv1.2", 0x0034, 0x003B)], [], ["anonymous_cipher", "cbc_only", "null_cipher", "tls13_missing"]),
        ([_protocol("TLSv1.2", 0x009E), _protocol("TLSv1.3", 0x1301)],
         [_group("dh-1024", "dh", 1024), _group("secp224r1", "ec", 224)], ["unusual_curve", "weak_dh"]),
        ([_protocol("TLSv1.1", 0xC013), _protocol("TLSv1.3", 0x1301)], [], ["tls11_enabled"]),
    ],
)  # fmt: skip
def test_grade(protocols: list[ProtocolSupport], groups: list[KeyExchangeGroup], expected: list[str]) -> None:
    findings = grade(protocols, groups)
    assert sorted(f.code for f in findings) == expected
    assert all(f.message and f.hint for f in findings)


def _profile(**changes: object) -> ServerProfile:
    base: dict[str, object] = {
        "versions": ["TLSv1.3"], "ciphers": [], "ciphersuites": ["TLS_AES_128_GCM_SHA256"],
        "curves": ["x25519"], "dh_bits": None, "ecdh_bits": 256, "certificate_type": "ecdsa",
        "rsa_bits": None, "lifespan_days": 90.0,
    }  # fmt: skip
    return ServerProfile(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("server", "profile", "first_miss"),
    [
        (_profile(), "modern", None),
        (_profile(versions=["TLSv1.2", "TLSv1.3"], ciphers=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]),
         "intermediate", "accepts TLSv1.2; modern allows only TLSv1.3"),
        (_profile(certificate_type="rsa", rsa_bits=2048), "intermediate", "the certificate's key is rsa"),
        (_profile(lifespan_days=200.0), "intermediate", "a certificate lifetime of 200 days"),
        (_profile(versions=["TLSv1", "TLSv1.3"], ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"], certificate_type="rsa",
                  rsa_bits=2048), "old", "accepts TLSv1; intermediate allows only"),
        (_profile(versions=["TLSv1.2"], ciphers=["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"], dh_bits=1024,
                  certificate_type="rsa", rsa_bits=2048), "old", "DH parameters of 1024 bits; intermediate needs 2048"),
        (_profile(versions=["TLSv1.2"], ciphers=["TLS_RSA_WITH_RC4_128_SHA"]), None,
         "accepts suites outside old: TLS_RSA_WITH_RC4_128_SHA"),
        (_profile(curves=["x25519", "secp521r1"]), None, "accepts groups outside old: secp521r1"),
    ],
)  # fmt: skip
def test_mozilla_profiles(server: ServerProfile, profile: str | None, first_miss: str | None) -> None:
    result = compliance(server)
    assert result.profile == profile
    if first_miss is None:
        assert result.next_profile is None and result.misses == []
    else:
        assert result.misses[0].startswith(first_miss), result.misses
