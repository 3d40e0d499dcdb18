"""DAG ``faucon_retrain``: retrain the classifiers, gate promotion, pick follow-up targets.

Daily at 16:00 UTC (after ``faucon_archive_night``), two independent branches:

* ``retrain`` (one mapped task per model in ``models``): build the training
  set (labelled SNANA curves ``data`` + ``extra`` label directories, plus the
  training half of the real curves ``real_curves`` for ZTF models), train,
  export ONNX, evaluate the candidate and the promoted version on the same
  SNPCC held-out curves and on the real validation curves, promote only if
  neither ``metric`` nor the real-curve metric is worse by more than
  ``tolerance``; the report is saved in the candidate's registry directory.
  Running streams load a new promoted version within seconds, no restart.
* ``followup``: rank the night's archived alerts by snia uncertainty
  (|p - 0.5| smallest first) and publish the top ``top`` on ``<prefix>.followup``
  and under ``followup/night=<N>/`` in the archive.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the DAG folder's helper module
from faucon_common import DEFAULT_ARGS, NIGHT_PATTERN, REPO, cli, resolve_night, state_dir

DEFAULT_DATA = os.environ.get(
    "FAUCON_RETRAIN_DATA", str(REPO.parent / "shared" / "data" / "labeled-snpcc-train.tar.xz")
)

with DAG(
    dag_id="faucon_retrain",
    description="Retrain classifiers with a promotion gate; active-learning follow-up targets",
    schedule=CronTriggerTimetable("0 16 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=6),
    default_args={**DEFAULT_ARGS, "retries": 1},
    params={
        "night": Param(None, type=["null", "string"], pattern=NIGHT_PATTERN),
        "models": Param(["snia", "snia_ztf", "sntype", "sntype_ztf"], type="array"),
        "data": Param(DEFAULT_DATA, type="string", description="labelled SNANA .DAT dir or tar"),
        "extra": Param([], type="array", description="more labelled .DAT directories"),
        "limit": Param(None, type=["null", "integer"], minimum=10),
        "metric": Param("roc_auc_early", type="string"),
        "tolerance": Param(0.005, type="number", minimum=0),
        "models_dir": Param(None, type=["null", "string"]),
        "real_curves": Param(
            None,
            type=["null", "string"],
            description="real labelled curves for the gate (default ../shared/data/labeled-real)",
        ),
        "top": Param(20, type="integer", minimum=1),
        "max_mag": Param(None, type=["null", "number"]),
    },
    tags=["faucon", "classifiers", "active-learning"],
    doc_md=__doc__,
) as dag:

    @task(execution_timeout=dt.timedelta(minutes=5))
    def night(params: dict[str, Any] | None = None, **context: Any) -> str:
        """The night whose archived alerts are ranked."""
        return resolve_night(params or {}, context)

    @task(execution_timeout=dt.timedelta(minutes=5))
    def models(params: dict[str, Any] | None = None) -> list[str]:
        """Models to retrain (one mapped task each)."""
        return [str(m) for m in (params or {}).get("models", [])]

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(hours=2), max_active_tis_per_dag=1)
    def retrain(model: str, params: dict[str, Any] | None = None) -> str:
        """Train a candidate, compare on the same held-out set, promote if not worse."""
        p = params or {}
        work = state_dir() / "retrain" / model
        args = ["retrain", "--task", model, "--data", p["data"], "--work-dir", str(work)]
        args += ["--metric", p["metric"], "--tolerance", str(p["tolerance"])]
        for directory in p.get("extra") or []:
            args += ["--extra", str(directory)]
        if p.get("limit"):
            args += ["--limit", str(p["limit"])]
        if p.get("models_dir"):
            args += ["--models-dir", p["models_dir"]]
        if p.get("real_curves"):
            args += ["--real-curves", p["real_curves"]]
        return cli(*args)

    @task.bash(cwd=str(REPO), execution_timeout=dt.timedelta(minutes=30))
    def followup(night: str, params: dict[str, Any] | None = None) -> str:
        """Rank the night by snia uncertainty; publish the top targets."""
        p = params or {}
        args = ["archive", "followup", "--night", night, "--top", str(p["top"])]
        if p.get("max_mag") is not None:
            args += ["--max-mag", str(p["max_mag"])]
        return cli(*args)

    followup(night())
    retrain.expand(model=models())
