"""Run the real ``faucon stream`` process under supervision and check what it wrote.

Shared by the fault tests (a Kafka broker restarted under the stream, a
cluster losing a broker and a Spark worker): a :class:`Supervisor` restarts
the stream when it exits, as a deployment would (compose ``restart:
unless-stopped``); :func:`check_outputs` reads every raw and output message
and checks, against the independent oracle, that every raw (partition,
offset) reached its topics, that duplicates stay within the interrupted
micro-batches, and that the counters reconcile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from broker.core.config import REPO_ROOT, Settings
from broker.kafka.consume import decode_output, read_topic
from broker.kafka.replay import Message, publish
from broker.kafka.topics import topic_counts
from broker.ops.stats import stats_path
from tests.streams.oracle import Expected

FAUCON = str(Path(sys.executable).parent / "faucon")
FILTERS = ("bright_transient", "new_object", "known_solar_system")


class Timeline:
    """Notes stamped with the seconds since the test began; printed when it ends."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        self.lines.append(f"{time.monotonic() - self.t0:6.1f} s  {text}")

    def __str__(self) -> str:
        return "\n".join(self.lines)


class BackgroundReplay:
    """``publish`` in a thread (the rest of a night, while faults happen); failures are kept."""

    def __init__(
        self, settings: Settings, topic: str, messages: list[Message], rate: float, loops: int
    ) -> None:
        self.failures: list[BaseException] = []
        self.thread = threading.Thread(
            target=self._run, args=(settings, topic, messages, rate, loops), daemon=True
        )

    def _run(
        self, settings: Settings, topic: str, messages: list[Message], rate: float, loops: int
    ) -> None:
        try:
            publish(settings, topic, messages, rate=rate, loop=loops, progress=False)
        except BaseException as exc:  # re-raised by the test
            self.failures.append(exc)


def stream_env(settings: Settings, max_offsets: int, **extra: str) -> dict[str, str]:
    """The environment a deployment would set for these settings (plus ``extra``)."""
    k = settings.kafka
    env = {key: v for key, v in os.environ.items() if not key.startswith("FAUCON_")}
    env.update(
        {
            "FAUCON_STATE_DIR": str(settings.state_dir),
            "FAUCON_KAFKA__BOOTSTRAP": k.bootstrap,
            "FAUCON_KAFKA__TOPIC_PREFIX": k.topic_prefix,
            "FAUCON_KAFKA__SUBSCRIBE_PATTERN": k.subscribe_pattern,
            "FAUCON_KAFKA__PARTITIONS": str(k.partitions),
            "FAUCON_METRICS_PORT": "0",
            "FAUCON_SPARK__TRIGGER_SECONDS": "0.5",
            "FAUCON_SPARK__MAX_OFFSETS_PER_TRIGGER": str(max_offsets),
        }
    )
    return env | extra


class Supervisor:
    """Runs ``faucon stream``; starts it again whenever it exits (restart: unless-stopped)."""

    def __init__(
        self,
        settings: Settings,
        log_dir: Path,
        note: Callable[[str], None],
        env: dict[str, str],
        args: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.env = env
        self.args = list(args)
        self.log_dir = log_dir
        self.note = note
        self.proc: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # exit codes of the runs that ended on their own

    def start(self) -> None:
        log = self.log_dir / f"stream-{len(self.exits) + 1}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [FAUCON, "stream", *self.args],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check(self) -> None:
        """Start the stream again if it exited."""
        assert self.proc is not None
        if (code := self.proc.poll()) is not None:
            self.exits.append(code)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever it left behind
            self.note(f"the stream exited with code {code}; started again")
            self.start()

    def log_tail(self, chars: int = 4000) -> str:
        text = "".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("stream-*.log"))
        )
        return "\n".join(line for line in text[-chars:].splitlines() if "NetworkClient" not in line)

    def stop(self) -> None:
        """SIGTERM (the stream stops its query and exits), then SIGKILL what is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its JVM and Python workers
        self.proc.wait(30)


def stats(settings: Settings) -> dict[str, Any]:
    path = stats_path(settings)
    return json.loads(path.read_text()) if path.is_file() else {"in": 0, "batches": 0}


def beyond(settings: Settings, n: int) -> Callable[[], bool]:
    """Whether the stream has counted more than ``n`` raw messages."""
    return lambda: int(stats(settings)["in"]) > n


def after(deadline: float) -> Callable[[], bool]:
    """Whether the monotonic clock passed ``deadline``."""
    return lambda: time.monotonic() >= deadline


def wait_until(what: str, done: Callable[[], bool], sup: Supervisor, timeout: float) -> float:
    """Wait for ``done()`` while supervising the stream; return the seconds it took."""
    start = time.monotonic()
    while not done():
        sup.check()
        assert time.monotonic() - start < timeout, (
            f"{what}: not within {timeout:.0f} s; counters {stats(sup.settings)}; "
            f"stream exits {sup.exits}\n{sup.log_tail()}"
        )
        time.sleep(0.1)
    return time.monotonic() - start


def sigkill(broker: Any) -> None:
    """Kill the broker as a crash would: no controlled shutdown, no flush."""
    pid = broker.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.is_running():  # the pid file goes once the process is gone
        assert time.monotonic() < deadline, "Kafka survived SIGKILL"
        time.sleep(0.1)


def read_all(settings: Settings, topic: str) -> list[Any]:
    n = topic_counts(settings, [topic])[topic]
    msgs = list(read_topic(settings, topic, max_messages=n, idle_timeout=30.0))
    assert len(msgs) == n, f"read {len(msgs)} of {n} messages from {topic}"
    return msgs


def check_outputs(
    s: Settings,
    raw: str,
    sent: int,
    oracle: dict[bytes, Expected | None],
    note: Callable[[str], None],
    env: dict[str, str],
    max_offsets: int,
    filters: Sequence[str] = FILTERS,
) -> None:
    """Check every output of the stream against the oracle (see the module docstring)."""
    tag, k = s.kafka.topic_prefix, s.kafka
    # `faucon consume --dedupe`, run while the test reads the topics itself.
    n_enriched = topic_counts(s, [k.enriched_topic])[k.enriched_topic]
    consume = subprocess.Popen(
        [FAUCON, "consume", "--topic", k.enriched_topic, "--from-beginning", "--dedupe",
         "--max", str(n_enriched), "--save", str(s.state_dir / "saved"), "--timeout", "30"],
        env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # What each raw message must become, by the oracle; where the night's repeats sit.
    copies: dict[bytes, list[tuple[int, int]]] = {}
    expected: dict[tuple[int, int], Expected | None] = {}
    value_of: dict[tuple[int, int], bytes] = {}
    for m in read_all(s, raw):
        src = (m.partition, m.offset)
        copies.setdefault(m.value, []).append(src)
        expected[src], value_of[src] = oracle[m.value], m.value
    assert len(expected) == sent

    seen: Counter[tuple[int, int]] = Counter()
    alert_ids: set[tuple[str, int]] = set()
    for m in read_all(s, k.enriched_topic):
        rec = decode_output(m.value)
        prov = rec["provenance"]
        src = (prov["input_partition"], prov["input_offset"])
        exp = expected[src]
        assert prov["input_topic"] == raw and exp is not None
        assert (rec["survey"], rec["alert_id"]) == (exp.survey, exp.alert_id)
        seen[src] += 1
        alert_ids.add((rec["survey"], rec["alert_id"]))
    enriched = sum(seen.values())
    for m in read_all(s, k.deadletter_topic):
        rec = decode_output(m.value)
        src = (rec["input_partition"], rec["input_offset"])
        assert expected[src] is None and rec["reason"] == "unsupported_survey", rec["reason"]
        seen[src] += 1
    dead = sum(seen.values()) - enriched
    assert set(seen) == set(expected), "every raw message reaches enriched or dead-letter"
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= 2 * max_offsets, "duplicates only from interrupted micro-batches"

    per_filter: dict[str, int] = {}
    for name in filters:
        msgs = [decode_output(m.value) for m in read_all(s, f"{tag}.filter.{name}")]
        want = {src for src, e in expected.items() if e is not None and name in e.filters}
        assert want and len(msgs) - len(want) <= 2 * max_offsets, name
        per_filter[name] = len(msgs)
        if "provenance" in msgs[0]:
            got = {(r["provenance"]["input_partition"], r["provenance"]["input_offset"])
                   for r in msgs}  # fmt: skip
            assert want <= got, f"{name}: alerts missing from the filter topic"
            # Routing is deterministic: every repeat of a routed raw message is there too.
            assert got == {c for src in got for c in copies[value_of[src]]}, name
        else:  # the thin profile carries no provenance: count by alert id
            by_id = Counter((r["survey"], r["alert_id"]) for r in msgs)
            need = Counter((expected[src].survey, expected[src].alert_id) for src in want)  # type: ignore[union-attr]
            assert not need - by_id, f"{name}: alerts missing from the filter topic"

    d = stats(s)
    assert d["in"] == sent, "the counters count each raw message once (a replay replaces)"
    assert d["ok"] == sum(e is not None for e in expected.values())
    assert d["ok"] == enriched - _duplicates(seen, expected, accepted=True)
    assert d["rejected"] == {"unsupported_survey": dead - _duplicates(seen, expected, False)}
    assert d["in"] == d["ok"] + d["rejected_total"]

    _, err = consume.communicate(timeout=300)
    assert consume.returncode == 0, err[-3000:]
    kept = re.search(r"(\d+) messages from \S+, (\d+) duplicates dropped", err)
    assert kept, err[-3000:]
    assert (int(kept[1]), int(kept[2])) == (len(alert_ids), enriched - len(alert_ids))
    note(
        f"{sent} raw -> {enriched} enriched + {dead} dead-letter, {duplicates} duplicates; "
        f"filter topics {per_filter}; --dedupe keeps {kept[1]} alert ids, drops {kept[2]}; "
        f"counters: {d['in']} in = {d['ok']} ok + {d['rejected_total']} rejected, "
        f"{d['batches']} batches"
    )


def _duplicates(
    seen: Counter[tuple[int, int]], expected: dict[tuple[int, int], Any], accepted: bool
) -> int:
    """Extra copies among the accepted (enriched) or rejected (dead-letter) raw messages."""
    return sum(n - 1 for src, n in seen.items() if (expected[src] is not None) == accepted)
