"""Knot DNS and NSD beside BIND9: the same kind of zones served by two other implementations.

`Bind9` writes the zones and their delegations (support/bind9.py); each class here writes its
server's configuration for zone files already in `zones/`, starts the daemon in the foreground on
its two loopback addresses (one per /24, so that a healthy zone is healthy) and waits until every
zone answers. Neither is given views: one process serves every zone on both of its addresses.

    127.0.11.1, 127.0.12.1   knot1.dns.test, knot2.dns.test   knotd, generated knot.conf
    127.0.13.1, 127.0.14.1   nsd1.dns.test, nsd2.dns.test     nsd -d, generated nsd.conf

Signed zones are signed beforehand with dnssec-signzone and loaded as plain zone files (Knot's
own signing is off, NSD has none). Both hide their version and identity from CHAOS questions, as
BIND9 does in the tree: a healthy server does (`version_banner`); transfers are refused by default.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["IMPLEMENTATIONS", "Authoritative", "Knot", "Nsd", "ServerUnavailable"]


class ServerUnavailable(RuntimeError):
    """The daemon is not installed."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found is None and Path("/usr/sbin", name).exists():
        found = f"/usr/sbin/{name}"
    return found


@dataclass
class Authoritative:
    """One authoritative daemon serving `zones` (name -> file in `directory/zones`) on `addresses`."""

    directory: Path
    addresses: Sequence[str]
    port: int
    zones: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    process: subprocess.Popen[bytes] | None = None

    program = ""
    log_name = "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    @property
    def log(self) -> Path:
        return self.directory / self.log_name

    def start(self, answers: Callable[[str, int, str], int | None]) -> None:
        """Start and wait until each zone answers NOERROR on each address (`answers` gives the
        rcode of an SOA query, None for no answer)."""
        if _binary(self.program) is None:
            raise ServerUnavailable(f"{self.program} is not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.write_config()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.program} exited: {self.log.read_text()[-3000:]}")
            if all(answers(a, self.port, zone) == 0 for a in self.addresses for zone in self.zones):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.program} did not serve its zones: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Knot(Authoritative):
    program = "knotd"
    log_name = "knotd.log"

    def command(self) -> list[str]:
        return [str(_binary("knotd")), "-c", str(self.directory / "knot.conf")]

    def write_config(self) -> None:
        listen = ", ".join(f"{a}@{self.port}" for a in self.addresses)
        zones = "".join(f"  - domain: {name}\n    file: {file}\n" for name, file in self.zones.items())
        (self.directory / "knot.conf").write_text(
            f"""server:
  rundir: "{self.directory}"
  listen: [ {listen} ]
  version: ""
  identity: ""
database:
  storage: "{self.directory}/db"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{self.directory.parent / "zones"}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
{zones}"""
        )


class Nsd(Authoritative):
    program = "nsd"
    log_name = "nsd.log"

    def command(self) -> list[str]:
        return [str(_binary("nsd")), "-d", "-c", str(self.directory / "nsd.conf")]

    def write_config(self) -> None:
        listen = "".join(f"  ip-address: {a}\n" for a in self.addresses)
        zones = "".join(f"zone:\n  name: {name}\n  zonefile: {file}\n" for name, file in self.zones.items())
        (self.directory / "nsd.conf").write_text(
            f"""server:
{listen}  port: {self.port}
  username: ""
  chroot: ""
  zonesdir: "{self.directory.parent / "zones"}"
  pidfile: "{self.directory}/nsd.pid"
  xfrdfile: "{self.directory}/xfrd.state"
  zonelistfile: "{self.directory}/zone.list"
  xfrdir: "{self.directory}/xfr"
  database: ""
  logfile: "{self.log}"
  verbosity: 1
  hide-version: yes
  hide-identity: yes
remote-control:
  control-enable: no
{zones}"""
        )


IMPLEMENTATIONS: dict[str, type[Authoritative]] = {"knot": Knot, "nsd": Nsd}
