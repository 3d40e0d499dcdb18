"""DAG ``faucon_archive_night``: archive one night of enriched alerts as Parquet.

Daily at 14:00 UTC (a night ends at 12:00 UTC; two hours of grace for late
alerts), for the night that just ended, or the ``night`` given when triggered:

``night`` -> ``archive`` (Spark: Kafka -> ``survey=<S>/night=<N>/``) ->
``compact`` (few large files) -> ``manifest`` (counts, offsets, sha256) ->
``verify`` (every published alert of the night archived exactly once).

Every step is idempotent: re-running a night replaces its partitions atomically.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the DAG folder's helper module
from faucon_common import DEFAULT_ARGS, NIGHT_PATTERN, REPO, cli, resolve_night

with DAG(
    dag_id="faucon_archive_night",
    description="Archive a night of enriched alerts as Parquet, with manifest and verification",
    schedule=CronTriggerTimetable("0 14 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=8),
    default_args=DEFAULT_ARGS,
    params={
        "night": Param(
            None,
            type=["null", "string"],
            pattern=NIGHT_PATTERN,
            description="night YYYY-MM-DD (default: the night that ended at 12:00 UTC)",
        )
    },
    tags=["faucon", "archive"],
    doc_md=__doc__,
) as dag:

    @task(execution_timeout=dt.timedelta(minutes=5))
    def night(params: dict[str, Any] | None = None, **context: Any) -> str:
        """The night this run archives."""
        return resolve_night(params or {}, context)

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=3))
    def archive(night: str) -> str:
        """Spark batch job: enriched topic -> Parquet partitions of the night."""
        return cli("archive", "--night", night)

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=1))
    def compact(night: str) -> str:
        """Rewrite the night's partitions into few large files."""
        return cli("archive", "compact", "--night", night)

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(minutes=30))
    def manifest(night: str) -> str:
        """Write manifest.json: counts, Kafka offsets, files with sha256 and rows."""
        return cli("archive", "manifest", "--night", night)

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=2))
    def verify(night: str) -> str:
        """Check files and that every published alert of the night is archived once."""
        return cli("archive", "verify", "--night", night)

    n = night()
    archive(n) >> compact(n) >> manifest(n) >> verify(n)
