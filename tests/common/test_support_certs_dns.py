"""The test support code itself: the loopback DNS server and the minted TLS certificates.

Other suites rely on these behaving like the real thing, so they are checked with real
clients: dnspython over UDP and TCP, and Python's ssl against a loopback TLS listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import time
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from support import dns_fixtures, tls_fixtures
from support.certs import CertAuthority, Leaf, serve_tls
from support.dns_server import (
    DNSServer,
    answer_for,
    big_txt,
    delayed,
    drop,
    servfail,
    truncate_udp,
    wrong_id,
    zone,
)

# Also star-imported by tests/conftest.py; named here so this module works on its own.
dns_server = dns_fixtures.dns_server
ca = tls_fixtures.ca

RECORDS = {
    ("example.com.", "MX"): ["10 mail.example.com."],
    ("www.example.com.", "A"): ["192.0.2.1", "192.0.2.2"],
    ("www.example.com.", "AAAA"): ["2001:db8::1"],
    ("alias.example.com.", "CNAME"): ["www.example.com."],
    ("deep.sub.example.com.", "TXT"): ['"hello"'],
}


def query(name: str, rdtype: str = "A") -> dns.message.Message:
    return dns.message.make_query(name, rdtype)


def addresses(response: dns.message.Message) -> list[str]:
    return sorted(
        rd.to_text() for rrset in response.answer for rd in rrset if rrset.rdtype == dns.rdatatype.A
    )


# DNS server ----------------------------------------------------------------------------------


def test_answers_from_a_zone_over_udp_and_tcp(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    host, port = dns_server.address

    over_udp = dns.query.udp(query("www.example.com."), host, port=port, timeout=2)
    over_tcp = dns.query.tcp(query("WWW.Example.COM."), host, port=port, timeout=2)

    assert addresses(over_udp) == ["192.0.2.1", "192.0.2.2"]
    assert addresses(over_tcp) == ["192.0.2.1", "192.0.2.2"]
    assert over_udp.flags & dns.flags.AA
    assert dns_server.queries == {"udp": 1, "tcp": 1}
    assert [transport for transport, _ in dns_server.requests] == ["udp", "tcp"]


def test_udp_and_tcp_share_one_loopback_port(dns_server: DNSServer) -> None:
    host, port = dns_server.address
    assert ipaddress.ip_address(host).is_loopback
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect((host, port))  # refused if TCP were on another port


def test_unknown_name_is_nxdomain_and_missing_type_is_nodata_both_with_soa(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    host, port = dns_server.address

    nxdomain = dns.query.udp(query("nope.example.com."), host, port=port, timeout=2)
    nodata = dns.query.udp(query("www.example.com.", "TXT"), host, port=port, timeout=2)
    empty_non_terminal = dns.query.udp(query("sub.example.com.", "A"), host, port=port, timeout=2)

    assert nxdomain.rcode() == dns.rcode.NXDOMAIN
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []
    assert empty_non_terminal.rcode() == dns.rcode.NOERROR
    for response in (nxdomain, nodata, empty_non_terminal):
        (soa,) = response.authority
        assert soa.rdtype == dns.rdatatype.SOA
        assert soa.name.to_text() == "example.com."


def test_cname_is_followed_within_the_zone(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)

    answer = dns_server.resolver().resolve("alias.example.com.", "A")

    assert answer.canonical_name.to_text() == "www.example.com."
    assert sorted(rd.to_text() for rd in answer) == ["192.0.2.1", "192.0.2.2"]


def test_big_answer_is_truncated_over_udp_and_complete_over_tcp(dns_server: DNSServer) -> None:
    records = big_txt(60_000)
    dns_server.handler = zone({("big.example.com.", "TXT"): records})
    host, port = dns_server.address

    over_udp = dns.query.udp(query("big.example.com.", "TXT"), host, port=port, timeout=2)
    response, used_tcp = dns.query.udp_with_fallback(
        query("big.example.com.", "TXT"), host, port=port, timeout=2
    )

    assert over_udp.flags & dns.flags.TC
    assert over_udp.answer == []
    assert used_tcp
    assert len(response.answer[0]) == len(records)
    assert 50_000 < len(response.to_wire()) <= 65_535
    assert dns_server.queries == {"udp": 2, "tcp": 1}


def test_truncate_udp_forces_tcp_fallback(dns_server: DNSServer) -> None:
    dns_server.handler = truncate_udp(zone(RECORDS))
    host, port = dns_server.address

    response, used_tcp = dns.query.udp_with_fallback(query("www.example.com."), host, port=port, timeout=2)

    assert used_tcp
    assert addresses(response) == ["192.0.2.1", "192.0.2.2"]
    assert dns_server.queries == {"udp": 1, "tcp": 1}


def test_resolver_falls_back_to_tcp_on_truncation(dns_server: DNSServer) -> None:
    dns_server.handler = truncate_udp(zone(RECORDS))

    answer = dns_server.resolver().resolve("www.example.com.", "A")

    assert sorted(rd.to_text() for rd in answer) == ["192.0.2.1", "192.0.2.2"]
    assert dns_server.queries["tcp"] == 1


def test_servfail_and_default_refused(dns_server: DNSServer) -> None:
    host, port = dns_server.address

    refused = dns.query.udp(query("www.example.com."), host, port=port, timeout=2)
    dns_server.handler = servfail
    failed = dns.query.tcp(query("www.example.com."), host, port=port, timeout=2)

    assert refused.rcode() == dns.rcode.REFUSED
    assert failed.rcode() == dns.rcode.SERVFAIL


def test_dropping_makes_the_client_time_out(dns_server: DNSServer) -> None:
    dns_server.handler = drop
    host, port = dns_server.address

    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query("www.example.com."), host, port=port, timeout=0.3)
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(query("www.example.com."), host, port=port, timeout=0.3)
    assert dns_server.queries == {"udp": 1, "tcp": 1}


def test_delayed_answer_arrives_late(dns_server: DNSServer) -> None:
    dns_server.handler = delayed(0.4, zone(RECORDS))
    host, port = dns_server.address

    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query("www.example.com."), host, port=port, timeout=0.1)
    t0 = time.monotonic()
    response = dns.query.udp(query("www.example.com."), host, port=port, timeout=3)

    assert time.monotonic() - t0 >= 0.35
    assert addresses(response) == ["192.0.2.1", "192.0.2.2"]


def test_wrong_id_and_other_name_are_rejected_by_the_client(dns_server: DNSServer) -> None:
    host, port = dns_server.address

    dns_server.handler = wrong_id(zone(RECORDS))
    with pytest.raises(dns.query.BadResponse):
        dns.query.udp(query("www.example.com."), host, port=port, timeout=2)

    dns_server.handler = answer_for("evil.example.net.", zone({("evil.example.net.", "A"): ["192.0.2.66"]}))
    with pytest.raises(dns.query.BadResponse):
        dns.query.udp(query("www.example.com."), host, port=port, timeout=2)


def test_several_replies_go_out_in_order(dns_server: DNSServer) -> None:
    good = zone(RECORDS)
    dns_server.handler = lambda request, transport: [
        wrong_id(good)(request, transport),
        good(request, transport),
    ]
    host, port = dns_server.address

    response = dns.query.udp(query("www.example.com."), host, port=port, timeout=2, ignore_errors=True)

    assert addresses(response) == ["192.0.2.1", "192.0.2.2"]


async def test_async_resolver_against_the_server(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns_server.host]
    resolver.port = dns_server.port
    resolver.lifetime = 2

    answer = await resolver.resolve("www.example.com.", "AAAA")

    assert [rd.to_text() for rd in answer] == ["2001:db8::1"]


def test_stop_does_not_wait_for_slow_handlers() -> None:
    server = DNSServer(delayed(30, zone(RECORDS))).start()
    host, port = server.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(query("www.example.com.").to_wire(), (host, port))
        with socket.create_connection((host, port), timeout=2) as tcp:
            wire = query("www.example.com.").to_wire()
            tcp.sendall(len(wire).to_bytes(2, "big") + wire)
            deadline = time.monotonic() + 2
            while server.queries != {"udp": 1, "tcp": 1} and time.monotonic() < deadline:
                time.sleep(0.01)
            t0 = time.monotonic()
            server.stop()
            assert time.monotonic() - t0 < 2


def test_refuses_to_bind_a_non_loopback_address() -> None:
    with pytest.raises(ValueError, match="loopback"):
        DNSServer(host="0.0.0.0")


# Certificates --------------------------------------------------------------------------------


def test_validity_windows(ca: CertAuthority) -> None:
    now = dt.datetime.now(dt.UTC)

    assert ca.expired().not_after < now
    assert ca.expired(days_ago=10).not_after < now - dt.timedelta(days=9)
    assert ca.not_yet_valid().not_before > now
    assert ca.valid().not_before < now < ca.valid().not_after
    remaining = ca.expiring_in(5).not_after - now
    assert dt.timedelta(days=4, hours=23) < remaining <= dt.timedelta(days=5)


def test_leaf_contents(ca: CertAuthority) -> None:
    leaf = ca.issue_leaf(
        ["localhost", "127.0.0.1", "::1"], must_staple=True, ocsp_url="http://127.0.0.1:1/ocsp"
    )
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    features = leaf.cert.extensions.get_extension_for_class(x509.TLSFeature).value
    assert list(features) == [x509.TLSFeatureType.status_request]
    assert leaf.cert.issuer == ca.cert.subject
    assert leaf.chain == (leaf.cert,)
    assert leaf.ca_pem == ca.cert_pem


def test_chains_and_key_types(ca: CertAuthority) -> None:
    full = ca.with_intermediate()
    bare = ca.without_intermediate()
    rsa_leaf = ca.valid(key_type="rsa")

    assert full.chain == (full.cert, ca.intermediate.cert)
    assert full.chain_pem.count("BEGIN CERTIFICATE") == 2
    assert bare.chain == (bare.cert,)
    assert bare.cert.issuer == ca.intermediate.cert.subject
    assert rsa_leaf.cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert ca.self_signed().cert.issuer == ca.self_signed().cert.subject
    assert isinstance(ca.weak_signature().cert.signature_hash_algorithm, hashes.SHA1)


def test_write_returns_loadable_files(ca: CertAuthority, tmp_path: Path) -> None:
    leaf = ca.with_intermediate()

    files = leaf.write(tmp_path)

    assert files.cert_file.read_text() == leaf.chain_pem
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert_file, files.key_file)
    client = ssl.create_default_context(cafile=str(files.ca_file))
    assert len(client.get_ca_certs()) == 1


async def handshake(leaf: Leaf, client: ssl.SSLContext, server_hostname: str = "localhost") -> None:
    """Connect to a loopback TLS server presenting `leaf`'s chain; raise if the client refuses it."""
    async with serve_tls(leaf.server_ssl_context()) as (host, port):
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=client, server_hostname=server_hostname), timeout=5
        )
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


@pytest.mark.parametrize("case", ["valid", "with_intermediate"])
async def test_good_certificates_pass_verification(ca: CertAuthority, case: str) -> None:
    leaf: Leaf = getattr(ca, case)()
    await handshake(leaf, leaf.client_ssl_context())
    await handshake(leaf, leaf.client_ssl_context(), server_hostname="127.0.0.1")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("without_intermediate", "unable to get local issuer certificate"),
        ("expired", "certificate has expired"),
        ("not_yet_valid", "certificate is not yet valid"),
        ("self_signed", "self-signed certificate"),
        ("wrong_host", "Hostname mismatch"),
        ("weak_signature", "CA signature digest algorithm too weak"),
        ("weak_key", "EE certificate key too weak"),
    ],
)
async def test_bad_certificates_fail_verification(ca: CertAuthority, case: str, reason: str) -> None:
    leaf: Leaf = getattr(ca, case)()

    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(leaf, leaf.client_ssl_context())

    assert reason in str(failure.value.verify_message)


async def test_bad_certificates_still_complete_a_handshake_without_verification(ca: CertAuthority) -> None:
    # A certificate checker connects without verification to look at what is served.
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    for leaf in (
        ca.expired(),
        ca.without_intermediate(),
        ca.self_signed(),
        ca.weak_signature(),
        ca.weak_key(),
    ):
        await handshake(leaf, client)


def test_intermediate_is_a_ca_issued_by_the_root() -> None:
    root = CertAuthority("another root")
    intermediate = root.issue_intermediate()

    constraints = intermediate.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert intermediate.cert.issuer == root.cert.subject
    assert intermediate.root is root
    assert intermediate.issue_leaf().ca_cert == root.cert
