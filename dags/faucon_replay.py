"""DAG ``faucon_replay``: republish an archived night, or a filter's selection, into a topic.

Triggered by hand (no schedule) with ``night``, ``topic`` and optionally a
built-in SQL filter's name (``filter``) or a Spark SQL condition (``where``)
evaluated with Spark over the night's Parquet files.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the DAG folder's helper module
from faucon_common import DEFAULT_ARGS, NIGHT_PATTERN, REPO, cli

with DAG(
    dag_id="faucon_replay",
    description="Republish an archived night (or a filter's selection of it) into a topic",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=2,
    dagrun_timeout=dt.timedelta(hours=4),
    default_args={**DEFAULT_ARGS, "retries": 1},
    params={
        "night": Param("2023-10-17", type="string", pattern=NIGHT_PATTERN),
        "topic": Param("faucon.replay", type="string", pattern=r"^[A-Za-z0-9._-]{1,249}$"),
        "filter": Param(None, type=["null", "string"], description="built-in SQL filter name"),
        "where": Param(None, type=["null", "string"], description="or a Spark SQL condition"),
    },
    tags=["faucon", "archive", "replay"],
    doc_md=__doc__,
) as dag:

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=3))
    def replay(params: dict[str, Any] | None = None) -> str:
        """Spark job: archived night -> (filter) -> Avro messages on the topic."""
        p = params or {}
        args = ["archive", "replay", "--night", p["night"], "--topic", p["topic"]]
        if p.get("filter"):
            args += ["--filter", p["filter"]]
        if p.get("where"):
            args += ["--where", p["where"]]
        return cli(*args)

    replay()
