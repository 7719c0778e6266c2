"""The parts of the READMEs that restate the code: the settings table and the tool listing size.

    uv run python scripts/build_docs.py --write     rewrite the generated sections in place

A generated section sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
everything outside the markers is written by hand. tests/e2e/test_docs.py fails when a section
differs from what this script generates, so a new tool or setting cannot go undocumented.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVERS = {"http-monitor": "http_monitor", "ssl-monitor": "ssl_monitor", "dns-monitor": "dns_monitor"}


async def _listing(module: str) -> list[dict[str, object]]:
    from mcp import Client

    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def listing_size(module: str) -> str:
    tools = asyncio.run(_listing(module))
    size = len(json.dumps({"tools": tools}, separators=(",", ":")).encode())
    names = ", ".join(f"`{t['name']}`" for t in tools)
    return (
        f"This server declares {len(tools)} tools ({names}). Its `tools/list` answer, which a host "
        f"puts in every prompt, is {size:,} bytes."
    )


def settings_table() -> str:
    from monitor_common.config import Settings, setting_specs

    defaults = Settings()
    rows = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for spec in setting_specs():
        value = getattr(defaults, spec.attr)
        if value in (None, ()):
            shown = "(none)"
        elif isinstance(value, bool):
            shown = str(value).lower()
        else:
            shown = str(value)
        rows.append(f"| `{spec.env}` | `{spec.flag}` | {shown} | {spec.help} |")
    return "\n".join(rows)


def sections(path: Path) -> dict[str, str]:
    """The generated sections `path` should contain, by name."""
    folder = path.parent.name
    return {"listing": listing_size(SERVERS[folder]), "settings": settings_table()}


def render(path: Path) -> str:
    """`path`'s text with every generated section replaced by its current content."""
    text = path.read_text()
    for name, body in sections(path).items():
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.DOTALL
        )
        if not pattern.search(text):
            raise SystemExit(f"{path}: no <!-- generated:{name} --> section")
        text = pattern.sub(lambda m, body=body: m[1] + body + "\n" + m[2], text)
    return text


def targets() -> list[Path]:
    return [ROOT / "packages" / folder / "README.md" for folder in SERVERS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the generated sections")
    args = parser.parse_args()
    stale = []
    for path in targets():
        new = render(path)
        if new != path.read_text():
            stale.append(path)
            if args.write:
                path.write_text(new)
    for path in stale:
        print(f"{'rewrote' if args.write else 'stale'}: {path.relative_to(ROOT)}")
    return 0 if args.write or not stale else 1


if __name__ == "__main__":
    sys.exit(main())
