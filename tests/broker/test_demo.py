"""`faucon demo`'s runner on the session's real Kafka and Spark."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from broker.core.config import Settings
from broker.demo import run_demo
from tests.conftest import _free_port_pair, _free_ports

pytestmark = pytest.mark.integration


def test_demo_accounts_for_every_message(
    kafka: Any, spark: Any, service_settings: Settings
) -> None:
    out = io.StringIO()
    result = run_demo(service_settings, spark=spark, console=Console(file=out, width=120))
    s = result.stats
    assert result.sent == s["in"] >= 1_500 + 4
    assert s["in"] == s["ok"] + s["rejected_total"]
    assert s["rejected"]["unsupported_survey"] == 8  # the bundled ATLAS and DECam alerts
    for reason in ("empty_message", "unknown_format", "truncated_avro", "unknown_schema_id"):
        assert s["rejected"][reason] == 1
    assert result.topic_counts["demo.enriched"] == s["ok"]
    assert result.topic_counts["demo.deadletter"] == s["rejected_total"]
    # the most unusual light curves (anomaly score >= the served model's threshold)
    assert 0 < result.topic_counts["demo.filter.anomaly"] <= 0.02 * s["ok"]
    assert 0 < len(result.latency_s) <= s["ok"] - 40  # steady state, after the warm-up
    assert all(0 <= lat < 120 for lat in result.latency_s)
    text = out.getvalue()
    assert "in = published + rejected" in text and "-> yes" in text
    assert "latency Kafka ingest -> output: p50" in text
    assert kafka.is_running(), "the demo must not stop a broker it did not start"


def test_faucon_demo_command_prints_progress_and_keeps_the_logs_in_a_file(
    tmp_path: Path,
) -> None:
    """The real `faucon demo`, with its own Kafka: a summary on the terminal, logs in a file.

    No Spark, Kafka-client or Python warning reaches the terminal; the log file
    whose path is printed holds them; the stream's clients are stopped before the
    broker, so no client complains about a stopped broker.
    """
    port = _free_port_pair()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    env |= {
        "FAUCON_STATE_DIR": str(tmp_path / "state"),
        "FAUCON_KAFKA__BOOTSTRAP": f"127.0.0.1:{port}",
        "FAUCON_METRICS_PORT": "0",
        "FAUCON_PORTAL__PORT": str(_free_ports(1)),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("faucon")), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    terminal = proc.stdout + proc.stderr
    assert proc.returncode == 0, terminal
    assert "-> yes" in terminal and "Kafka stopped" in terminal
    assert terminal.index("Spark stopping") < terminal.index("Kafka stopped")
    for noise in ("WARN", "Warning", "rdkafka", "falling behind", "Traceback"):
        assert noise not in terminal, noise
    logs = sorted((tmp_path / "state" / "logs").glob("demo-*.log"))
    assert len(logs) == 1 and str(logs[0]) in terminal
    text = logs[0].read_text()
    assert "SparkContext" in text or "WARN" in text  # Spark's own output landed here
    assert "could not be established" not in text
    portal_shows_the_demo(terminal, env, tmp_path)


def portal_shows_the_demo(terminal: str, env: dict[str, str], cwd: Path) -> None:
    """The demo's last lines name the portal and a login; `faucon portal --demo` then serves
    the demo's alerts (its store was filled before the demo stopped Kafka)."""
    import re
    import signal
    import time

    import httpx

    stored = re.search(r"Portal (\d+) alerts of \d+ objects stored for the portal", terminal)
    found = re.search(r"open (\S+) and log in as (\S+) with password (\S+) ", terminal)
    assert stored and found, terminal[-2000:]
    alerts, url, user, password = int(stored[1]), found[1], found[2], found[3]
    assert url == f"http://127.0.0.1:{env['FAUCON_PORTAL__PORT']}" and user == "demo"
    assert password not in next((cwd / "state" / "logs").glob("demo-*.log")).read_text()
    faucon = str(Path(sys.executable).with_name("faucon"))
    server = subprocess.Popen([faucon, "portal", "--demo"], env=env, cwd=cwd, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = client.get("/api/v1/health").json()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.5)
            assert health["counts"]["alerts"] == alerts > 1_500
            client.get("/login")
            login = client.post("/login", data={"username": user, "password": password,
                                                "login_csrf": client.cookies["faucon_login"],
                                                "next": "/objects/ZTF17aaawgox"})  # fmt: skip
            assert login.status_code == 303
            page = client.get("/objects/ZTF17aaawgox")
            assert page.status_code == 200 and 'id="lightcurve"' in page.text
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert f"Faucon portal on {url}" in output and "Traceback" not in output


def test_faucon_demo_cluster_reconciles_on_three_brokers_and_two_workers(
    tmp_path: Path,
) -> None:
    """`faucon demo --cluster`: the same summary and reconciliation on real clusters."""
    base = _free_ports(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    env |= {
        "FAUCON_STATE_DIR": str(tmp_path / "state"),
        "FAUCON_KAFKA__BOOTSTRAP": f"127.0.0.1:{base}",
        "FAUCON_SPARK__CLUSTER_PORT": str(base + 6),
        "FAUCON_SPARK__CLUSTER_UI_PORT": str(base + 7),
        "FAUCON_METRICS_PORT": "0",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("faucon")), "demo", "--cluster"],
        capture_output=True, text=True, env=env, timeout=900, check=False, cwd=tmp_path,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    bootstrap = ",".join(f"127.0.0.1:{base + 2 * i}" for i in range(3))
    assert f"Kafka started on {bootstrap}" in out
    assert f"standalone cluster spark://127.0.0.1:{base + 6} with 2 workers" in out
    assert "in = published + rejected: 1817 = " in out and "-> yes" in out
    assert "unsupported_survey" in out and "demo.deadletter" in out
    assert out.index("Spark cluster stopped") < out.index("Kafka stopped")
    pids = [
        int(p.read_text())
        for p in (tmp_path / "state").rglob("*.pid")
        if p.read_text().strip().isdigit()
    ]
    assert not [p for p in pids if Path(f"/proc/{p}").exists()], "a cluster process survived"
