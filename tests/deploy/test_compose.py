"""docker-compose.yml: validated by the real Compose implementation, without an engine.

``config`` (run by the ``compose_config`` fixture) parses, validates and
normalizes the file against a test ``.env``; the tests below then check the
operational rules on the result: health checks, restart policies, resource
limits, start order, volumes, no secret in the file, pinned versions that
match the project's, and every ``faucon`` command against the real CLI.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, load_settings
from broker.kafka.jars import KAFKA_VERSION
from broker.registry.filters import registry_topic
from tests.deploy.helpers import (
    COMPOSE_FILE,
    ENSURE_TOOL,
    OPERATIONS_DOC,
    TEST_SECRETS,
    as_argv,
    clean_env,
    compose_variables,
    faucon_invocations,
    parse_dockerfile,
    parse_faucon,
    run_compose_config,
    split_image,
    volume_sources,
)

HEALTH_CONDITIONS = {"service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "unless-stopped", "on-failure"}
# Names whose values are secrets (checked in the file as written).
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$", re.I)
# The host the limits are sized for (ARCHITECTURE.md: 2 cores, 24 GB).
HOST_CPUS = 2.0
HOST_MEMORY_BYTES = 24 * 1024**3
_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _is_one_shot(service: dict[str, Any]) -> bool:
    """A job that runs once (init, replay): ``restart: "no"``."""
    return str(service.get("restart", "")) == "no"


def _bytes(value: str | int) -> int:
    """Return a compose memory size (``512m``, ``1.5g``, ``1073741824``) in bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg]?)b?", str(value).strip().lower())
    assert match, f"memory size {value!r}"
    return int(float(match[1]) * _UNITS[match[2] or "b"])


def _services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(config["services"])


# ---------------------------------------------------------------------------
# The real implementation accepts the file
# ---------------------------------------------------------------------------


def test_config_exits_zero(compose_tool: list[str], compose_project: Path) -> None:
    proc = run_compose_config(compose_tool, compose_project, "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_config_refuses_missing_passwords(compose_tool: list[str], tmp_path: Path) -> None:
    """Passwords have no default: without them in .env, compose refuses to run."""
    (tmp_path / ".env").write_text("# no secrets here\n")
    proc = run_compose_config(compose_tool, tmp_path, "--quiet")
    assert proc.returncode != 0
    assert "POSTGRES_PASSWORD" in proc.stderr + proc.stdout


def test_copied_env_example_names_the_secrets_command(
    compose_tool: list[str], tmp_path: Path
) -> None:
    """`cp .env.example .env` alone: compose refuses, and says the one command that fixes it."""
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    proc = run_compose_config(compose_tool, tmp_path, "--quiet")
    assert proc.returncode != 0
    said = proc.stderr + proc.stdout
    assert "POSTGRES_PASSWORD" in said
    assert "deploy/compose/env-secrets.sh" in said
    assert "deploy/compose/env-secrets.sh" in OPERATIONS_DOC.read_text()


def test_env_secrets_script_makes_config_pass(compose_tool: list[str], tmp_path: Path) -> None:
    """It writes .env (mode 600) with the three secrets, prints none, keeps them on rerun."""
    script = REPO_ROOT / "deploy" / "compose" / "env-secrets.sh"
    first = subprocess.run(
        ["bash", str(script), str(tmp_path / ".env")],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=tmp_path,
    )
    env = (tmp_path / ".env").read_text()
    values = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in env.splitlines()
        if line.split("=", 1)[0] in TEST_SECRETS
    }
    assert set(values) == set(TEST_SECRETS)
    assert all(len(v) >= 32 for v in values.values())
    assert not any(v in first.stdout + first.stderr for v in values.values())
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert env.startswith((REPO_ROOT / ".env.example").read_text().splitlines()[0])
    proc = run_compose_config(compose_tool, tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    subprocess.run(
        ["bash", str(script), str(tmp_path / ".env")],
        check=True,
        capture_output=True,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert (tmp_path / ".env").read_text() == env


def test_expected_services(compose_config: dict[str, Any]) -> None:
    expected = {
        "kafka",
        "kafka-init",
        "spark-master",
        "spark-worker",
        "faucon-stream",
        "replay",
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
    }
    assert expected <= set(_services(compose_config))


# ---------------------------------------------------------------------------
# Operational rules
# ---------------------------------------------------------------------------


def test_long_running_services_have_healthchecks(compose_config: dict[str, Any]) -> None:
    missing = [
        name
        for name, svc in _services(compose_config).items()
        if not _is_one_shot(svc)
        and (
            not svc.get("healthcheck", {}).get("test")
            or svc["healthcheck"].get("disable")
            or svc["healthcheck"]["test"] == ["NONE"]
        )
    ]
    assert not missing, f"services without a health check: {missing}"


def test_restart_policies(compose_config: dict[str, Any], compose_raw: dict[str, Any]) -> None:
    for name, svc in _services(compose_config).items():
        assert str(svc.get("restart")) in RESTART_POLICIES, f"{name}: restart policy missing"
    one_shots = {n for n, s in _services(compose_config).items() if _is_one_shot(s)}
    assert {"kafka-init", "airflow-init", "replay"} <= one_shots
    # one-shots are written restart: "no" explicitly, not left to the default
    for name in one_shots:
        assert compose_raw["services"][name].get("restart") == "no", name


def test_resource_limits(compose_config: dict[str, Any]) -> None:
    total = 0
    for name, svc in _services(compose_config).items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        memory = limits.get("memory") or svc.get("mem_limit")
        cpus = limits.get("cpus") or svc.get("cpus")
        assert memory and cpus, f"{name}: no memory and CPU limits"
        assert 0 < float(cpus) <= HOST_CPUS, f"{name}: cpus {cpus} exceed a {HOST_CPUS}-core host"
        size = _bytes(memory)
        assert size >= 128 * 1024**2, f"{name}: memory limit {memory} is too small to run"
        total += 0 if _is_one_shot(svc) else size
    assert total <= HOST_MEMORY_BYTES, f"long-running services may use {total / 1024**3:.1f} GiB"


def test_depends_on_waits_for_health(compose_config: dict[str, Any]) -> None:
    services = _services(compose_config)
    for name, svc in services.items():
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, spec in depends.items():
            condition = spec.get("condition")
            assert condition in HEALTH_CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{target} has no health check"
            else:
                assert _is_one_shot(services[target]), f"{target} is not a one-shot job"


def test_stream_waits_for_everything_it_uses(compose_config: dict[str, Any]) -> None:
    depends = _services(compose_config)["faucon-stream"]["depends_on"]
    assert {"kafka", "kafka-init", "spark-master", "spark-worker"} <= set(depends)


def test_named_volumes_declared(compose_raw: dict[str, Any]) -> None:
    declared = set(compose_raw.get("volumes") or {})
    used = set()
    for name, svc in compose_raw["services"].items():
        for kind, source in volume_sources(svc):
            if kind == "volume" and source:
                assert source in declared, f"{name}: volume {source!r} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {declared - used}"
    # the stateful services keep their data in named volumes
    for name, target in {
        "kafka": "/var/lib/kafka/data",
        "postgres": "/var/lib/postgresql/data",
        "faucon-stream": "/var/lib/faucon",
    }.items():
        mounts = compose_raw["services"][name]["volumes"]
        assert any(m.split(":")[1] == target and m[0] not in "./" for m in mounts), name


def test_published_ports_bind_the_publish_address(compose_raw: dict[str, Any]) -> None:
    for name, svc in compose_raw["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("${STACK_PUBLISH_ADDRESS:-127.0.0.1}:"), (name, port)


# ---------------------------------------------------------------------------
# No secret in the file
# ---------------------------------------------------------------------------


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, string value) of a YAML tree, mapping keys included in paths."""
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in _strings(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in _strings(v, f"{path}[{i}]")]
    return [(path, str(node))] if node is not None else []


def test_no_literal_secrets(compose_raw: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    # secret-named variables never get a default value in the file
    for name, ops in compose_variables(text).items():
        if SECRET_NAME.search(name):
            assert ops <= {"", ":?", "?"}, f"${{{name}}} has a default value in the file"
    for path, value in _strings(compose_raw):
        key = re.split(r"[.\[]", path)[-1]
        if SECRET_NAME.search(key) and not key.endswith("_FILE"):
            # a secret setting's whole value is a required variable
            assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?\?[^}]*)?\}", value), f"{path}={value!r}"
        for url in re.finditer(r"://[^/\s:@]+:([^@\s]+)@", value):
            assert re.fullmatch(r"\$\{[A-Z0-9_]+:?\?[^}]*\}", url[1]), f"{path}: password in URL"
    # and no NAME=value pair hides one in a command or a list-form environment
    for match in re.finditer(r"([A-Z0-9_]*(?:PASSWORD|SECRET)[A-Z0-9_]*)=(\S+)", text):
        assert match[2].startswith("${"), f"literal value for {match[1]}"


def test_test_secrets_reach_only_their_consumers(compose_config: dict[str, Any]) -> None:
    """The password interpolated from .env lands where it is used (postgres, airflow)."""
    password = TEST_SECRETS["POSTGRES_PASSWORD"]
    conn = _services(compose_config)["airflow-apiserver"]["environment"]
    assert password in conn["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert _services(compose_config)["postgres"]["environment"]["POSTGRES_PASSWORD"] == password


# ---------------------------------------------------------------------------
# Versions and images
# ---------------------------------------------------------------------------


def _images(compose_raw: dict[str, Any]) -> dict[str, str]:
    return {n: s["image"] for n, s in compose_raw["services"].items() if "image" in s}


def test_spark_image_matches_pyspark(compose_raw: dict[str, Any]) -> None:
    pyspark = importlib.metadata.version("pyspark")
    tags = [split_image(i)[1] for i in _images(compose_raw).values() if "apache/spark" in i]
    assert tags, "no apache/spark image in the compose file"
    for tag in tags:
        assert tag is not None and tag.split("-")[0] == pyspark, (
            f"apache/spark:{tag} but pyspark is {pyspark}: the master, workers, driver "
            "and Kafka connector must be one Spark release"
        )


def test_kafka_image_matches_local_broker(compose_raw: dict[str, Any]) -> None:
    tags = {split_image(i)[1] for i in _images(compose_raw).values() if "apache/kafka" in i}
    assert tags == {KAFKA_VERSION}, f"apache/kafka tags {tags}, local broker {KAFKA_VERSION}"


def test_images_are_pinned(compose_raw: dict[str, Any]) -> None:
    for name, image in _images(compose_raw).items():
        _, tag = split_image(image)
        if "${" in image:  # the project's own images, tagged FAUCON_IMAGE_TAG
            assert "build" in compose_raw["services"][name], f"{name}: {image} is never built"
            continue
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} not pinned"


def test_airflow_is_3(compose_raw: dict[str, Any]) -> None:
    dockerfile = parse_dockerfile(COMPOSE_FILE.parent.joinpath("deploy/Dockerfile").read_text())
    airflow = [n for n in compose_raw["services"] if n.startswith("airflow")]
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"} <= set(airflow)
    for name in airflow:
        build = compose_raw["services"][name]["build"]
        assert build["target"] == "airflow"
    _, tag = split_image(dockerfile.stage("airflow").image)
    assert tag and tag.split(".")[0] == "3", f"airflow image tag {tag}"
    for image in _images(compose_raw).values():
        if image.startswith("apache/airflow"):
            assert (split_image(image)[1] or "").startswith("3."), image


def test_build_targets_are_dockerfile_stages(compose_raw: dict[str, Any]) -> None:
    dockerfile = parse_dockerfile((COMPOSE_FILE.parent / "deploy" / "Dockerfile").read_text())
    for name, svc in compose_raw["services"].items():
        if build := svc.get("build"):
            assert (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).is_file()
            assert build["target"] in dockerfile.stage_names(), f"{name}: {build['target']}"


# ---------------------------------------------------------------------------
# faucon commands are real entry points
# ---------------------------------------------------------------------------


def _faucon_commands(compose_config: dict[str, Any]) -> dict[str, list[list[str]]]:
    found = {}
    for name, svc in _services(compose_config).items():
        argv = as_argv(svc.get("entrypoint")) + as_argv(svc.get("command"))
        if calls := faucon_invocations(argv):
            found[name] = calls
    return found


def test_faucon_commands_exist(compose_config: dict[str, Any]) -> None:
    commands = _faucon_commands(compose_config)
    assert {"faucon-stream", "replay", "replay-lsst"} <= set(commands)
    for name, calls in commands.items():
        for args in calls:
            parsed = parse_faucon(args)  # asserts, naming the service's command
            assert parsed.path, f"{name}: bare `faucon`"


def test_stream_command(compose_config: dict[str, Any]) -> None:
    (args,) = _faucon_commands(compose_config)["faucon-stream"]
    parsed = parse_faucon(args)
    assert parsed.path == ("stream",)
    assert parsed.params["master"] == "spark://spark-master:7077"
    assert not parsed.params["available_now"], "the stream must keep running"


def test_replay_commands_send_bundled_alerts(compose_config: dict[str, Any]) -> None:
    repo = COMPOSE_FILE.parent
    for name in ("replay", "replay-lsst"):
        (args,) = _faucon_commands(compose_config)[name]
        parsed = parse_faucon(args)
        assert parsed.path == ("replay",)
        assert parsed.params["topic"].startswith("raw."), "the stream reads raw.*"
        for path in parsed.params["paths"]:
            # the image's working directory is the repository layout (/opt/faucon)
            assert any((repo / path).rglob("*.avro")), f"{name}: no alerts in {path}"


def test_faucon_services_get_container_settings(compose_config: dict[str, Any]) -> None:
    for name in _faucon_commands(compose_config):
        env = _services(compose_config)[name]["environment"]
        assert env["FAUCON_KAFKA__BOOTSTRAP"] == "kafka:9092", name
        for key in ("FAUCON_STATE_DIR", "FAUCON_CACHE_DIR", "FAUCON_SCHEMAS_DIR"):
            assert env[key].startswith("/"), f"{name}: {key} must be a container path"


def test_stream_metrics_port_published_and_checked(compose_config: dict[str, Any]) -> None:
    svc = _services(compose_config)["faucon-stream"]
    port = svc["environment"]["FAUCON_METRICS_PORT"]
    # bound on every interface of the container, so the published port reaches it
    assert svc["environment"]["FAUCON_METRICS_ADDR"] == "0.0.0.0"
    assert f"localhost:{port}/metrics" in " ".join(svc["healthcheck"]["test"])
    published = [str(p.get("target") if isinstance(p, dict) else p) for p in svc["ports"]]
    assert any(str(port) in p for p in published), published


# ---------------------------------------------------------------------------
# Documentation and helper scripts
# ---------------------------------------------------------------------------


def test_every_variable_is_documented() -> None:
    doc = OPERATIONS_DOC.read_text()
    missing = [v for v in compose_variables(COMPOSE_FILE.read_text()) if f"`{v}`" not in doc]
    assert not missing, f"variables of docker-compose.yml not in {OPERATIONS_DOC.name}: {missing}"


def test_ensure_compose_tool_prints_a_working_tool(compose_tool: list[str]) -> None:
    proc = subprocess.run(
        ["bash", str(ENSURE_TOOL)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.strip().splitlines()[-1]
    assert subprocess.run([*printed.split(), "version"], capture_output=True).returncode == 0


@pytest.mark.integration
def test_create_topics_script(kafka: Any, kafka_topics_sh: Path, service_settings: Any) -> None:
    """The script, with Kafka's own kafka-topics.sh, against the real broker; twice (idempotent)."""
    from confluent_kafka.admin import ConfigResource

    from broker.kafka.topics import admin_client, list_topics

    tag = "c" + uuid.uuid4().hex[:6]
    env = clean_env(
        KAFKA_TOPICS_SH=str(kafka_topics_sh),
        BOOTSTRAP=service_settings.kafka.bootstrap,
        RAW_TOPICS=f"raw.{tag}.ztf,raw.{tag}.lsst",
        RAW_PARTITIONS="3",
        TOPIC_PREFIX=tag,
    )
    create = COMPOSE_FILE.parent / "deploy" / "compose" / "create-topics.sh"
    for _ in range(2):
        proc = subprocess.run(
            ["bash", str(create)], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
    topics = list_topics(service_settings)
    assert topics[f"raw.{tag}.ztf"] == topics[f"raw.{tag}.lsst"] == 3
    registry_name = registry_topic(load_settings(kafka={"topic_prefix": tag}))
    assert topics[registry_name] == 1
    resource = ConfigResource("topic", registry_name)
    admin = admin_client(service_settings)  # keep the client alive while the future runs
    (future,) = admin.describe_configs([resource]).values()
    assert future.result(timeout=30)["cleanup.policy"].value == "compact"
