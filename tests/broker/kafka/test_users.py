"""A secured real Kafka (SASL/SCRAM-SHA-512 + ACLs): who may read, write and connect.

One broker with authentication on is started for this module; every refusal
is Kafka's own, observed through the same clients Faucon uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException, Producer

from broker.core.config import REPO_ROOT, Settings, load_settings
from broker.core.errors import AccessDenied, FauconError
from broker.kafka.consume import decode_output, read_topic
from broker.kafka.credentials import read_properties, settings_with_credentials
from broker.kafka.local import LocalKafka
from broker.kafka.topics import client_config, ensure_topics, list_topics
from tests.conftest import _free_port_pair

pytestmark = pytest.mark.integration
FAUCON = str(Path(sys.executable).parent / "faucon")
SAMPLE = REPO_ROOT / "schemas" / "faucon" / "alert" / "1.1" / "sample_data" / "alert.avro"
P = "sec"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A second local broker, with SASL listeners and ACLs, and a few topics holding an alert."""
    settings = load_settings(
        state_dir=tmp_path_factory.mktemp("secured"),
        kafka={
            "bootstrap": f"127.0.0.1:{_free_port_pair()}",
            "topic_prefix": P,
            "security_protocol": "SASL_PLAINTEXT",
            "partitions": 1,
        },
    )
    kafka = LocalKafka(settings)
    kafka.start()
    try:
        admin = kafka.admin_settings()
        topics = ["raw.ztf", f"{P}.enriched", f"{P}.deadletter", f"{P}.filters",
                  f"{P}.filter.a", f"{P}.filter.b"]  # fmt: skip
        ensure_topics(admin, topics)
        producer = Producer(client_config(admin))
        for topic in topics:
            if topic == f"{P}.filters":
                continue  # the filter registry holds filter definitions, not alerts
            producer.produce(topic, SAMPLE.read_bytes(), key=topic.encode())
        assert producer.flush(30) == 0
        yield kafka
    finally:
        kafka.stop()


def _env(kafka: LocalKafka, **extra: str) -> dict[str, str]:
    s = kafka.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    env |= {"FAUCON_STATE_DIR": str(s.state_dir), "FAUCON_KAFKA__BOOTSTRAP": s.kafka.bootstrap,
            "FAUCON_KAFKA__TOPIC_PREFIX": P, "FAUCON_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "FAUCON_METRICS_PORT": "0"}  # fmt: skip
    return env | extra


def _faucon(kafka: LocalKafka, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FAUCON, *args], env=_env(kafka, **env), cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=120)  # fmt: skip


def _add(kafka: LocalKafka, name: str, *args: str) -> Path:
    proc = _faucon(kafka, "users", "add", name, *args)
    assert proc.returncode == 0, proc.stderr
    path = kafka.settings.state_dir / "users" / f"{name}.properties"
    props = read_properties(path)
    assert props["sasl.username"] == name and len(props["sasl.password"]) >= 24
    assert props["sasl.password"] not in proc.stdout + proc.stderr, "password printed"
    assert path.stat().st_mode & 0o777 == 0o600
    return path


def _as(kafka: LocalKafka, creds: Path) -> Settings:
    return settings_with_credentials(kafka.settings, creds)


def test_anonymous_and_wrong_passwords_are_refused(secured: LocalKafka, tmp_path: Path) -> None:
    plain = secured.settings.kafka.model_copy(update={"security_protocol": "PLAINTEXT"})
    with pytest.raises(FauconError, match="did not answer"):
        list_topics(secured.settings.model_copy(update={"kafka": plain}), timeout=5)
    # The controller listener is no back door: PLAIN with the super user only.
    host, port = secured.settings.kafka.bootstrap.rsplit(":", 1)
    controller = plain.model_copy(update={"bootstrap": f"{host}:{int(port) + 1}"})
    with pytest.raises(FauconError):
        list_topics(secured.settings.model_copy(update={"kafka": controller}), timeout=5)
    wrong = tmp_path / "wrong.properties"
    good = read_properties(_add(secured, "mallory", "--read", f"{P}.enriched"))
    wrong.write_text(f"sasl.username=mallory\nsasl.password={good['sasl.password']}x\n")
    with pytest.raises(FauconError, match=r"[Aa]uthentication"):
        list(read_topic(_as(secured, wrong), f"{P}.enriched", idle_timeout=5))


def test_a_subscriber_reads_its_topics_and_nothing_else(secured: LocalKafka) -> None:
    alice = _as(secured, _add(secured, "alice", "--read", f"{P}.filter.a"))
    got = list(read_topic(alice, f"{P}.filter.a", max_messages=1, idle_timeout=20))
    assert [decode_output(m.value)["alert_id"] for m in got] == [
        decode_output(SAMPLE.read_bytes())["alert_id"]
    ]
    # Metadata shows only what alice may see.
    assert set(list_topics(alice)) == {f"{P}.filter.a"}
    for topic in ("raw.ztf", f"{P}.deadletter", f"{P}.filters", f"{P}.enriched", f"{P}.filter.b",
                  "__consumer_offsets"):  # fmt: skip
        with pytest.raises(AccessDenied, match=f"reading {topic} refused"):
            list(read_topic(alice, topic, idle_timeout=10))
    # Writes nowhere, not even to the topic it reads; creates nothing.
    producer = Producer(client_config(alice, **{"message.timeout.ms": 10000}))
    errors: list[Any] = []
    for topic in (f"{P}.filter.a", "raw.ztf"):
        producer.produce(topic, b"x", on_delivery=lambda err, _m: errors.append(err))
    producer.flush(20)
    assert len(errors) == 2 and all(e is not None for e in errors)
    assert {e.name() for e in errors} == {"TOPIC_AUTHORIZATION_FAILED"}
    with pytest.raises((FauconError, KafkaException)):
        ensure_topics(alice, [f"{P}.filter.alice"], timeout=10)


def test_prefix_grants_cover_new_filter_topics_only(secured: LocalKafka) -> None:
    bob = _as(secured, _add(secured, "bob", "--read", f"{P}.filter.*"))
    assert set(list_topics(bob)) == {f"{P}.filter.a", f"{P}.filter.b"}
    ensure_topics(secured.admin_settings(), [f"{P}.filter.new"])
    assert f"{P}.filter.new" in list_topics(bob)
    for pattern in ("*", f"{P}.*", f"{P}.filter*", f"{P}.deadletter", f"{P}.filters", "raw.*",
                    "raw.ztf", "__consumer_offsets", f"{P}.filter."):  # fmt: skip
        proc = _faucon(secured, "users", "add", "eve", "--read", pattern)
        assert proc.returncode == 1 and "subscribers may not read" in proc.stderr, pattern


def test_consume_takes_credentials_from_a_file_or_the_environment(secured: LocalKafka) -> None:
    creds = _add(secured, "carol", "--read", f"{P}.filter.b")
    args = ["consume", "--topic", f"{P}.filter.b", "--from-beginning", "--format", "json",
            "--max", "1", "--timeout", "20"]  # fmt: skip
    by_file = _faucon(secured, *args, "--credentials", str(creds))
    assert by_file.returncode == 0, by_file.stderr
    assert '"alert_id"' in by_file.stdout and "1 messages" in by_file.stderr
    password = read_properties(creds)["sasl.password"]
    by_env = _faucon(secured, *args, FAUCON_KAFKA__SASL_USERNAME="carol",
                     FAUCON_KAFKA__SASL_PASSWORD=password)  # fmt: skip
    assert by_env.returncode == 0 and by_env.stdout == by_file.stdout
    denied = _faucon(secured, *args[:2], f"{P}.deadletter", *args[3:], "--credentials", str(creds))
    assert denied.returncode == 2 and "refused by Kafka" in denied.stderr
    # Listing, then removing a user: its credentials stop working.
    listed = _faucon(secured, "users", "list")
    assert listed.returncode == 0 and f"READ topic LITERAL {P}.filter.b" in listed.stdout
    assert _faucon(secured, "users", "remove", "carol").returncode == 0
    gone = _faucon(secured, *args, "--credentials", str(creds))
    assert gone.returncode != 0 and "uthentication" in gone.stderr


def test_the_stream_runs_as_its_own_service_user(
    secured: LocalKafka, spark: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """Replay feed and stream use their own SCRAM users; subscribers read the result."""
    from broker.kafka.replay import load_messages, publish
    from broker.kafka.topics import topic_counts
    from streams.ingest import run
    from tests.conftest import DEMO_ALERTS

    feed = _as(secured, _add(secured, "feed", "--service", "replay"))
    stream_creds = _add(secured, "faucon-stream", "--service", "stream")
    kafka = _as(secured, stream_creds).kafka.model_copy(
        update={"subscribe_pattern": r"raw\.sec\..+"}
    )
    stream = secured.settings.model_copy(update={"kafka": kafka, "metrics_port": 0})
    dave = _as(secured, _add(secured, "dave", "--read", f"{P}.filter.*"))
    msgs = load_messages([str(DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro"),
                          str(DEMO_ALERTS / "lsst" / "wire")])  # fmt: skip
    publish(feed, "raw.sec.demo", msgs, progress=False)
    with pytest.raises(AccessDenied):  # the feed writes raw topics, reads nothing
        list(read_topic(feed, "raw.sec.demo", idle_timeout=10))

    stats = run(stream, available_now=True, spark=spark)
    assert stats.data["in"] == len(msgs) and stats.reconciles()
    counts = topic_counts(secured.admin_settings(), [f"{P}.enriched"])
    published = stats.data["published"][f"{P}.enriched"]
    assert published > 0 and counts[f"{P}.enriched"] == published + 1  # + the fixture's alert
    # A subscriber with a prefix grant reads a filter topic the stream created.
    filter_topics = [t for t in list_topics(dave) if t.startswith(f"{P}.filter.") and
                     topic_counts(secured.admin_settings(), [t])[t] > 0]  # fmt: skip
    assert filter_topics
    got = list(read_topic(dave, filter_topics[0], max_messages=1, idle_timeout=20))
    assert decode_output(got[0].value)["alert_id"] > 0
    # No password in the logs: this process's output and every file under the state dir
    # other than the credential files themselves.
    secrets = [read_properties(stream_creds)["sasl.password"],
               secured.admin_password_file.read_text().strip()]  # fmt: skip
    out = capfd.readouterr()
    logs = [out.out, out.err] + [
        p.read_text(errors="replace") for p in secured.settings.state_dir.rglob("*")
        if p.is_file() and (p.suffix in (".log", ".out", ".json", ".txt") or "log" in p.name)
    ]  # fmt: skip
    assert all(secret not in text for secret in secrets for text in logs)
