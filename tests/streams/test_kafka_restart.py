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

import time
from pathlib import Path

import pytest

from broker.core.config import Settings
from broker.kafka.local import LocalKafka
from broker.kafka.replay import load_messages, publish
from broker.kafka.topics import topic_counts
from tests.conftest import DEMO_ALERTS, _free_port_pair
from tests.streams.oracle import expected_for
from tests.streams.supervise import (
    BackgroundReplay,
    Supervisor,
    Timeline,
    after,
    beyond,
    check_outputs,
    sigkill,
    stats,
    stream_env,
    wait_until,
)

pytestmark = pytest.mark.integration
MAX_OFFSETS = 500  # per micro-batch; duplicates are bounded by interrupted batches
OUTAGES = {"SIGTERM": 10.0, "SIGKILL": 6.0}  # how the broker is stopped -> seconds down
LOOPS = 3  # the night: 3 x 1,813 real alerts (ZTF, Rubin, and 8 of other surveys)
RATE = 60.0  # messages per second of the 2 loops published while the stream runs


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
    note = Timeline()
    env = stream_env(s, MAX_OFFSETS)
    sup = Supervisor(s, tmp_path, note, env)
    rest = BackgroundReplay(s, raw, night, RATE, LOOPS - 1)
    recovery: dict[str, float] = {}
    broker.start()
    try:
        publish(s, raw, night, progress=False)
        sup.start()
        note(f"Kafka up, {len(night)} alerts published, stream started")
        oracle = {m.value: expected_for(m.value) for m in night}  # while Spark starts
        wait_until("the first micro-batch", beyond(s, 0), sup, 300)
        note(f"first micro-batch done ({stats(s)['in']} in); the rest published at {RATE}/s")
        rest.thread.start()  # the rest of the night arrives while the broker goes down, twice
        for kind, down_s in OUTAGES.items():
            # Stop Kafka in the middle of a micro-batch: the stream is behind, so the next
            # batch starts as one ends; wait half a batch's time into it.
            wait_until("a micro-batch", beyond(s, stats(s)["in"]), sup, 300)
            last = stats(s)["last_batch"]
            time.sleep(min(0.5 * last["duration_s"], 3.0))
            note(f"Kafka stopped by {kind} ({stats(s)['in']} in, batch {last['id'] + 1} running)")
            if kind == "SIGTERM":
                broker.stop()
            else:
                sigkill(broker)
            wait_until("the outage", after(time.monotonic() + down_s), sup, down_s + 5)
            at_restart = stats(s)["in"]
            broker.start()
            note(f"Kafka up again after {down_s:.0f} s down ({at_restart} in)")
            recovery[kind] = wait_until(
                f"the stream resumes after Kafka's {kind} restart", beyond(s, at_restart), sup, 300
            )
            now = stats(s)
            note(
                f"stream resumed {recovery[kind]:.1f} s later ({now['in']} in; batch "
                f"{now['last_batch']['id']} took {now['last_batch']['duration_s']:.1f} s)"
            )
        rest.thread.join(300)
        assert not rest.thread.is_alive(), "the rate-limited replay did not finish"
        assert not rest.failures, f"replay failed across the broker restarts: {rest.failures}"
        sent = topic_counts(s, [raw])[raw]
        assert sent == LOOPS * len(night), "the broker kept every acknowledged raw message"
        wait_until("everything processed", beyond(s, sent - 1), sup, 300)
        note(f"all {sent} processed; stream exits {sup.exits}")
        sup.stop()
        check_outputs(s, raw, sent, oracle, note, env, MAX_OFFSETS)
        note("outputs checked")
        assert sup.exits == [], f"the stream exited on a broker restart:\n{sup.log_tail()}"
        assert all(t < 120 for t in recovery.values()), recovery
    finally:
        if rest.thread.is_alive():
            rest.thread.join(60)
        sup.stop()
        broker.stop()
        print(f"\n{note}")
