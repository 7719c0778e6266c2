"""Build wheels as a release does and prove each installs and runs outside the workspace.

    python3 scripts/smoke_wheels.py [--out DIR] [PACKAGE ...]     (default: all four)

For each package: `uv build --package X --no-sources` (so the wheel depends on released names, not
on workspace paths), then a fresh virtual environment in a temporary folder outside the
repository, the wheel (with the matching mcp-monitor-common wheel, which PyPI would provide)
installed into it, and `mcp-X-monitor tools` run there: it must list the server's tools. The
common wheel must carry the status page's assets (templates and stylesheet, package data), and
the page must render from the fresh environment. The wheels of the named packages are left in
DIR for upload.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALL = ["mcp-monitor-common", "mcp-http-monitor", "mcp-ssl-monitor", "mcp-dns-monitor"]
MODULES = {
    "mcp-monitor-common": "monitor_common",
    "mcp-http-monitor": "http_monitor",
    "mcp-ssl-monitor": "ssl_monitor",
    "mcp-dns-monitor": "dns_monitor",
}
# Package data the status page needs at run time (monitor_common.web): not Python, so a packaging
# mistake would only show when the first page is served.
ASSETS = {
    "mcp-monitor-common": (
        "monitor_common/web/assets/status.css",
        "monitor_common/web/templates/base.html",
        "monitor_common/web/templates/overview.html",
        "monitor_common/web/templates/watch.html",
    )
}
RENDER = (
    "from monitor_common.web.render import Links, render_overview;"
    "from monitor_common.web.status import StatusPage;"
    "html = render_overview(StatusPage('2026-01-01T00:00:00Z', '24h'), "
    "Links(home=str, watch=str, badge=str), title='smoke');"
    "assert 'No watches yet' in html and '--up:' in html, html[:500];"
    "print(len(html))"
)


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build(package: str, out: Path) -> Path:
    _run("uv", "build", "--package", package, "--no-sources", "--wheel", "--out-dir", out)
    wheels = sorted(out.glob(f"{package.replace('-', '_')}-*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel for {package} in {out}")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        missing = sorted(set(ASSETS.get(package, ())) - set(wheel.namelist()))
    if missing:
        raise SystemExit(f"{wheels[-1].name} lacks its package data: {', '.join(missing)}")
    return wheels[-1]


def smoke(package: str, wheel: Path, common: Path, scratch: Path) -> str:
    venv = scratch / f"venv-{package}"
    _run("uv", "venv", "--quiet", "--python", sys.executable, venv, cwd=scratch)
    python = venv / "bin" / "python"
    wheels = [wheel] if wheel == common else [common, wheel]
    _run("uv", "pip", "install", "--quiet", "--python", python, *wheels, cwd=scratch)
    module = MODULES[package]
    # Imported from the venv, not the workspace: the path printed must lie inside the venv.
    where = _run(python, "-c", f"import {module}; print({module}.__file__)", cwd=scratch).strip()
    if not where.startswith(str(venv)):
        raise SystemExit(f"{module} was imported from {where}, not from the fresh environment")
    if package == "mcp-monitor-common":
        # Package data: the MCP Apps view and the status page's templates and stylesheet ship in
        # the wheel, not only in the source tree.
        view = "from monitor_common.views import WATCH_REPORT_VIEW, view_html; print(len(view_html(WATCH_REPORT_VIEW)))"
        size = _run(python, "-c", view, cwd=scratch).strip()
        page = _run(python, "-c", RENDER, cwd=scratch).strip()
        return (
            f"{package}: imports from {where}; the watch report view is {size} characters, "
            f"the status page renders from its assets ({page} bytes)"
        )
    listing = _run(venv / "bin" / package, "tools", cwd=scratch)
    tools = [line.split()[0] for line in listing.splitlines() if line.strip()]
    if not tools:
        raise SystemExit(f"{package} tools listed nothing")
    return f"{package}: {len(tools)} tools ({', '.join(tools)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=None, help="where to leave the wheels (default: a temp dir)"
    )
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help=f"any of {', '.join(ALL)}")
    args = parser.parse_args()
    packages: list[str] = args.packages or ALL
    unknown = sorted(set(packages) - set(ALL))
    if unknown:
        parser.error(f"unknown package {', '.join(unknown)}: choose from {', '.join(ALL)}")
    with tempfile.TemporaryDirectory(prefix="mcp-monitor-smoke-") as tmp:
        scratch = Path(tmp)
        out: Path = (args.out or scratch / "dist").resolve()
        out.mkdir(parents=True, exist_ok=True)
        # The servers pin mcp-monitor-common exactly; build it beside them for the install.
        common = build("mcp-monitor-common", out if "mcp-monitor-common" in packages else scratch / "common")
        for package in packages:
            wheel = common if package == "mcp-monitor-common" else build(package, out)
            print(smoke(package, wheel, common, scratch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
