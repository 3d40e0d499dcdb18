"""Resources of ``faucon bench``: machine facts, CPU seconds and peak memory per process.

The components are found by command line: the Spark driver JVM
(``SparkSubmit``), the pyspark daemon and its Python workers, the Kafka broker
(by pid) and the bench's own Python process.

Examples
--------
>>> sorted(machine())
['cores', 'date', 'load_average_at_start', 'memory_gb']
>>> in_child(sum, [1, 2, 3])
6
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def pids_matching(*needles: str) -> list[int]:
    """Pids whose command line contains one of ``needles``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
            except OSError:
                continue
            if any(n in cmd for n in needles):
                pids.append(int(entry.name))
    return pids


def _cpu_s(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of ``pid``, with its reaped children's if asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds(kafka_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far per component; subtract two readings for a run's share.

    Python workers include the exited ones (reaped by the pyspark daemon).
    """
    times = os.times()
    return {
        "spark_driver_jvm": sum(_cpu_s(p) for p in pids_matching("SparkSubmit")),
        "python_workers": sum(
            _cpu_s(p, children=True) for p in pids_matching("pyspark.daemon", "pyspark.worker")
        ),
        "kafka": _cpu_s(kafka_pid) if kafka_pid else 0.0,
        "python_driver": times.user + times.system,
    }


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_gb(kafka_pid: int | None) -> dict[str, float]:
    """Peak resident memory (VmHWM) per component, GB."""
    gb = 1024 * 1024
    driver = sum(_vm_hwm_kb(p) for p in pids_matching("org.apache.spark.deploy.SparkSubmit"))
    workers = sum(_vm_hwm_kb(p) for p in pids_matching("pyspark.daemon", "pyspark.worker"))
    this = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kafka = _vm_hwm_kb(kafka_pid) if kafka_pid else 0
    out = {
        "spark_driver_jvm": driver / gb,
        "python_workers": workers / gb,
        "kafka": kafka / gb,
        "python_driver": this / gb,
    }
    out["total"] = sum(out.values())
    return {k: round(v, 3) for k, v in out.items()}


def machine() -> dict[str, Any]:
    """Cores and memory of this machine."""
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cores": os.cpu_count() or 1,
        "memory_gb": mem_kb / 1024 / 1024,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked child process (its memory is freed when it returns)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_send_result, args=(send, fn, args))
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError as exc:
        raise RuntimeError(f"{fn.__name__} died in its child process") from exc
    finally:
        child.join()
    if not ok:
        raise RuntimeError(f"{fn.__name__} failed in its child process: {value}")
    return value


def _send_result(send: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        send.send((True, fn(*args)))
    except Exception as exc:  # reported by the parent
        send.send((False, repr(exc)))


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of ``values``."""
    arr = np.asarray(values, dtype=float)
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 95, 99)}
