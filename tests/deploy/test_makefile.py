"""`make demo` installs only what the demo uses, and setup steps print one line each."""

from __future__ import annotations

import subprocess
from pathlib import Path

from broker.core.config import REPO_ROOT


def _dry_run(target: str) -> list[str]:
    """Every command ``make TARGET`` would run from scratch (``-n -B``: nothing is executed)."""
    proc = subprocess.run(
        ["make", "-n", "-B", target], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_demo_installs_neither_airflow_nor_the_compose_tool() -> None:
    commands = "\n".join(_dry_run("demo"))
    assert 'pip install --quiet -e ".[dev]"' in commands
    assert "broker.kafka.jars" in commands
    assert "faucon demo" in commands
    assert "apache-airflow" not in commands
    assert "ensure_compose_tool" not in commands


def test_test_target_sets_up_airflow_and_the_compose_tool() -> None:
    commands = "\n".join(_dry_run("test"))
    assert "apache-airflow" in commands and "ensure_compose_tool" in commands


def test_every_install_step_goes_through_the_quiet_runner() -> None:
    for line in _dry_run("setup"):
        if "pip install" in line or "broker.kafka.jars" in line or "ensure_compose_tool" in line:
            assert line.startswith("bash deploy/quiet.sh .state/logs/setup.log"), line


def test_quiet_runner_prints_one_line_or_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "setup.log"
    script = str(REPO_ROOT / "deploy" / "quiet.sh")
    ok = subprocess.run(
        ["bash", script, str(log), "step one", "bash", "-c", "echo noisy pip warning >&2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0
    assert ok.stdout == "step one ... done\n" and ok.stderr == ""
    assert "noisy pip warning" in log.read_text()
    bad = subprocess.run(
        ["bash", script, str(log), "step two", "bash", "-c", "echo the real cause; exit 3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 3
    assert "step two ... FAILED (exit 3)" in bad.stdout and "the real cause" in bad.stdout
