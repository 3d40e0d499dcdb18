"""Fixtures of the portal tests: a real secured Kafka, the real stream, the real portal, Postgres.

``world`` (once for the package): a local Kafka with SASL/SCRAM and ACLs, the
stream running on the session's Spark as its own service user over real demo
alerts (built-in filters registered), and ``faucon portal``'s application
served by uvicorn on a loopback port, its ingest filling its DuckDB store.
Users are made with the real CLI (``faucon portal user add``) before the
portal opens its store.  ``postgres``: a throw-away PostgreSQL server from
Debian's package (``make setup`` installs it), on a loopback port.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings, load_settings
from tests.conftest import DEMO_ALERTS, _free_port, _free_port_pair

FAUCON = str(Path(sys.executable).parent / "faucon")
ZTF_FILES = [
    DEMO_ALERTS / "ztf" / "alerce-3.3-d11e13b2.avro",  # ZTF19abegmle: 5 alerts
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-0e972a9e.avro",  # RA 0.9..357.8, Dec up to 84
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-6f036005.avro",  # ZTF17aaawgox, with cutouts
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-c1c77bc9.avro",
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-cbcd794c.avro",
    DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro",  # forced photometry
]
LSST_FILES = [
    DEMO_ALERTS / "lsst" / "commissioning-v9_0-lsst.v9_0-4b938564.avro",
    DEMO_ALERTS / "lsst" / "wire",
]


@dataclass
class World:
    """What the portal tests talk to."""

    settings: Settings  # the portal's and the stream's (service user faucon-stream)
    admin: Settings  # the Kafka super user
    url: str
    portal: Any
    query: Any
    handler: Any
    passwords: dict[str, str]
    records: list[dict[str, Any]] = field(default_factory=list)  # the enriched topic, decoded

    @property
    def prefix(self) -> str:
        return self.settings.kafka.topic_prefix

    def replay(self, files: list[Path], topic: str = "ztf") -> int:
        """Publish more raw alerts (as a survey would) and wait until the stream took them."""
        from broker.kafka.replay import load_messages, publish

        msgs = load_messages([str(f) for f in files])
        before = self.handler.run.data["in"]
        publish(self.admin, f"raw.{self.prefix}.{topic}", msgs, progress=False)
        wait_until(lambda: self.handler.run.data["in"] >= before + len(msgs), 300, "stream")
        return len(msgs)


def scores_of(rec: dict[str, Any]) -> dict[str, float]:
    """Every score of an alert, as the portal documents them (an independent reading).

    The classifiers' probabilities (``scores``), and the numbers of any top-level
    ``*anomal*`` field: itself when a number, else each of its numeric fields but
    thresholds (issue 16's ``anomaly`` record, when the schema has it).
    """
    out = {
        k: s["probability"]
        for k, s in (rec.get("scores") or {}).items()
        if s["probability"] is not None
    }
    for name, value in rec.items():
        if "anomal" not in name:
            continue
        if isinstance(value, float):
            out[name] = value
        for sub, v in value.items() if isinstance(value, dict) else ():
            if isinstance(v, float) and "threshold" not in sub:
                out[f"{name}.{sub}"] = v
    return out


def wait_until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def read_all(settings: Settings, topic: str, n: int) -> list[Any]:
    """The ``n`` messages of a topic."""
    from broker.kafka.consume import read_topic

    got = list(read_topic(settings, topic, max_messages=n, idle_timeout=20))
    assert len(got) == n, f"read {len(got)} of {n} messages of {topic}"
    return got


def portal_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a ``faucon`` child process on the world's state dir and Kafka."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    k = settings.kafka
    return (
        env
        | {
            "FAUCON_STATE_DIR": str(settings.state_dir),
            "FAUCON_KAFKA__BOOTSTRAP": k.bootstrap,
            "FAUCON_KAFKA__TOPIC_PREFIX": k.topic_prefix,
            "FAUCON_METRICS_PORT": "0",
            "FAUCON_KAFKA__SECURITY_PROTOCOL": k.security_protocol,
            "FAUCON_KAFKA__CREDENTIALS_FILE": k.credentials_file,
        }
        | extra
    )


def add_user(settings: Settings, name: str, role: str, *grants: str) -> str:
    """Create a portal user with the real CLI; return the password it was given."""
    password = secrets.token_urlsafe(18)
    path = settings.state_dir / f"{name}.password"
    path.write_text(password + "\n")
    path.chmod(0o600)
    args = [FAUCON, "portal", "user", "add", name, "--role", role, "--password-file", str(path)]
    for g in grants:
        args += ["--grant", g]
    proc = subprocess.run(
        args, env=portal_env(settings), cwd=REPO_ROOT, text=True, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stdout + proc.stderr
    return password


def _kafka_settings(state: Path, tag: str) -> Settings:
    return load_settings(
        state_dir=state,
        kafka={
            "bootstrap": f"127.0.0.1:{_free_port_pair()}",
            "topic_prefix": tag,
            "subscribe_pattern": rf"raw\.{tag}\..+",
            "partitions": 1,
            "security_protocol": "SASL_PLAINTEXT",
        },
        spark={"trigger_seconds": 0.5},
        metrics_port=0,
        portal={"port": _free_port(), "ingest_batch": 200},
    )


@pytest.fixture(scope="package")
def world(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Secured Kafka, the stream on real alerts, and the portal serving them (see module doc)."""
    import uvicorn

    from broker.kafka.consume import decode_output
    from broker.kafka.credentials import settings_with_credentials, write_credentials
    from broker.kafka.local import LocalKafka
    from broker.kafka.replay import load_messages, publish
    from broker.kafka.topics import list_topics, topic_counts
    from broker.kafka.users import add_user as add_kafka_user
    from broker.kafka.users import service_grants
    from broker.portal.app import Portal, create_app
    from broker.portal.server import uvicorn_config
    from streams.ingest import start_query

    tag = "p" + uuid.uuid4().hex[:8]
    base = _kafka_settings(tmp_path_factory.mktemp("portal-world"), tag)
    kafka = LocalKafka(base)
    kafka.start()
    server: Any = None
    query: Any = None
    thread: threading.Thread | None = None
    try:
        admin = kafka.admin_settings()
        creds = add_kafka_user(admin, "faucon-stream", service_grants(base, "stream"))
        path = base.state_dir / "users" / "faucon-stream.properties"
        write_credentials(path, creds.username, creds.password, base.kafka.bootstrap)
        settings = settings_with_credentials(base, path)
        passwords = {
            "olga": add_user(settings, "olga", "operator"),
            "vera": add_user(settings, "vera", "scientist"),
            "max": add_user(settings, "max", "scientist"),
        }
        ztf = load_messages([str(f) for f in ZTF_FILES])
        lsst = load_messages([str(f) for f in LSST_FILES])
        publish(admin, f"raw.{tag}.ztf", ztf, progress=False)
        publish(admin, f"raw.{tag}.lsst", lsst, progress=False)
        query, handler = start_query(spark, settings)
        sent = len(ztf) + len(lsst)
        wait_until(lambda: handler.run.data["in"] >= sent, 300, "the stream")
        assert handler.run.reconciles()
        portal = Portal(settings, spark=spark)
        server = uvicorn.Server(uvicorn_config(settings, create_app(portal)))
        thread = threading.Thread(target=server.run, name="portal-server", daemon=True)
        thread.start()
        wait_until(lambda: server.started, 60, "the portal server")
        enriched = settings.kafka.enriched_topic
        outputs = [t for t in list_topics(admin) if t.startswith(f"{tag}.filter.")]
        counts = topic_counts(admin, [enriched, *outputs])
        unique = {}  # the demo files repeat a few alerts; the store keeps each once
        for m in read_all(admin, enriched, counts[enriched]):
            rec = decode_output(m.value)
            unique.setdefault((rec["survey"], rec["alert_id"]), rec)
        records = list(unique.values())
        hits = {
            (t, r["survey"], r["alert_id"])
            for t in outputs
            for r in map(decode_output, (m.value for m in read_all(admin, t, counts[t])))
        }
        alerts = len(records)

        def caught_up() -> bool:
            stored = portal.store.counts()
            return stored["alerts"] == alerts and stored["filter_hits"] == len(hits)

        wait_until(caught_up, 120, "the ingest")
        yield World(
            settings,
            admin,
            f"http://127.0.0.1:{settings.portal.port}",
            portal,
            query,
            handler,
            passwords,
            records,
        )
    finally:
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(30)
        if query is not None:
            query.stop()
        kafka.stop()


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    assert found, f"PostgreSQL's {name} is missing: `make setup` installs Debian's postgresql"
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[str, str]]:
    """A throw-away PostgreSQL server on loopback: (URL of a new database, password)."""
    root = Path(tempfile.mkdtemp(prefix="faucon-pg-"))
    data, password = root / "data", secrets.token_urlsafe(16)
    (root / "pw").write_text(password + "\n")
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run(
            [*as_postgres, *args], capture_output=True, text=True, timeout=120, check=True
        )

    run(
        _pg_bin("initdb"),
        "-D",
        str(data),
        "-U",
        "faucon",
        "--auth=scram-sha-256",
        f"--pwfile={root / 'pw'}",
        "-E",
        "UTF8",
        "--no-sync",
    )
    run(
        _pg_bin("pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    try:
        yield f"postgresql://faucon@127.0.0.1:{port}/portal_test", password
    finally:
        subprocess.run(
            [*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def enriched() -> list[dict[str, Any]]:
    """Real ZTF and Rubin alerts through the stream's own enrich stage, decoded with fastavro.

    ZTF19abegmle (5 alerts), ZTF17aaawgox (cutouts on every alert), ZTF with forced
    photometry, Rubin wire-format alerts with cutouts.
    """
    import pyarrow as pa

    from broker.kafka.consume import decode_output
    from broker.kafka.replay import load_messages
    from broker.pipeline.enrich import INPUT_SCHEMA, process_batch

    files = [ZTF_FILES[0], *ZTF_FILES[2:], LSST_FILES[1]]
    msgs = load_messages([str(f) for f in files])
    rows = [
        {
            "value": m.value,
            "topic": "raw.test",
            "partition": 0,
            "offset": i,
            "timestamp_ms": 1_700_000_000_000 + i,
        }
        for i, m in enumerate(msgs)
    ]
    batch = pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA)
    out = process_batch(batch, load_settings(), ["full"]).to_pylist()
    return [decode_output(r["payload_full"]) for r in out if r["status"] == "ok"]
