"""tls_scan against sslyze on the same loopback endpoints: the same versions, suites and curves.

sslyze (PyPI, `support.sslyze.VERSION`) runs from its own virtual environment in a cache
directory, with only the scan commands tls_scan's findings rest on (SSLv3 to TLS 1.3 suites,
elliptic curves). The cases stay within what sslyze's OpenSSL builds can offer (no CAMELLIA-GCM
or ARIA, which tls_scan finds and sslyze cannot): there the two must agree exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor_common.context import CheckContext
from ssl_monitor.scan import tls_scan
from support.certs import CertAuthority
from support.sslyze import SslyzeSets
from support.sslyze import scan as sslyze_scan
from support.tls_daemons import GNUTLS, NGINX, dh_params, gnutls_serv, nginx_tls


async def _both(
    port: int, directory: Path, ctx: CheckContext
) -> tuple[dict[str, frozenset[str]], set[str], SslyzeSets]:
    result = await tls_scan("127.0.0.1", ctx, port=port, timeout_s=60)
    ours = {p.version: frozenset(p.ciphers) for p in result.protocols if p.state == "enabled"}
    curves = {g.name for g in result.groups if g.kind == "ec"}
    return ours, curves, sslyze_scan(port, directory)


@pytest.mark.skipif(GNUTLS is None, reason="gnutls-serv is not installed (gnutls-bin)")
async def test_gnutls_wide_legacy_list(loopback_ctx: CheckContext, tmp_path: Path) -> None:
    priority = ("NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+ARCFOUR-128"
                ":+RSA:+DHE-RSA:+AES-128-CCM:+SHA256:+SHA384:+SHA1:+MD5:%SERVER_PRECEDENCE")  # fmt: skip
    leaf = CertAuthority().valid(key_type="rsa")
    with gnutls_serv(tmp_path, leaf, priority) as port:
        ours, curves, theirs = await _both(port, tmp_path, loopback_ctx)
    assert ours == theirs.suites
    assert len(ours["TLSv1.2"]) > 30 and "TLS_RSA_WITH_RC4_128_MD5" in ours["TLSv1"]
    assert curves == theirs.curves


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
async def test_nginx_anonymous_null_and_chosen_tls13_suites(
    loopback_ctx: CheckContext, tmp_path: Path
) -> None:
    leaf = CertAuthority().valid(key_type="rsa")
    with nginx_tls(
        tmp_path,
        leaf,
        protocols="TLSv1 TLSv1.2 TLSv1.3",
        ciphers="ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-SHA:ADH-AES256-SHA:AECDH-AES128-SHA:NULL-SHA:@SECLEVEL=0",
        ecdh_curve="X25519:secp384r1:secp521r1",
        dhparam=dh_params(tmp_path, 2048),
        conf_commands="Ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256",
    ) as port:
        ours, curves, theirs = await _both(port, tmp_path, loopback_ctx)
    assert ours == theirs.suites
    assert ours["TLSv1.3"] == {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_CCM_SHA256"}
    assert {
        "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_NULL_SHA",
    } < ours["TLSv1"]
    assert curves == theirs.curves == {"x25519", "secp384r1", "secp521r1"}
