"""Real TLS servers on loopback for the tls_scan tests: GnuTLS `gnutls-serv` and Debian's nginx.

    gnutls_serv(directory, leaf, priority, dhparams=None)     context manager -> port
    nginx_tls(directory, leaf, protocols=..., ciphers=..., ecdh_curve=None, dhparam=None)  -> port
    GNUTLS, NGINX                                             the binaries, or None when missing

gnutls-serv serves what OpenSSL 3 will not (3DES and CAMELLIA with RSA key exchange, TLS 1.0
and 1.1, chosen DH parameters) by its `--priority` string; nginx serves what OpenSSL 3 still can
at `@SECLEVEL=0`. Each case writes its own configuration, certificate and key into its own
directory (a pytest tmp_path) and gets a port from the kernel; each server is started in the
foreground and killed afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from support.certs import Leaf
from support.ports import free_port

__all__ = ["GNUTLS", "NGINX", "dh_params", "gnutls_serv", "nginx_tls"]

GNUTLS = shutil.which("gnutls-serv")
NGINX = shutil.which("nginx") or (str(Path("/usr/sbin/nginx")) if Path("/usr/sbin/nginx").exists() else None)
CERTTOOL = shutil.which("certtool")


def _wait(process: subprocess.Popen[bytes], name: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not listen on {port}")


@contextlib.contextmanager
def _running(command: list[str], port: int, log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(process, Path(command[0]).name, port, log)
        yield port
    finally:
        process.kill()
        process.wait()


def dh_params(directory: Path, bits: int) -> Path:
    """Published DH parameters of `bits` bits (PKCS#3 PEM): RFC 5114's 1024-bit group, or
    RFC 7919's ffdhe2048 to ffdhe8192; instant, unlike generating a safe prime."""
    group = {1024: "dh_1024_160"}.get(bits, f"ffdhe{bits}")
    path = directory / f"dh{bits}.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            f"group:{group}",
            "-out",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@contextlib.contextmanager
def gnutls_serv(directory: Path, leaf: Leaf, priority: str, *, dhparams: Path | None = None) -> Iterator[int]:
    """`gnutls-serv` on 127.0.0.1 serving `leaf` with the priority string `priority`."""
    assert GNUTLS is not None, "gnutls-serv is not installed (Debian package gnutls-bin)"
    files = leaf.write(directory, "gnutls")
    port = free_port()
    command = [GNUTLS, "--port", str(port), "--x509certfile", str(files.cert_file),
               "--x509keyfile", str(files.key_file), "--priority", priority, "--echo",
               "--disable-client-cert", "--quiet"]  # fmt: skip
    if dhparams is not None:
        command += ["--dhparams", str(dhparams)]
    with _running(command, port, directory / "gnutls.log") as bound:
        yield bound


@contextlib.contextmanager
def nginx_tls(
    directory: Path,
    leaf: Leaf,
    *,
    protocols: str = "TLSv1.2 TLSv1.3",
    ciphers: str = "DEFAULT",
    ecdh_curve: str | None = None,
    dhparam: Path | None = None,
    conf_commands: str | None = None,
) -> Iterator[int]:
    """nginx on 127.0.0.1 serving `leaf` over TLS with the given ssl_protocols and ssl_ciphers.

    `conf_commands` is an OpenSSL configuration command (`ssl_conf_command`), e.g.
    "Ciphersuites TLS_AES_128_GCM_SHA256" to choose the TLS 1.3 suites.
    """
    assert NGINX is not None, "nginx is not installed (Debian package nginx)"
    files = leaf.write(directory, "nginx")
    port = free_port()
    extra = ""
    if ecdh_curve is not None:
        extra += f"ssl_ecdh_curve {ecdh_curve};\n"
    if dhparam is not None:
        extra += f"ssl_dhparam {dhparam};\n"
    if conf_commands is not None:
        name, _, value = conf_commands.partition(" ")
        extra += f"ssl_conf_command {name} {value};\n"
    (directory / "nginx.conf").write_text(
        f"""daemon off;
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {files.cert_file};
        ssl_certificate_key {files.key_file};
        ssl_protocols {protocols};
        ssl_ciphers "{ciphers}";
        ssl_prefer_server_ciphers on;
        {extra}
        location / {{ return 200 "ok"; }}
    }}
}}
"""
    )
    command = [
        NGINX,
        "-p",
        str(directory),
        "-c",
        str(directory / "nginx.conf"),
        "-e",
        str(directory / "error.log"),
    ]
    with _running(command, port, directory / "nginx.log") as bound:
        yield bound
