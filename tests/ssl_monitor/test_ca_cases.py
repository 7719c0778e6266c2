"""Private CAs: what cert_check says of them agrees with `openssl verify` on the same minted chains,
and its messages about them help (CN without SAN, the 398-day rule under a private root)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ssl_monitor.validate import TrustAnchors, validate
from support.certs import CertAuthority, serve_tls

Tool = Callable[..., Awaitable[dict[str, Any]]]
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def openssl_verify(tmp: Path, served: list[x509.Certificate], anchors: list[x509.Certificate]) -> str:
    """What `openssl verify` says of `served` (leaf first, the rest untrusted) against `anchors`
    (none: the system store): "OK" or its first error line."""
    (tmp / "leaf.pem").write_text(_pem(served[0]))
    command = [OPENSSL, "verify"]
    if anchors:
        (tmp / "anchors.pem").write_text(_pem(*anchors))
        command += ["-CAfile", str(tmp / "anchors.pem")]
    if served[1:]:
        (tmp / "untrusted.pem").write_text(_pem(*served[1:]))
        command += ["-untrusted", str(tmp / "untrusted.pem")]
    done = subprocess.run([*command, str(tmp / "leaf.pem")], capture_output=True, text=True, timeout=30)
    if done.returncode == 0:
        return "OK"
    return next(line for line in (done.stdout + done.stderr).splitlines() if line.startswith("error "))


def openssl_root(tmp: Path, name: str) -> tuple[x509.Certificate, Path]:
    """A private root made the way people make one, `openssl req -x509` with no extension
    options (so no key usage), and a leaf for localhost it issued with `openssl x509 -req`."""
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(tmp / f"{name}.key"), "-out", str(tmp / f"{name}.pem"), "-days", "3650",
         "-subj", f"/CN={name}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        [OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(tmp / "leaf.key"), "-out", str(tmp / "leaf.csr"), "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (tmp / "ext").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
    subprocess.run(
        [OPENSSL, "x509", "-req", "-in", str(tmp / "leaf.csr"), "-CA", str(tmp / f"{name}.pem"),
         "-CAkey", str(tmp / f"{name}.key"), "-CAcreateserial", "-days", "90",
         "-extfile", str(tmp / "ext"), "-out", str(tmp / "leaf.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    root = x509.load_pem_x509_certificate((tmp / f"{name}.pem").read_bytes())
    return root, tmp / "leaf.pem"


@dataclass(frozen=True)
class Case:
    path_length: int | None  # of the self-signed private root
    intermediate: bool  # root -> intermediate -> leaf, else root -> leaf
    serve_root: bool  # the server sends the root too
    anchored: bool  # the root is given as ca_bundle_pem (else: the system store)


CASES = [
    Case(pl, inter, serve_root, anchored)
    for pl in (None, 0, 1)
    for inter in (False, True)
    for serve_root in (False, True)
    for anchored in (True, False)
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_private_ca_chains_agree_with_openssl_verify(case: Case, tmp_path: Path) -> None:
    root = CertAuthority(f"private root {case.path_length}", path_length=case.path_length)
    issuer = root.issue_intermediate() if case.intermediate else root
    leaf = issuer.issue_leaf(("localhost",))
    served = [leaf.cert, *issuer.chain, *([root.cert] if case.serve_root else [])]
    anchors = TrustAnchors.from_pem(root.cert_pem) if case.anchored else TrustAnchors.system()
    ours = validate(served, "localhost", anchors, dt.datetime.now(dt.UTC))
    theirs = openssl_verify(tmp_path, served, [root.cert] if case.anchored else [])
    assert ours.trusted == (theirs == "OK"), (ours.trust_error, theirs)
    error = ours.trust_error or ""
    if "path length constraint exceeded" in theirs:  # a root with pathlen:0 over an intermediate
        assert error == "path length constraint violated"
    else:
        assert "path length" not in error and "max depth" not in error, error
    if "self-signed certificate in certificate chain" in theirs:
        assert error.startswith(
            f"the chain ends in a self-signed root ({root.cert.subject.rfc4514_string()})"
        )
    if "unable to get local issuer certificate" in theirs:
        assert error.startswith("no path to a trust anchor")


@pytest.mark.parametrize("serve_root", [False, True])
@pytest.mark.parametrize("anchored", [True, False])
def test_a_root_made_by_openssl_req_without_key_usage(
    tmp_path: Path, serve_root: bool, anchored: bool
) -> None:
    root, leaf_file = openssl_root(tmp_path, "Private Root")
    leaf = x509.load_pem_x509_certificate(leaf_file.read_bytes())
    assert not any(isinstance(e.value, x509.KeyUsage) for e in root.extensions)
    served = [leaf, root] if serve_root else [leaf]
    anchors = TrustAnchors.from_pem(_pem(root)) if anchored else TrustAnchors.system()
    ours = validate(served, "localhost", anchors, dt.datetime.now(dt.UTC))
    theirs = openssl_verify(tmp_path, served, [root] if anchored else [])
    assert ours.trusted == (theirs == "OK"), (ours.trust_error, theirs)
    assert ours.trusted == anchored
    if not anchored and serve_root:
        assert "self-signed certificate in certificate chain" in theirs
        assert "self-signed root (CN=Private Root)" in (ours.trust_error or "")


def test_a_ca_whose_key_usage_forbids_signing_certificates_is_refused_like_openssl(tmp_path: Path) -> None:
    root = CertAuthority("private root")
    # The same root's key and name, re-signed with a key usage that does not allow keyCertSign.
    bad_root = (
        x509.CertificateBuilder()
        .subject_name(root.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(root.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(root.cert.not_valid_before_utc)
        .not_valid_after(root.cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .sign(root.key, root.cert.signature_hash_algorithm)  # type: ignore[arg-type]
    )
    leaf = root.issue_leaf(("localhost",))
    ours = validate([leaf.cert], "localhost", TrustAnchors.from_pem(_pem(bad_root)), dt.datetime.now(dt.UTC))
    theirs = openssl_verify(tmp_path, [leaf.cert], [bad_root])
    assert theirs != "OK" and not ours.trusted
    assert "certificate signing" in (ours.trust_error or ""), ours.trust_error


@pytest.mark.usefixtures("allow_loopback")
async def test_a_cn_without_san_is_named_and_said_to_be_ignored(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.issue_leaf((), common_name="localhost")
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        result = await tool("cert_check", host="localhost", port=port, ca_bundle_pem=leaf.ca_pem)
    (mismatch,) = [f for f in result["findings"] if f["code"] == "hostname_mismatch"]
    assert "no subjectAltName" in mismatch["message"]
    assert "CN 'localhost' is present but browsers ignore it since 2017" in mismatch["message"]
    assert "names no names" not in mismatch["message"] and "names no host" not in result["trust_error"]
    assert "CN 'localhost'" in result["trust_error"]


@pytest.mark.usefixtures("allow_loopback")
async def test_lifetime_over_398_days_under_a_private_root_is_a_notice(tool: Tool, ca: CertAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_leaf(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=824))
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        result = await tool("cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
    (notice,) = result["findings"]
    assert (notice["code"], notice["severity"]) == ("lifetime_too_long", "ok")
    assert "private root" in notice["message"]
    assert result["verdict"] == "ok" and "valid and expires in" in result["summary"]


def test_lifetime_over_398_days_under_a_public_root_is_a_warning(ca: CertAuthority) -> None:
    # judge() with the chain said to lead to a public root: the CA/Browser Forum rule applies.
    from ssl_monitor.certs import judge

    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_leaf(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=824))
    served = [leaf.cert]
    anchors = TrustAnchors.from_pem(leaf.ca_pem)
    validation = validate(served, "localhost", anchors, now)
    from ssl_monitor.x509info import describe

    def judged(public: bool) -> list[Any]:
        return judge(
            describe(leaf.cert, now), validation, served, name="localhost", now=now, warn_days=21,
            critical_days=7, trust_source="x", tls_version="TLSv1.3", ocsp_stapled=None, public_root=public,
        )  # fmt: skip

    found = {public: judged(public) for public in (True, False)}
    assert [(f.code, f.severity.value) for f in found[True]] == [("lifetime_too_long", "warning")]
    assert [(f.code, f.severity.value) for f in found[False]] == [("lifetime_too_long", "ok")]


async def test_cert_decode_says_the_same_of_a_pasted_private_chain(tool: Tool, ca: CertAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_leaf(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=824))
    with_root = await tool("cert_decode", pem=_pem(leaf.cert, ca.cert))
    assert [(f["code"], f["severity"]) for f in with_root["findings"]] == [("lifetime_too_long", "ok")]
    assert with_root["verdict"] == "ok" and "expires in" in with_root["summary"]
    # Pasted alone, the leaf could be a public CA's: the web's rule applies.
    alone = await tool("cert_decode", pem=_pem(leaf.cert))
    assert [(f["code"], f["severity"]) for f in alone["findings"]] == [("lifetime_too_long", "warning")]
