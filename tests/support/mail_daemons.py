"""Real mail servers on loopback for the STARTTLS tests: Debian's dovecot (IMAP, POP3) and postfix (SMTP).

    dovecot(directory, leaf, ciphers=None)   context manager -> {"imap": port, "pop3": port}
    postfix(directory, leaf, ciphers=None)   context manager -> the smtpd port
    DOVECOT, POSTFIX                         the binaries, or None when missing (or not root)

Each case writes a minimal configuration, its certificate and key into its own directory (a pytest
tmp_path), takes ports from the kernel just before the start (once more on a collision) and runs
the server in the foreground: `dovecot -F -c CONF`, `postfix -c DIR start-fg`. Both listen on
127.0.0.1 only. `ciphers` is an OpenSSL cipher list for TLS 1.2 (dovecot's ssl_cipher_list,
postfix's tls_high_cipherlist); TLS 1.2 is the lowest version either accepts. Both daemons drop
to their Debian system users (dovenull, postfix), so they run only as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from support.certs import Leaf
from support.ports import free_port

__all__ = ["DOVECOT", "POSTFIX", "dovecot", "postfix"]


def _sbin(name: str, *parts: str) -> str | None:
    """/usr/sbin/NAME when it and the other `parts` are installed and this process is root."""
    path = Path("/usr/sbin") / name
    present = path.exists() and all(Path(part).exists() for part in parts)
    return str(path) if present and os.geteuid() == 0 else None


DOVECOT = _sbin("dovecot", "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3")
POSTFIX = _sbin("postfix")


def _listening(process: subprocess.Popen[bytes], ports: list[int]) -> bool:
    """Whether every port accepts within 15 s; False when the process exits first."""
    deadline = time.monotonic() + 15
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", pending[0])) == 0:
                pending.pop(0)
                continue
        time.sleep(0.05)
    if pending:
        raise RuntimeError(f"nothing listens on 127.0.0.1:{pending[0]}")
    return True


@contextlib.contextmanager
def _started(
    name: str,
    directory: Path,
    count: int,
    configure: Callable[[list[int]], list[str]],
    stop: Callable[[subprocess.Popen[bytes]], None],
) -> Iterator[list[int]]:
    """Run `configure(ports)`'s command with `count` fresh ports; a second try with new ports
    when the server exits before it listens (another process took a port in between)."""
    log = directory / f"{name}.out"
    for attempt in (1, 2):
        ports = [free_port() for _ in range(count)]
        command = configure(ports)
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            if _listening(process, ports):
                yield ports
                return
        finally:
            stop(process)
        if attempt == 2:
            raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-2000:]}")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def dovecot(directory: Path, leaf: Leaf, *, ciphers: str | None = None) -> Iterator[dict[str, int]]:
    """dovecot serving IMAP and POP3 with STARTTLS on 127.0.0.1; no login succeeds."""
    assert DOVECOT is not None, "dovecot is not installed (Debian packages dovecot-imapd, dovecot-pop3d)"
    files = leaf.write(directory, "dovecot")
    conf = directory / "dovecot.conf"
    cipher_line = f"ssl_cipher_list = {ciphers}\n" if ciphers is not None else ""

    def configure(ports: list[int]) -> list[str]:
        imap, pop3 = ports
        conf.write_text(
            f"""base_dir = {directory}/dovecot-run
state_dir = {directory}/dovecot-state
log_path = {directory}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{files.cert_file}
ssl_key = <{files.key_file}
ssl_min_protocol = TLSv1.2
{cipher_line}auth_mechanisms = plain
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
passdb {{
  driver = static
  args = nopassword=n password=*
}}
userdb {{
  driver = static
  args = uid=root gid=root home={directory}/dovecot-home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""
        )
        return [str(DOVECOT), "-F", "-c", str(conf)]

    with _started("dovecot", directory, 2, configure, _terminate) as (imap, pop3):
        yield {"imap": imap, "pop3": pop3}


_MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
proxymap  unix  - - n - - proxymap
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


@contextlib.contextmanager
def postfix(directory: Path, leaf: Leaf, *, ciphers: str | None = None) -> Iterator[int]:
    """postfix's smtpd on 127.0.0.1 offering STARTTLS (security level `may`); it relays nothing."""
    assert POSTFIX is not None, "postfix is not installed (Debian package postfix)"
    files = leaf.write(directory, "postfix")
    config = directory / "postfix"
    config.mkdir(exist_ok=True)
    # The queue and data directories must be reachable by the postfix user, which pytest's
    # tmp_path (under a 0700 directory) is not: they live in a directory of their own in /tmp.
    spool = Path(tempfile.mkdtemp(prefix="postfix-spool-"))
    spool.chmod(0o755)
    queue, data = spool / "queue", spool / "data"
    queue.mkdir()
    data.mkdir()
    os.chown(data, *_postfix_ids())  # master's lock file: the data directory is postfix's own
    cipher_lines = (
        f"smtpd_tls_ciphers = high\nsmtpd_tls_mandatory_ciphers = high\ntls_high_cipherlist = {ciphers}\n"
        if ciphers is not None
        else ""
    )

    def configure(ports: list[int]) -> list[str]:
        (config / "master.cf").write_text(_MASTER_CF.format(listen=f"127.0.0.1:{ports[0]}"))
        (config / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.test
mydestination =
alias_maps =
alias_database =
maillog_file_prefixes = {directory}
maillog_file = {directory}/postfix.log
smtpd_tls_cert_file = {files.cert_file}
smtpd_tls_key_file = {files.key_file}
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
{cipher_lines}"""
        )
        return [str(POSTFIX), "-c", str(config), "start-fg"]

    def stop(process: subprocess.Popen[bytes]) -> None:
        # The master runs in a session of its own; `postfix stop` reaches it by its pid file.
        subprocess.run(
            [str(POSTFIX), "-c", str(config), "stop"], capture_output=True, timeout=30, check=False
        )
        _terminate(process)

    try:
        with _started("postfix", directory, 1, configure, stop) as (port,):
            yield port
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _postfix_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postfix")
    return entry.pw_uid, entry.pw_gid
