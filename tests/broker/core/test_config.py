"""Configuration: typed, frozen, validated, documented."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, env_example, load_settings
from broker.core.errors import ConfigError


def test_env_example_is_current() -> None:
    assert (REPO_ROOT / ".env.example").read_text() == env_example(), (
        "regenerate with: python -m broker.core.config > .env.example"
    )


def test_environment_overrides_and_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAUCON_KAFKA__BOOTSTRAP", "10.1.2.3:9093")
    monkeypatch.setenv("FAUCON_QUALITY__MIN_RELIABILITY", "0.6")
    s = load_settings()
    assert s.kafka.bootstrap == "10.1.2.3:9093"
    assert s.quality.min_reliability == 0.6
    with pytest.raises(Exception, match="frozen"):
        s.kafka.bootstrap = "x"  # type: ignore[misc]


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAUCON_QUALITY__MIN_RELIABILITY", "1.5")
    with pytest.raises(ConfigError, match=r"quality\.min_reliability"):
        load_settings()


def test_toml_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "faucon.toml"
    cfg.write_text('[spark]\ntrigger_seconds = 0.25\n[kafka]\ntopic_prefix = "night"\n')
    monkeypatch.setenv("FAUCON_CONFIG_FILE", str(cfg))
    s = load_settings()
    assert s.spark.trigger_seconds == 0.25
    assert s.kafka.enriched_topic == "night.enriched"
    monkeypatch.setenv("FAUCON_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_schema_readme_documents_every_field() -> None:
    from broker.core.schema import field_reference

    readme = (REPO_ROOT / "schemas" / "faucon" / "README.md").read_text()
    assert field_reference() in readme, (
        "regenerate the table with broker.core.schema.field_reference()"
    )


def test_copied_env_example_means_the_defaults(tmp_path: Path, monkeypatch: Any) -> None:
    """`cp .env.example .env` as the file says: every command loads, and nothing changes."""

    monkeypatch.chdir(tmp_path)
    without = load_settings().model_dump()
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    with_copy = load_settings().model_dump()
    assert with_copy == without
    assert with_copy["crossmatch"]["disabled"] == ()


def test_env_lists_are_json_and_paths_absolute(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        'FAUCON_CROSSMATCH__DISABLED=["gaia_dr3"]\nFAUCON_STATE_DIR=var/state\n'
        "FAUCON_CACHE_DIR=~/faucon-cache\n"
    )
    s = load_settings()
    assert s.crossmatch.disabled == ("gaia_dr3",)
    assert s.state_dir == REPO_ROOT / "var" / "state"
    assert s.cache_dir == Path.home() / "faucon-cache"
