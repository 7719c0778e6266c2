"""A real Prometheus (Debian's) scrapes /metrics of a real server on loopback, with the metrics
token, and answers PromQL over what it scraped."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from support.mcp_http import serving
from support.ports import free_port

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def query(base: str, promql: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_probe_success_per_watch(seeded_status_db: str, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (Debian: prometheus)")
    env = {"MCP_MONITOR_DB": seeded_status_db, "MCP_MONITOR_METRICS_TOKEN": METRICS_TOKEN}
    with serving("http_monitor", env=env) as served:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: monitor\n"
            "    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n"
            "    authorization:\n"
            f"      credentials: {METRICS_TOKEN}\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{served.port}']\n"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "prometheus.log"
        with log.open("w") as log_file:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        try:
            # Two scrapes of each watch's probe_success; a loaded machine may take a while.
            deadline = time.monotonic() + 90
            scraped: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                try:
                    ready = httpx.get(f"{base}/-/ready", timeout=5).status_code == 200
                except httpx.TransportError:
                    ready = False  # not listening yet
                if ready:
                    scraped = query(base, 'count_over_time(probe_success{watch="api"}[5m]) >= 2')
                if scraped or process.poll() is not None:
                    break
                time.sleep(0.5)
            assert scraped, log.read_text()[-2000:]
            up = query(base, 'up{job="monitor"}')
            assert [sample["value"][1] for sample in up] == ["1"]  # type: ignore[index]
            success = {
                s["metric"]["watch"]: s["value"][1]  # type: ignore[index]
                for s in query(base, 'probe_success{job="monitor",kind="http"}')
            }
            assert success == {
                "homepage": "1",
                "api": "0",
                "flappy": "1",
                "slow": "1",
                "secret": "1",
                "paused": "1",
            }
            down = query(base, 'monitor_watch_state{state="down"} == 1')
            assert [s["metric"]["watch"] for s in down] == ["api"]  # type: ignore[index]
        finally:
            process.terminate()
            process.wait(timeout=30)
