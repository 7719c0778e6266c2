"""Set one version on all four packages at once: each pyproject, each `__version__`, each sibling pin,
and the files that name it (bundle manifests, Smithery's Dockerfiles, MCP Registry server.json).

    uv run python scripts/bump_version.py 0.2.0

The packages are versioned together (tests/common/test_packaging.py fails when they differ), so
this is the only supported way to change a version.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "common": "monitor_common",
    "http-monitor": "http_monitor",
    "ssl-monitor": "ssl_monitor",
    "dns-monitor": "dns_monitor",
}
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?$")


def _replace_once(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise SystemExit(f"{path}: found no match for {pattern!r}")
    path.write_text(new)


def bump(version: str, root: Path = ROOT) -> list[Path]:
    """Write `version` everywhere; returns the files changed."""
    if not _VERSION.match(version):
        raise SystemExit(f"{version!r} is not a version like 1.2.3 (PEP 440 release, pre, post or dev)")
    old = re.search(
        r'^version = "([^"]+)"$', (root / "packages/common/pyproject.toml").read_text(), re.MULTILINE
    )
    if old is None:
        raise SystemExit("packages/common/pyproject.toml has no version")
    changed: list[Path] = []
    for folder, module in PACKAGES.items():
        pyproject = root / "packages" / folder / "pyproject.toml"
        _replace_once(pyproject, r'^version = "[^"]+"$', f'version = "{version}"')
        if folder != "common":
            _replace_once(pyproject, r'"mcp-monitor-common==[^"]+"', f'"mcp-monitor-common=={version}"')
        init = root / "packages" / folder / "src" / module / "__init__.py"
        _replace_once(init, r'^__version__ = "[^"]+"$', f'__version__ = "{version}"')
        changed += [pyproject, init]
    # The bundle manifests name the version they launch, Smithery's Dockerfiles the one they
    # install (`dist==version`, common's pin too); the MCP Registry entries name it twice (the
    # entry's and its package's).
    for extra in sorted(
        [
            *(root / "packages").glob("*-monitor/manifest.json"),
            *(root / "packages").glob("*-monitor/Dockerfile"),
            *(root / "packages").glob("*-monitor/server.json"),
        ]
    ):
        text = extra.read_text()
        new = (
            text.replace(f'"version": "{old[1]}"', f'"version": "{version}"')
            .replace(f"@{old[1]}", f"@{version}")
            .replace(f'=={old[1]}"', f'=={version}"')
        )
        if new != text:
            extra.write_text(new)
            changed.append(extra)
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 64
    for path in bump(argv[0]):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
