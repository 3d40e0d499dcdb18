"""Local Apache Airflow 3 (SQLite) for the Faucon DAGs, started and stopped by pid.

Airflow lives in its own virtual environment, ``.venv-airflow`` (``make
airflow-setup``), so its ~110 dependencies never move the broker's; the DAG
tasks call the main environment's ``python -m broker.cli.archive ...``.
``AIRFLOW_HOME`` is ``<state_dir>/airflow`` (SQLite database, logs, pid
files); the DAG folder is the repository's ``dags/``.  ``start`` migrates the
database (idempotent) and runs ``api-server`` (loopback only), ``scheduler``
and ``dag-processor`` in the background, each in its own process group with
a pid file; ``stop`` ends exactly those processes.

Examples
--------
>>> from broker.core.config import load_settings
>>> env = LocalAirflow(load_settings(state_dir="/tmp/s")).environment()
>>> env["AIRFLOW_HOME"], env["AIRFLOW__CORE__LOAD_EXAMPLES"]
('/tmp/s/airflow', 'False')
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from broker.core.config import REPO_ROOT, Settings
from broker.core.errors import InfrastructureError
from broker.core.processes import alive, wait_exit

AIRFLOW_VENV = REPO_ROOT / ".venv-airflow"
DAGS_FOLDER = REPO_ROOT / "dags"
FAUCON_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
SERVICES = ("api-server", "scheduler", "dag-processor")
START_TIMEOUT_S = 180.0
DEFAULT_PORT = 8080


def airflow_bin() -> Path:
    """The ``airflow`` executable (``$FAUCON_AIRFLOW_VENV`` or ``.venv-airflow``)."""
    venv = Path(os.environ.get("FAUCON_AIRFLOW_VENV", AIRFLOW_VENV))
    path = venv / "bin" / "airflow"
    if not path.is_file():
        raise InfrastructureError(
            f"Airflow is not installed ({path} missing); run `make airflow-setup`"
        )
    return path


class LocalAirflow:
    """The local Airflow of one state directory.

    Parameters
    ----------
    settings
        Faucon settings (``state_dir``; every ``FAUCON_*`` variable is passed on to the tasks).
    port
        Port of the API server and UI, on 127.0.0.1 (default: the port of the
        last ``start`` of this state directory, else :data:`DEFAULT_PORT`).
    """

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.home = settings.state_dir / "airflow"
        if port is None:
            try:
                port = int((self.home / "api-server.port").read_text())
            except (FileNotFoundError, ValueError):
                port = DEFAULT_PORT
        self.port = port

    def environment(self) -> dict[str, str]:
        """Environment of every Airflow process (and so of the DAG tasks)."""
        env = dict(os.environ)
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                    f"http://127.0.0.1:{self.port}/execution/"
                ),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "FAUCON_PYTHON": os.environ.get("FAUCON_PYTHON", str(FAUCON_PYTHON)),
                "FAUCON_STATE_DIR": str(self.settings.state_dir),
            }
        )
        return env

    def _pid_file(self, service: str) -> Path:
        return self.home / f"{service}.pid"

    def _pid(self, service: str) -> int | None:
        """Pid of a running service started here, else None (stale pid files are removed)."""
        path = self._pid_file(service)
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            path.unlink(missing_ok=True)
            return None
        return pid if b"airflow" in cmdline else None

    def migrate(self) -> None:
        """Create or upgrade the SQLite metadata database (idempotent)."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "db-migrate.log"
        with log.open("w") as out:
            done = subprocess.run(
                [str(airflow_bin()), "db", "migrate"],
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise InfrastructureError(f"`airflow db migrate` failed; see {log}")

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Migrate, start the services not running yet, wait until the API answers."""
        self.migrate()
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        (self.home / "api-server.port").write_text(f"{self.port}\n")
        started: dict[str, subprocess.Popen[bytes]] = {}
        for service in SERVICES:
            if self._pid(service) is not None:
                continue
            args = [str(airflow_bin()), service]
            if service == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port)]
            if service == "scheduler":  # task logs are local files: no log server listening
                args += ["--skip-serve-logs"]
            with (self.home / "logs" / f"{service}.out").open("ab") as out:
                proc = subprocess.Popen(
                    args,
                    env=self.environment(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._pid_file(service).write_text(f"{proc.pid}\n")
            started[service] = proc
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"Airflow API on 127.0.0.1:{self.port} not healthy after {timeout:.0f} s; "
                    f"see {self.home / 'logs'}"
                )
            dead = [s for s, proc in started.items() if proc.poll() is not None]
            if dead:
                raise InfrastructureError(
                    f"Airflow {', '.join(dead)} exited; see {self.home / 'logs'}"
                )
            time.sleep(1.0)

    def healthy(self) -> bool:
        """True when the API server's health endpoint says the metadatabase is healthy."""
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200 and b'"healthy"' in resp.read())
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop the services this state directory started and their task processes.

        SIGTERM to each service's process group and to every descendant (task
        runners may start their own session), SIGKILL after ``timeout`` s.
        """
        stopped = []
        for service in SERVICES:
            pid = self._pid(service)
            if pid is None:
                continue
            family = [pid, *_descendants(pid)]
            for target in family:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while any(alive(p) for p in family) and time.monotonic() < deadline:
                time.sleep(0.2)
            for target in family:
                if alive(target):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(target, signal.SIGKILL)
                    wait_exit(target, 10.0)  # and reaped, if it is our child
            self._pid_file(service).unlink(missing_ok=True)
            stopped.append(service)
        return stopped

    def status(self) -> dict[str, Any]:
        """Home, per-service pid (None when not running) and API health."""
        return {
            "airflow_home": str(self.home),
            "dags_folder": str(DAGS_FOLDER),
            "url": f"http://127.0.0.1:{self.port}",
            "services": {s: self._pid(s) for s in SERVICES},
            "healthy": self.healthy(),
        }


def _descendants(pid: int) -> list[int]:
    """Pids of every descendant of ``pid`` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(children.get(child, []))
    return out
