"""A stream running in this process for the DAG tests, on a topic prefix of its own.

:func:`running_stream` starts the stream (the session's Spark, real Kafka, a
temporary copy of the model registry), publishes real alert files to
``raw.<tag>.ztf`` and yields once their alerts are enriched; on exit it
stops the stream and checks that it never failed.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.core.config import REPO_ROOT, Settings
from broker.core.errors import InfrastructureError
from broker.kafka.replay import load_messages, publish
from broker.kafka.topics import topic_counts
from streams.ingest import run


@dataclass
class Stream:
    """The running stream's settings (``models_dir``: its registry copy) and what it was fed."""

    settings: Settings
    published: int


def wait_enriched(settings: Settings, n: int, timeout: float) -> None:
    """Wait until the enriched topic holds ``n`` messages."""
    topic = settings.kafka.enriched_topic
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if topic_counts(settings, [topic]).get(topic, 0) >= n:
                return
        except InfrastructureError:  # the stream created the topic a moment ago: no leader yet
            pass
        time.sleep(1.0)
    raise AssertionError(f"{topic} did not reach {n} messages in {timeout:.0f} s")


@contextmanager
def running_stream(
    service_settings: Settings,
    spark: Any,
    state: Path,
    tag: str,
    files: Sequence[Path],
    timeout: float,
) -> Iterator[Stream]:
    """The stream of ``service_settings`` with ``state`` and topic prefix ``tag``, fed ``files``.

    ``timeout``: seconds the files' alerts may take to reach the enriched topic.
    """
    models = state / "models"
    shutil.copytree(REPO_ROOT / "classifiers" / "models", models)
    settings = service_settings.model_copy(
        update={
            "state_dir": state,
            "models_dir": models,
            "metrics_port": 0,
            "kafka": service_settings.kafka.model_copy(
                update={"topic_prefix": tag, "subscribe_pattern": rf"raw\.{tag}\..+"}
            ),
        }
    )
    stop = threading.Event()
    failed: list[BaseException] = []

    def stream() -> None:
        try:
            run(settings, spark=spark, stop_event=stop)
        except BaseException as exc:  # reported by the tests
            failed.append(exc)

    thread = threading.Thread(target=stream, name="faucon-stream", daemon=True)
    thread.start()
    messages = load_messages([str(p) for p in files])
    publish(settings, f"raw.{tag}.ztf", messages, progress=False)
    wait_enriched(settings, len(messages), timeout)
    assert not failed, failed
    yield Stream(settings, len(messages))
    stop.set()
    thread.join(120)
    assert not failed, failed
