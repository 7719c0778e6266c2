"""The parts of the READMEs that restate the code: the settings, the tool listing sizes, the shared finding codes.

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
ANSWERS = {
    "http-monitor": "is it up, how fast, and if not, why",
    "ssl-monitor": "is the certificate valid and trusted, when does it expire, is the TLS set-up sound",
    "dns-monitor": "what does the name resolve to, from where; is the delegation, DNSSEC, mail "
    "authentication and registration right",
}
LISTING_LIMIT = 10 * 1024  # bytes; tests/e2e/test_tool_schemas.py holds every server to it


async def _listing(module: str) -> list[dict[str, object]]:
    from mcp import Client

    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def listing_bytes(tools: list[dict[str, object]]) -> int:
    """The size of a `tools/list` result as compact JSON: what a host puts in every prompt."""
    return len(json.dumps({"tools": tools}, separators=(",", ":")).encode())


def listing_size(module: str) -> str:
    tools = asyncio.run(_listing(module))
    names = ", ".join(f"`{t['name']}`" for t in tools)
    return (
        f"This server declares {len(tools)} tools ({names}). Its `tools/list` answer, which a host "
        f"puts in every prompt, is {listing_bytes(tools):,} bytes (compact JSON; the limit we hold it "
        f"to is {LISTING_LIMIT:,}). The schemas in it are abridged; the full ones are the resource "
        "`monitor://schemas/{tool}`."
    )


def servers_table() -> str:
    rows = ["| server | answers | tools | `tools/list` |", "|---|---|---|---|"]
    for folder, module in SERVERS.items():
        tools = asyncio.run(_listing(module))
        names = ", ".join(f"`{t['name']}`" for t in tools)
        link = f"[`mcp-{folder}`](packages/{folder}/README.md)"
        rows.append(f"| {link} | {ANSWERS[folder]} | {names} | {listing_bytes(tools):,} bytes |")
    return "\n".join(rows)


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
    if path == ROOT / "README.md":
        from monitor_common.findings import readme_table

        return {"servers": servers_table(), "findings": readme_table()}
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
    return [ROOT / "README.md", *(ROOT / "packages" / folder / "README.md" for folder in SERVERS)]


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
