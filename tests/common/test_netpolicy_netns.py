"""The dialling code paths with non-loopback targets, run in a network namespace with no route out.

open_tcp and guarded_client are pointed at private, link-local (cloud metadata), CGNAT and
unique-local addresses, directly, through a resolver and through a connect_ip override. They
must refuse every one by policy. The calls run in a child process inside a fresh network
namespace (`unshare -n`, or `unshare -rn` when not root) whose loopback is down and which has no
other interface: even if the policy were broken, no packet could leave. Control cases with a
policy that allows private addresses show the code would otherwise have dialled, and failed on
'network unreachable', so a refusal really is the policy's doing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.netns

CHILD = r"""
import asyncio, errno, json, os, socket, sys
from ipaddress import ip_address

import httpx2

from monitor_common.errors import PolicyError
from monitor_common.context import CheckContext
from monitor_common.httpclient import guarded_client
from monitor_common.netpolicy import NetworkPolicy, open_tcp

DEFAULT = CheckContext(policy=NetworkPolicy())
OPEN = CheckContext(policy=NetworkPolicy(allow_private=True))


async def intranet(host, family):
    return [ip_address("10.0.0.1")]


def outcome(exc):
    if exc is None:
        return "connected"
    if isinstance(exc, PolicyError):
        return f"policy:{exc.category}:{exc.address}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
        return "unreachable"
    if isinstance(exc, httpx2.ConnectError):
        return "unreachable" if str(exc).endswith(os.strerror(errno.ENETUNREACH)) else f"connect-error:{exc}"
    return f"other:{type(exc).__name__}:{exc}"


async def tcp(host, port, policy, **kwargs):
    try:
        stream = await open_tcp(host, port, policy, timeout=3, **kwargs)
    except Exception as exc:
        return outcome(exc)
    await stream.aclose()
    return outcome(None)


async def http(url, policy, **kwargs):
    try:
        async with guarded_client(policy, timeout=3, **kwargs) as client:
            await client.get(url)
    except Exception as exc:
        return outcome(exc)
    return outcome(None)


async def main():
    results = {
        "tcp 10.0.0.1": await tcp("10.0.0.1", 80, DEFAULT),
        "tcp 169.254.169.254": await tcp("169.254.169.254", 80, DEFAULT),
        "tcp 192.168.1.1": await tcp("192.168.1.1", 443, DEFAULT),
        "tcp 100.64.0.1": await tcp("100.64.0.1", 80, DEFAULT),
        "tcp fd00::1": await tcp("fd00::1", 80, DEFAULT),
        "tcp 0xa9fea9fe": await tcp("0xa9fea9fe", 80, DEFAULT),
        "tcp via resolver": await tcp("intranet.test", 80, DEFAULT.replace(resolver=intranet)),
        "tcp connect_ip 10.1.2.3": await tcp("example.test", 443, DEFAULT, connect_ip="10.1.2.3"),
        "http 10.0.0.1": await http("http://10.0.0.1/", DEFAULT),
        "http 169.254.169.254": await http("http://169.254.169.254/latest/meta-data/", DEFAULT),
        "http 192.168.1.1": await http("https://192.168.1.1/", DEFAULT),
        "http 100.64.0.1": await http("http://100.64.0.1:8080/", DEFAULT),
        "http [fd00::1]": await http("http://[fd00::1]/", DEFAULT),
        "http [::ffff:a9fe:a9fe]": await http("http://[::ffff:a9fe:a9fe]/", DEFAULT),
        "http via resolver": await http("http://intranet.test/", DEFAULT.replace(resolver=intranet)),
        "http connect_ip 10.1.2.3": await http(
            "https://example.test/", DEFAULT, connect_ip={"example.test": "10.1.2.3"}
        ),
        "control tcp 10.0.0.1": await tcp("10.0.0.1", 80, OPEN),
        "control tcp fd00::1": await tcp("fd00::1", 80, OPEN),
        "control http 10.0.0.1": await http("http://10.0.0.1/", OPEN),
    }
    print(json.dumps({
        "netns": os.readlink("/proc/self/ns/net"),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "results": results,
    }))


asyncio.run(main())
"""

EXPECTED_REFUSALS = {
    "tcp 10.0.0.1": "policy:private:10.0.0.1",
    "tcp 169.254.169.254": "policy:link-local:169.254.169.254",
    "tcp 192.168.1.1": "policy:private:192.168.1.1",
    "tcp 100.64.0.1": "policy:cgnat:100.64.0.1",
    "tcp fd00::1": "policy:unique-local:fd00::1",
    "tcp 0xa9fea9fe": "policy:link-local:169.254.169.254",
    "tcp via resolver": "policy:private:10.0.0.1",
    "tcp connect_ip 10.1.2.3": "policy:private:10.1.2.3",
    "http 10.0.0.1": "policy:private:10.0.0.1",
    "http 169.254.169.254": "policy:link-local:169.254.169.254",
    "http 192.168.1.1": "policy:private:192.168.1.1",
    "http 100.64.0.1": "policy:cgnat:100.64.0.1",
    "http [fd00::1]": "policy:unique-local:fd00::1",
    "http [::ffff:a9fe:a9fe]": "policy:link-local:::ffff:a9fe:a9fe",
    "http via resolver": "policy:private:10.0.0.1",
    "http connect_ip 10.1.2.3": "policy:private:10.1.2.3",
}
CONTROLS = ("control tcp 10.0.0.1", "control tcp fd00::1", "control http 10.0.0.1")


def unshare_command() -> list[str]:
    """The unshare invocation that works here, or skip saying why none does."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to run the probes in an isolated network namespace")
    candidates = [["unshare", "-n"], ["unshare", "-rn"]] if os.geteuid() == 0 else [["unshare", "-rn"]]
    errors: list[str] = []
    for command in candidates:
        trial = subprocess.run([*command, "true"], capture_output=True, text=True, timeout=30)
        if trial.returncode == 0:
            return command
        errors.append(f"{' '.join(command)}: {trial.stderr.strip() or trial.returncode}")
    pytest.skip("cannot create a network namespace (" + "; ".join(errors) + ")")


def test_internal_targets_are_refused_by_policy_inside_a_sealed_namespace() -> None:
    command = unshare_command()
    done = subprocess.run(
        [*command, sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    # The child really ran in another namespace with nothing but a (down) loopback interface.
    assert report["netns"] != os.readlink("/proc/self/ns/net")
    assert report["interfaces"] == ["lo"]

    results = report["results"]
    refusals = {name: results[name] for name in EXPECTED_REFUSALS}
    assert refusals == EXPECTED_REFUSALS
    # Allowed by a wide policy, the same code dials and fails on the sealed namespace, not the policy.
    assert {name: results[name] for name in CONTROLS} == dict.fromkeys(CONTROLS, "unreachable")
