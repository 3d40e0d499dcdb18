"""The real Kafka broker restarted under the running stream: nothing is lost.

The test runs its own Apache Kafka broker (not the session one, which other
tests share), the real ``faucon stream`` process and real alerts, published
partly before the stream starts and partly at a limited rate while it runs.
It stops the broker twice while alerts flow, each time in the middle of a
micro-batch: gracefully (SIGTERM, what ``faucon kafka stop`` and a container
stop send) and by SIGKILL (a crash), then starts it again on the same ports
and data.  The stream is supervised the way a deployment supervises it (compose
``restart: unless-stopped``): if it exits, it is started again.

Observed: the stream rides both outages out without exiting (Spark's Kafka
source, sink and admin clients retry; the interrupted micro-batch simply takes
longer) and goes on within seconds of the broker answering again; the test
asserts that, and the content:

* every raw (partition, offset) is in the enriched or the dead-letter topic,
  every alert in each filter topic it belongs to (by the independent oracle,
  and every repeat of a routed raw message too), at least once;
* duplicates at most two micro-batches' worth (none were seen: the sink's
  idempotent producer retries across the restart); ``faucon consume --dedupe``
  leaves one message per alert id;
* the counters count each raw message once and reconcile (in = ok + rejected).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings
from broker.kafka.consume import decode_output, read_topic
from broker.kafka.local import LocalKafka
from broker.kafka.replay import load_messages, publish
from broker.kafka.topics import topic_counts
from broker.ops.stats import stats_path
from tests.conftest import DEMO_ALERTS, _free_port_pair
from tests.streams.oracle import Expected, expected_for

pytestmark = pytest.mark.integration
FAUCON = str(Path(sys.executable).parent / "faucon")
MAX_OFFSETS = 500  # per micro-batch; duplicates are bounded by interrupted batches
OUTAGES = {"SIGTERM": 10.0, "SIGKILL": 6.0}  # how the broker is stopped -> seconds down
LOOPS = 3  # the night: 3 x 1,813 real alerts (ZTF, Rubin, and 8 of other surveys)
RATE = 60.0  # messages per second of the 2 loops published while the stream runs
FILTERS = ("bright_transient", "new_object", "known_solar_system")


def _env(settings: Settings) -> dict[str, str]:
    """The environment a deployment would set for these settings."""
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
            "FAUCON_SPARK__MAX_OFFSETS_PER_TRIGGER": str(MAX_OFFSETS),
        }
    )
    return env


class Supervisor:
    """Runs ``faucon stream``; starts it again whenever it exits (restart: unless-stopped)."""

    def __init__(self, settings: Settings, log_dir: Path, note: Callable[[str], None]) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.note = note
        self.proc: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # exit codes of the runs that ended on their own

    def start(self) -> None:
        log = self.log_dir / f"stream-{len(self.exits) + 1}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [FAUCON, "stream"],
                env=_env(self.settings),
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


def _stats(settings: Settings) -> dict[str, Any]:
    path = stats_path(settings)
    return json.loads(path.read_text()) if path.is_file() else {"in": 0, "batches": 0}


def _beyond(settings: Settings, n: int) -> Callable[[], bool]:
    """Whether the stream has counted more than ``n`` raw messages."""
    return lambda: int(_stats(settings)["in"]) > n


def _after(deadline: float) -> Callable[[], bool]:
    """Whether the monotonic clock passed ``deadline``."""
    return lambda: time.monotonic() >= deadline


def _wait_until(what: str, done: Callable[[], bool], sup: Supervisor, timeout: float) -> float:
    """Wait for ``done()`` while supervising the stream; return the seconds it took."""
    start = time.monotonic()
    while not done():
        sup.check()
        assert time.monotonic() - start < timeout, (
            f"{what}: not within {timeout:.0f} s; counters {_stats(sup.settings)}; "
            f"stream exits {sup.exits}\n{sup.log_tail()}"
        )
        time.sleep(0.1)
    return time.monotonic() - start


def _sigkill(broker: LocalKafka) -> None:
    """Kill the broker as a crash would: no controlled shutdown, no flush."""
    pid = broker.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.is_running():  # the pid file goes once the process is gone
        assert time.monotonic() < deadline, "Kafka survived SIGKILL"
        time.sleep(0.1)


def _read_all(settings: Settings, topic: str) -> list[Any]:
    n = topic_counts(settings, [topic])[topic]
    msgs = list(read_topic(settings, topic, max_messages=n, idle_timeout=30.0))
    assert len(msgs) == n, f"read {len(msgs)} of {n} messages from {topic}"
    return msgs


def test_broker_restarts_under_the_stream_lose_nothing(
    unique_settings: Settings, tmp_path: Path
) -> None:
    base = unique_settings  # its topic prefix; its own broker, ports and state below
    s = base.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "kafka": base.kafka.model_copy(update={"bootstrap": f"127.0.0.1:{_free_port_pair()}"}),
        }
    )
    raw = f"raw.{s.kafka.topic_prefix}.night"
    night = load_messages([str(DEMO_ALERTS / d) for d in ("ztf", "lsst", "other")])
    broker = LocalKafka(s)
    timeline: list[str] = []
    t0 = time.monotonic()

    def note(text: str) -> None:
        timeline.append(f"{time.monotonic() - t0:6.1f} s  {text}")

    sup = Supervisor(s, tmp_path, note)
    failures: list[BaseException] = []

    def publish_rest() -> None:
        try:
            publish(s, raw, night, rate=RATE, loop=LOOPS - 1, progress=False)
        except BaseException as exc:  # re-raised by the test
            failures.append(exc)

    publisher = threading.Thread(target=publish_rest, daemon=True)
    recovery: dict[str, float] = {}
    broker.start()
    try:
        publish(s, raw, night, progress=False)
        sup.start()
        note(f"Kafka up, {len(night)} alerts published, stream started")
        oracle = {m.value: expected_for(m.value) for m in night}  # while Spark starts
        _wait_until("the first micro-batch", _beyond(s, 0), sup, 300)
        note(f"first micro-batch done ({_stats(s)['in']} in); the rest published at {RATE}/s")
        publisher.start()  # the rest of the night arrives while the broker goes down, twice
        for kind, down_s in OUTAGES.items():
            # Stop Kafka in the middle of a micro-batch: the stream is behind, so the next
            # batch starts as one ends; wait half a batch's time into it.
            _wait_until("a micro-batch", _beyond(s, _stats(s)["in"]), sup, 300)
            last = _stats(s)["last_batch"]
            time.sleep(min(0.5 * last["duration_s"], 3.0))
            note(f"Kafka stopped by {kind} ({_stats(s)['in']} in, batch {last['id'] + 1} running)")
            if kind == "SIGTERM":
                broker.stop()
            else:
                _sigkill(broker)
            _wait_until("the outage", _after(time.monotonic() + down_s), sup, down_s + 5)
            at_restart = _stats(s)["in"]
            broker.start()
            note(f"Kafka up again after {down_s:.0f} s down ({at_restart} in)")
            recovery[kind] = _wait_until(
                f"the stream resumes after Kafka's {kind} restart", _beyond(s, at_restart), sup, 300
            )
            after = _stats(s)
            note(
                f"stream resumed {recovery[kind]:.1f} s later ({after['in']} in; batch "
                f"{after['last_batch']['id']} took {after['last_batch']['duration_s']:.1f} s)"
            )
        publisher.join(300)
        assert not publisher.is_alive(), "the rate-limited replay did not finish"
        assert not failures, f"replay failed across the broker restarts: {failures}"
        sent = topic_counts(s, [raw])[raw]
        assert sent == LOOPS * len(night), "the broker kept every acknowledged raw message"
        _wait_until("everything processed", _beyond(s, sent - 1), sup, 300)
        note(f"all {sent} processed; stream exits {sup.exits}")
        sup.stop()
        _check_outputs(s, raw, sent, oracle, note)
        note("outputs checked")
        assert sup.exits == [], f"the stream exited on a broker restart:\n{sup.log_tail()}"
        assert all(t < 120 for t in recovery.values()), recovery
    finally:
        if publisher.is_alive():
            publisher.join(60)
        sup.stop()
        broker.stop()
        print("\n" + "\n".join(timeline))


def _check_outputs(
    s: Settings,
    raw: str,
    sent: int,
    oracle: dict[bytes, Expected | None],
    note: Callable[[str], None],
) -> None:
    tag, k = s.kafka.topic_prefix, s.kafka
    # `faucon consume --dedupe`, run while the test reads the topics itself.
    n_enriched = topic_counts(s, [k.enriched_topic])[k.enriched_topic]
    consume = subprocess.Popen(
        [FAUCON, "consume", "--topic", k.enriched_topic, "--from-beginning", "--dedupe",
         "--max", str(n_enriched), "--save", str(s.state_dir / "saved"), "--timeout", "30"],
        env=_env(s), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # What each raw message must become, by the oracle; where the night's repeats sit.
    copies: dict[bytes, list[tuple[int, int]]] = {}
    expected: dict[tuple[int, int], Expected | None] = {}
    value_of: dict[tuple[int, int], bytes] = {}
    for m in _read_all(s, raw):
        src = (m.partition, m.offset)
        copies.setdefault(m.value, []).append(src)
        expected[src], value_of[src] = oracle[m.value], m.value
    assert len(expected) == sent

    seen: Counter[tuple[int, int]] = Counter()
    alert_ids: set[tuple[str, int]] = set()
    for m in _read_all(s, k.enriched_topic):
        rec = decode_output(m.value)
        prov = rec["provenance"]
        src = (prov["input_partition"], prov["input_offset"])
        exp = expected[src]
        assert prov["input_topic"] == raw and exp is not None
        assert (rec["survey"], rec["alert_id"]) == (exp.survey, exp.alert_id)
        seen[src] += 1
        alert_ids.add((rec["survey"], rec["alert_id"]))
    enriched = sum(seen.values())
    for m in _read_all(s, k.deadletter_topic):
        rec = decode_output(m.value)
        src = (rec["input_partition"], rec["input_offset"])
        assert expected[src] is None and rec["reason"] == "unsupported_survey", rec["reason"]
        seen[src] += 1
    dead = sum(seen.values()) - enriched
    assert set(seen) == set(expected), "every raw message reaches enriched or dead-letter"
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= 2 * MAX_OFFSETS, "duplicates only from interrupted micro-batches"

    per_filter: dict[str, int] = {}
    for name in FILTERS:
        msgs = [decode_output(m.value) for m in _read_all(s, f"{tag}.filter.{name}")]
        want = {src for src, e in expected.items() if e is not None and name in e.filters}
        assert want and len(msgs) - len(want) <= 2 * MAX_OFFSETS, name
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

    d = _stats(s)
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
