"""Configuration: typed, frozen, validated, documented."""

from __future__ import annotations

import pytest

from broker.config import REPO_ROOT, env_example, load_settings
from broker.errors import ConfigError


def test_env_example_is_current() -> None:
    assert (REPO_ROOT / ".env.example").read_text() == env_example(), (
        "regenerate with: python -m broker.config > .env.example"
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
    from broker.schema import field_reference

    readme = (REPO_ROOT / "schemas" / "faucon" / "README.md").read_text()
    assert field_reference() in readme, "regenerate the table with broker.schema.field_reference()"
