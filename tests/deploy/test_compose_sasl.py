"""The SASL overlay (deploy/compose/sasl.yml): valid, and its Kafka entry point run for real.

``kafka-sasl.sh`` is the entry point of the overlay's ``kafka`` service (in the
apache/kafka image); here it runs on the host with the same Kafka jars, then
the overlay's other steps run against it: ``create-topics.sh`` with Kafka's
own topic tool and the super user's secret, and ``faucon users services``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.core.config import REPO_ROOT, Settings, load_settings
from broker.core.errors import FauconError
from broker.kafka.credentials import read_properties, settings_with_credentials
from broker.kafka.jars import ensure_kafka_jars
from broker.kafka.topics import list_topics
from tests.conftest import _free_port_pair
from tests.deploy.helpers import clean_env, run_compose_config

pytestmark = pytest.mark.integration
SASL = REPO_ROOT / "deploy" / "compose" / "sasl.yml"
SCRIPTS = REPO_ROOT / "deploy" / "compose"
FAUCON = str(Path(sys.executable).parent / "faucon")


def test_overlay_config(compose_tool: list[str], compose_project: Path) -> None:
    secrets = compose_project / "secrets"
    shutil.rmtree(secrets, ignore_errors=True)
    made = subprocess.run(["bash", str(SCRIPTS / "make-secrets.sh"), str(secrets)],
                          capture_output=True, text=True, env=clean_env())  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = secrets / "kafka_admin.properties"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert read_properties(secret)["sasl.password"] not in made.stdout + made.stderr
    proc = run_compose_config(compose_tool, compose_project, overlays=[SASL])
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    assert services["kafka"]["entrypoint"][-1] == "/opt/faucon/kafka-sasl.sh"
    assert "--command-config" in services["kafka"]["healthcheck"]["test"][-1]
    for name in ("kafka", "kafka-init", "users-init"):
        assert services[name]["secrets"] == [{"source": "kafka_admin"}], name
    for name in ("faucon-stream", "replay", "replay-lsst", "airflow-scheduler"):
        env = services[name]["environment"]
        assert env["FAUCON_KAFKA__SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["FAUCON_KAFKA__CREDENTIALS_FILE"].startswith("/var/lib/faucon/credentials/")
        assert "users-init" in services[name]["depends_on"], name
    users_init = services["users-init"]
    command = [FAUCON, *users_init["command"]]
    helped = subprocess.run([*command[:3], "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--out-dir" in helped.stdout
    # The secret reaches containers as a file only, never through the configuration.
    assert read_properties(secret)["sasl.password"] not in proc.stdout


@pytest.fixture(scope="module")
def compose_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """kafka-sasl.sh running on the host with the real jars; its secret and settings."""
    home = tmp_path_factory.mktemp("kafka-home")
    (home / "libs").symlink_to(ensure_kafka_jars(load_settings()))
    secrets = home / "secrets"
    subprocess.run(["bash", str(SCRIPTS / "make-secrets.sh"), str(secrets)], check=True,
                   capture_output=True, env=clean_env())  # fmt: skip
    port = _free_port_pair()
    env = clean_env(
        KAFKA_HOME=str(home), KAFKA_ADMIN_SECRET=str(secrets / "kafka_admin.properties"),
        KAFKA_LISTENERS=f"INTERNAL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
        KAFKA_ADVERTISED_LISTENERS=f"INTERNAL://127.0.0.1:{port}",
        KAFKA_CONTROLLER_QUORUM_VOTERS=f"1@127.0.0.1:{port + 1}",
        KAFKA_LOG_DIRS=str(home / "data"), KAFKA_CONF_DIR=str(home / "conf"),
        CLUSTER_ID=uuid.uuid4().hex[:22], KAFKA_HEAP_OPTS="-Xmx512m",
    )  # fmt: skip
    log = (home / "kafka.out").open("w")
    proc = subprocess.Popen(["bash", str(SCRIPTS / "kafka-sasl.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    admin = load_settings(
        state_dir=home / "state",
        kafka={"bootstrap": f"127.0.0.1:{port}", "security_protocol": "SASL_PLAINTEXT",
               "credentials_file": str(secrets / "kafka_admin.properties")},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (home / "kafka.out").read_text()[-3000:]
            try:
                list_topics(admin, timeout=3)
                break
            except FauconError:
                assert time.monotonic() < deadline, (home / "kafka.out").read_text()[-3000:]
                time.sleep(1)
        yield {
            "proc": proc,
            "admin": admin,
            "home": home,
            "secret": secrets / "kafka_admin.properties",
        }
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)
        log.close()


def _as(admin: Settings, creds: Path) -> Settings:
    return settings_with_credentials(admin, creds)


def test_kafka_entry_point_requires_logins(compose_kafka: dict[str, Any]) -> None:
    admin, secret = compose_kafka["admin"], compose_kafka["secret"]
    password = read_properties(secret)["sasl.password"]
    # The password is on no command line of the broker's processes.
    pid = compose_kafka["proc"].pid
    for child in [pid, *_descendants(pid)]:
        assert password.encode() not in Path(f"/proc/{child}/cmdline").read_bytes()
    anonymous = admin.kafka.model_copy(update={"security_protocol": "PLAINTEXT"})
    with pytest.raises(FauconError):
        list_topics(admin.model_copy(update={"kafka": anonymous}), timeout=5)


def test_overlay_steps_against_the_entry_point(
    compose_kafka: dict[str, Any], kafka_topics_sh: Path
) -> None:
    admin, secret = compose_kafka["admin"], compose_kafka["secret"]
    bootstrap = admin.kafka.bootstrap
    # kafka-init: create-topics.sh authenticates with the secret (COMMAND_CONFIG).
    env = clean_env(KAFKA_TOPICS_SH=str(kafka_topics_sh), BOOTSTRAP=bootstrap,
                    COMMAND_CONFIG=str(secret), TOPIC_PREFIX="faucon")  # fmt: skip
    made = subprocess.run(["bash", str(SCRIPTS / "create-topics.sh")], env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert {"raw.ztf", "raw.lsst", "faucon.filters"} <= set(list_topics(admin))
    without = subprocess.run(["bash", str(SCRIPTS / "create-topics.sh")],
                             env={**env, "COMMAND_CONFIG": ""}, capture_output=True,
                             text=True, timeout=180)  # fmt: skip
    assert without.returncode != 0
    # users-init: the service users, each file usable on its own.
    out = compose_kafka["home"] / "credentials"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    run_env |= {"FAUCON_KAFKA__BOOTSTRAP": bootstrap, "FAUCON_STATE_DIR": str(admin.state_dir),
                "FAUCON_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT"}  # fmt: skip
    users = subprocess.run([FAUCON, "users", "services", "--out-dir", str(out),
                            "--admin-credentials", str(secret)], env=run_env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert users.returncode == 0, users.stderr
    stream = _as(admin, out / "faucon-stream.properties")
    assert {"raw.ztf", "raw.lsst", "faucon.filters"} <= set(list_topics(stream))
    replay = _as(admin, out / "faucon-replay.properties")
    assert set(list_topics(replay)) == {"raw.ztf", "raw.lsst"}
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def _descendants(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                child = int(stat.parent.name)
                children += [child, *_descendants(child)]
        except (OSError, IndexError, ValueError):
            continue
    return children
