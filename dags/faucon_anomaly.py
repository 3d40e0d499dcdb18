"""DAG ``faucon_anomaly``: retrain each survey's anomaly model on the archived nights.

Daily at 16:30 UTC (after ``faucon_archive_night``), one mapped task per
survey in ``surveys``: read the archived alerts of the ``window_days``
nights ending with ``night`` and the experts' labels (topic
``<prefix>.anomaly-labels``), train the isolation forest and the label
reranker, gate the candidate on the fixed reference set (bundled real demo
alerts and real labelled curves) against the promoted version, promote it
when the gate passes.  The running stream loads it within seconds, no
restart.  ``faucon anomaly train --survey S --night N`` does the same by
hand; its report is ``train-report.json`` beside the candidate.
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
    dag_id="faucon_anomaly",
    description="Retrain the anomaly models on archived nights and experts' labels, gated",
    schedule=CronTriggerTimetable("30 16 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=3),
    default_args={**DEFAULT_ARGS, "retries": 1},
    params={
        "night": Param(None, type=["null", "string"], pattern=NIGHT_PATTERN),
        "surveys": Param(["ZTF", "LSST"], type="array", description="one model per survey"),
        "window_days": Param(
            None, type=["null", "integer"], minimum=1, description="nights (default: settings)"
        ),
        "min_alerts": Param(
            None, type=["null", "integer"], minimum=2, description="fewest alerts to train on"
        ),
        "promote": Param(True, type="boolean", description="promote when the gate passes"),
        "models_dir": Param(None, type=["null", "string"]),
    },
    tags=["faucon", "anomaly", "active-learning"],
    doc_md=__doc__,
) as dag:

    @task(execution_timeout=dt.timedelta(minutes=5))
    def night(params: dict[str, Any] | None = None, **context: Any) -> str:
        """The last night of the training window."""
        return resolve_night(params or {}, context)

    @task(execution_timeout=dt.timedelta(minutes=5))
    def surveys(params: dict[str, Any] | None = None) -> list[str]:
        """Surveys to retrain (one mapped task each)."""
        return [str(s).upper() for s in (params or {}).get("surveys", [])]

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=1), max_active_tis_per_dag=1)
    def train(survey: str, night: str, params: dict[str, Any] | None = None) -> str:
        """Train on the window and the labels, gate on the reference set, promote if it passes."""
        p = params or {}
        args = ["train", "--survey", survey, "--night", night]
        if p.get("window_days"):
            args += ["--window-days", str(p["window_days"])]
        if p.get("min_alerts"):
            args += ["--min-alerts", str(p["min_alerts"])]
        if p.get("models_dir"):
            args += ["--models-dir", str(p["models_dir"])]
        if not p.get("promote", True):
            args.append("--no-promote")
        return cli("anomaly", *args, module="broker.cli.anomaly")

    train.partial(night=night()).expand(survey=surveys())
