"""A real Spark standalone cluster on this machine: a master and N workers.

Started from pyspark's own distribution (``bin/spark-class``, the classes
``org.apache.spark.deploy.master.Master`` and ``...worker.Worker``), each in
its own detached JVM with its own work directory under
``<state_dir>/spark-cluster``. ``faucon stream --master spark://...`` then
runs the job on it: executors are separate JVMs launched by the workers,
whose Python workers use this environment's interpreter.

Examples
--------
>>> from broker.core.config import load_settings
>>> LocalSparkCluster(load_settings()).master_url
'spark://127.0.0.1:7077'
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.core.config import Settings
from broker.core.errors import InfrastructureError
from broker.core.processes import alive, check_port_free, wait_exit

log = logging.getLogger(__name__)
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass(frozen=True)
class ClusterStatus:
    """What the master reports: its URL, state and each worker's state."""

    running: bool
    master_url: str
    ui_url: str
    workers: list[dict[str, Any]]

    @property
    def alive_workers(self) -> int:
        """Workers the master sees as ALIVE."""
        return sum(1 for w in self.workers if w.get("state") == "ALIVE")


class LocalSparkCluster:
    """Start, stop and inspect a standalone master and its workers on loopback."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "spark-cluster"
        sp = settings.spark
        self.host = "127.0.0.1"
        self.master_url = f"spark://{self.host}:{sp.cluster_port}"
        self.ui_url = f"http://{self.host}:{sp.cluster_ui_port}"

    # -- processes -------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def _pid(self, name: str) -> int | None:
        try:
            pid = int(self._pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def _env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env |= {
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOG_DIR": str(self.home / "logs"),
            "SPARK_LOCAL_DIRS": str(self.home / name / "tmp"),
            "SPARK_LOCAL_IP": self.host,
            "PYSPARK_PYTHON": sys.executable,
        }
        return env

    def _launch(self, name: str, args: list[str]) -> int:
        (self.home / name / "tmp").mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        out = self.home / "logs" / f"{name}.out"
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        launcher = '"$@" >>"$0" 2>&1 </dev/null & echo $!'
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", launcher, str(out), *cmd], capture_output=True, text=True,
                start_new_session=True, check=True, timeout=30, env=self._env(name),
                cwd=self.home / name,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise InfrastructureError(f"cannot launch Spark {name}: {exc}") from exc
        pid = int(proc.stdout.strip())
        self._pid_file(name).write_text(f"{pid}\n")
        return pid

    def start(self, workers: int = 1, timeout: float = 90.0) -> bool:
        """Start the master and ``workers`` workers; wait until all are ALIVE.

        Returns False if a master of this state dir was already running (its
        workers are left as they are).
        """
        if self._pid("master") is not None:
            return False
        sp = self.settings.spark
        fix = "FAUCON_SPARK__CLUSTER_PORT and FAUCON_SPARK__CLUSTER_UI_PORT"
        check_port_free("master", f"{self.host}:{sp.cluster_port}", "Spark master", fix)
        check_port_free("master UI", f"{self.host}:{sp.cluster_ui_port}", "Spark master", fix)
        self.home.mkdir(parents=True, exist_ok=True)
        self._launch(
            "master",
            [MASTER_CLASS, "--host", self.host, "--port", str(sp.cluster_port),
             "--webui-port", str(sp.cluster_ui_port)],
        )  # fmt: skip
        self._wait(lambda st: st.running, timeout, "the master to answer")
        for i in range(1, workers + 1):
            name = f"worker-{i}"
            self._launch(
                name,
                [WORKER_CLASS, "--host", self.host, "--cores", str(sp.worker_cores),
                 "--memory", sp.worker_memory, "--work-dir", str(self.home / name / "work"),
                 "--webui-port", "0", self.master_url],
            )  # fmt: skip
        self._wait(lambda st: st.alive_workers >= workers, timeout, f"{workers} workers")
        log.info("Spark standalone cluster at %s with %d workers", self.master_url, workers)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the workers, then the master. False if nothing was running."""
        names = [*sorted(p.stem for p in self.home.glob("worker-*.pid")), "master"]
        stopped = False
        for name in names:
            pid = self._pid(name)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)  # spark-class execs the JVM: same pid
                if not wait_exit(pid, timeout):
                    os.kill(pid, signal.SIGKILL)
                    wait_exit(pid, 10.0)
                stopped = True
            self._pid_file(name).unlink(missing_ok=True)
        return stopped

    def kill_worker(self, index: int) -> int:
        """SIGKILL worker ``index`` (1-based), as a crash would; returns its pid."""
        pid = self._pid(f"worker-{index}")
        if pid is None:
            raise InfrastructureError(f"Spark worker-{index} is not running")
        os.kill(pid, signal.SIGKILL)
        wait_exit(pid, 10.0)
        return pid

    # -- status ----------------------------------------------------------
    def status(self) -> ClusterStatus:
        """The master's own JSON status (``/json``); not running when it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=3) as resp:
                data = json.loads(resp.read())
        except (OSError, ValueError):
            return ClusterStatus(False, self.master_url, self.ui_url, [])
        workers = [
            {k: w.get(k) for k in ("id", "host", "port", "cores", "memory", "state")}
            for w in data.get("workers", [])
        ]
        return ClusterStatus(data.get("status") == "ALIVE", self.master_url, self.ui_url, workers)

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(self.status()):
                return
            time.sleep(0.5)
        tail = ""
        for out in sorted((self.home / "logs").glob("*.out")):
            tail += f"\n--- {out} ---\n" + "\n".join(out.read_text().splitlines()[-15:])
        self.stop()
        raise InfrastructureError(
            f"the local Spark cluster did not get {what} within {timeout:.0f} s; "
            f"it was stopped. Logs in {self.home / 'logs'}:{tail}"
        )
