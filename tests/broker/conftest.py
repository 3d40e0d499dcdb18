"""Fixtures of the filter, registry and CLI tests: real alerts, enriched as the stream does."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.registry.backtest import complete_alerts, load_alerts
from tests.broker.filters.oracle import FILES, Raw, raw_alerts
from tests.broker.filters.team_filters import TEAM_FILTERS


@pytest.fixture(scope="session")
def real_alerts() -> list[dict[str, Any]]:
    """Every bundled ZTF and Rubin demo alert, normalized and enriched, in file order."""
    alerts, failed = load_alerts(FILES)
    assert not failed, failed
    return complete_alerts(alerts)


@pytest.fixture(scope="session")
def raws(real_alerts: list[dict[str, Any]]) -> list[Raw]:
    """The same alerts read raw with fastavro (see ``oracle.py``)."""
    return raw_alerts(real_alerts)


@pytest.fixture
def filter_env(monkeypatch: pytest.MonkeyPatch, unique_settings: Any, tmp_path: Path) -> Any:
    """Environment so that ``load_settings()`` (the CLI) sees the test's Kafka and prefix."""
    s = unique_settings
    monkeypatch.setenv("FAUCON_KAFKA__BOOTSTRAP", s.kafka.bootstrap)
    monkeypatch.setenv("FAUCON_KAFKA__TOPIC_PREFIX", s.kafka.topic_prefix)
    monkeypatch.setenv("FAUCON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    return s.model_copy(update={"state_dir": tmp_path / "state"})


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A science team's filter module, importable, plus an installed entry point for it."""
    module = f"team_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(TEAM_FILTERS)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[faucon.filters]\n{module}_bright = {module}:bright_g\n{module}_broken = nope:fn\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield module
    sys.modules.pop(module, None)
