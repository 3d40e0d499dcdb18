"""Fixtures of the DAG tests: a throw-away AIRFLOW_HOME (SQLite) and a way to run DAGs.

Airflow lives in its own environment (``.venv-airflow``, ``make airflow-setup``);
the DAGs are loaded and run there (``dag.test()``) in a subprocess, whose
tasks call the broker's entry points in this environment (``FAUCON_PYTHON``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings

AIRFLOW_PYTHON = REPO_ROOT / ".venv-airflow" / "bin" / "python"
DAGS = REPO_ROOT / "dags"


@dataclass
class Airflow:
    """A migrated AIRFLOW_HOME and the environment of its processes."""

    home: Path
    env: dict[str, str]

    def python(self, code: str, extra_env: dict[str, str] | None = None) -> str:
        """Run ``code`` with the Airflow environment's Python; return its output."""
        done = subprocess.run(
            [str(AIRFLOW_PYTHON), "-c", code],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"Airflow subprocess failed:\n{out[-6000:]}"
        return out

    def test_dag(self, dag_id: str, conf: dict[str, Any], settings: Settings) -> str:
        """``dag.test(run_conf=conf)`` with ``settings`` passed as FAUCON_* variables."""
        code = (
            "from airflow.dag_processing.dagbag import DagBag\n"
            f"bag = DagBag({str(DAGS)!r})\n"
            "assert not bag.import_errors, bag.import_errors\n"
            f"run = bag.get_dag({dag_id!r}).test(run_conf={conf!r})\n"
            "print('DAGRUN_STATE=' + str(run.state))\n"
        )
        out = self.python(code, faucon_env(settings))
        assert "DAGRUN_STATE=success" in out, f"{dag_id} did not succeed:\n{out[-8000:]}"
        return out


def faucon_env(settings: Settings) -> dict[str, str]:
    """FAUCON_* variables that make the tasks' commands use ``settings``."""
    k = settings.kafka
    return {
        "FAUCON_PYTHON": sys.executable,
        "FAUCON_STATE_DIR": str(settings.state_dir),
        "FAUCON_MODELS_DIR": str(settings.models_dir),
        "FAUCON_KAFKA__BOOTSTRAP": k.bootstrap,
        "FAUCON_KAFKA__TOPIC_PREFIX": k.topic_prefix,
        "FAUCON_KAFKA__PARTITIONS": str(k.partitions),
        "FAUCON_SPARK__DRIVER_MEMORY": "1g",
        "FAUCON_METRICS_PORT": "0",
    }


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """A fresh AIRFLOW_HOME with a migrated SQLite database and the repository's DAG folder."""
    assert AIRFLOW_PYTHON.is_file(), f"{AIRFLOW_PYTHON} missing: run `make airflow-setup`"
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAUCON_", "AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        }
    )
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Airflow(home, env)


def dag_details(airflow: Airflow) -> dict[str, Any]:
    """Every DAG of the folder as JSON: schedule, timeouts, retries, tasks, params."""
    code = f"""
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({str(DAGS)!r})
out = {{"import_errors": {{k: str(v) for k, v in bag.import_errors.items()}}, "dags": {{}}}}
for dag_id, dag in sorted(bag.dags.items()):
    out["dags"][dag_id] = {{
        "timetable": type(dag.timetable).__name__,
        "cron": getattr(dag.timetable, "_expression", None),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "dagrun_timeout_s": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        "params": sorted(dag.params.keys()),
        "tags": sorted(dag.tags),
        "tasks": {{
            t.task_id: {{
                "type": type(t).__name__,
                "retries": t.retries,
                "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                "upstream": sorted(t.upstream_task_ids),
            }}
            for t in dag.tasks
        }},
    }}
print("JSON=" + json.dumps(out))
"""
    out = airflow.python(code)
    line = next(x for x in out.splitlines() if x.startswith("JSON="))
    return dict(json.loads(line[5:]))
