"""Fixtures of the deployment tests: the Compose tool and the checked files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import (
    COMPOSE_FILE,
    DOCKERFILE,
    TEST_SECRETS,
    Dockerfile,
    find_compose_tool,
    parse_dockerfile,
    run_compose_config,
)


@pytest.fixture(scope="session")
def compose_tool() -> list[str]:
    """The Compose implementation's command; fails (not skips) when there is none."""
    tool = find_compose_tool()
    if tool is None:
        pytest.fail(
            "no Docker Compose implementation found (`docker compose` or `docker-compose`); "
            "run `bash deploy/compose/ensure_compose_tool.sh` (make setup does) to install "
            "one, or set FAUCON_COMPOSE to its command",
            pytrace=False,
        )
    return tool


@pytest.fixture(scope="session")
def compose_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory holding the test ``.env`` (required variables set)."""
    project = tmp_path_factory.mktemp("compose-project")
    lines = [f"{name}={value}" for name, value in TEST_SECRETS.items()]
    (project / ".env").write_text("\n".join(lines) + "\n")
    return project


@pytest.fixture(scope="session")
def compose_config(compose_tool: list[str], compose_project: Path) -> dict[str, Any]:
    """The compose file as the real implementation normalizes it (``config``)."""
    proc = run_compose_config(compose_tool, compose_project)
    assert proc.returncode == 0, (
        f"`{' '.join(compose_tool)} config` rejected {COMPOSE_FILE} "
        f"(exit {proc.returncode}):\n{proc.stderr.strip()}"
    )
    config = yaml.safe_load(proc.stdout)
    assert isinstance(config, dict) and config.get("services"), "config printed no services"
    return config


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    """The compose file as written (anchors merged, variables not interpolated)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    """The parsed ``deploy/Dockerfile``."""
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="session")
def kafka_topics_sh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kafka's real ``kafka-topics.sh``: the same class on the same jars as the distribution."""
    from broker.core.config import load_settings
    from broker.kafka.jars import ensure_kafka_jars

    jars = ensure_kafka_jars(load_settings())
    script = tmp_path_factory.mktemp("kafka-bin") / "kafka-topics.sh"
    script.write_text(
        f'#!/bin/sh\nexec java -Xmx256m -cp "{jars}/*" org.apache.kafka.tools.TopicCommand "$@"\n'
    )
    script.chmod(0o755)
    return script
