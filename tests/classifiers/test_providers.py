"""Execution provider: CUDA where installed and a GPU is visible, else CPU; same results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from broker.core.config import REPO_ROOT, load_settings
from broker.core.errors import ConfigError
from broker.ops.metrics import StreamMetrics
from broker.ops.status import Health, check_inference
from broker.pipeline.enrichers import run_enrichers
from broker.pipeline.inspect import inspect_paths
from classifiers import anomaly, anomaly_onnx, features, registry
from classifiers.export import make_session
from classifiers.providers import CPU, CUDA, choose, describe, gpu_visible

MODELS = REPO_ROOT / "classifiers" / "models"
HERE_CUDA = CUDA in ort.get_available_providers() and gpu_visible()


def test_the_rule() -> None:
    assert choose("auto", [CUDA, CPU], gpu=True).providers == [CUDA, CPU]  # CPU stays second
    assert choose("auto", [CUDA, CPU], gpu=False).providers == [CPU]
    assert choose("auto", [CPU], gpu=True).reason.startswith("no CUDA provider")
    assert choose("cpu", [CUDA, CPU], gpu=True).providers == [CPU]
    assert choose("cuda", [CUDA, CPU], gpu=True).provider == CUDA
    with pytest.raises(ConfigError, match=r"no GPU is visible.*auto or cpu"):
        choose("cuda", [CUDA, CPU], gpu=False)
    with pytest.raises(ConfigError, match="no CUDA provider"):
        choose("cuda", [CPU], gpu=True)
    with pytest.raises(ConfigError, match="choose one of"):
        choose("tpu", [CPU], gpu=False)


def test_gpu_visibility_follows_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert gpu_visible() is False
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_visible() is False
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu_visible() == any(Path("/dev").glob("nvidia[0-9]*"))


def _model_and_rows() -> tuple[Path, np.ndarray]:
    version = str(registry.promoted_version("anomaly_ztf", MODELS))
    manifest = registry.load_manifest("anomaly_ztf", version, MODELS)
    alerts = [
        a for r in inspect_paths([str(REPO_ROOT / "deploy/demo-alerts/ztf")]) for a in r.alerts
    ]
    lcs = [features.lightcurve_from_alert(a) for a in alerts]
    X, ok = anomaly.feature_rows(lcs, ("g", "r"), manifest["features"], 3)
    return MODELS / "anomaly_ztf" / version / "model.onnx", X[ok]


def test_the_chosen_provider_gives_the_cpu_results() -> None:
    path, X = _model_and_rows()
    chosen = make_session(path)
    cpu = make_session(path, providers=[CPU])
    assert chosen.get_providers()[0] == choose().provider
    assert cpu.get_providers() == [CPU]
    s1, u1 = anomaly_onnx.run(chosen, X)
    s2, u2 = anomaly_onnx.run(cpu, X)
    if HERE_CUDA:  # wherever a GPU exists: same model, same results
        assert chosen.get_providers()[0] == CUDA
        assert np.abs(s1 - s2).max() < 1e-5 and np.abs(u1 - u2).max() < 1e-5
    else:
        assert chosen.get_providers() == [CPU]
        assert np.array_equal(s1, s2) and np.array_equal(u1, u2)


def test_status_and_metrics_show_the_provider(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    alerts = [
        a for r in inspect_paths([str(REPO_ROOT / "deploy/demo-alerts/ztf")]) for a in r.alerts
    ]
    assert run_enrichers(alerts[:50], settings) == {}  # a worker's pass: it reports its provider
    health = Health()
    check_inference(settings, health)
    line = dict(health.lines)["inference"]
    assert line.startswith(describe(choose(settings.inference.provider)))
    assert line.endswith(f"stream workers: 1 on {choose().provider}")

    metrics = StreamMetrics()
    metrics.set_models([])
    text = metrics.exposition().decode()
    want = f'faucon_inference_provider{{provider="{choose().provider}",reason="{choose().reason}"}}'
    assert f"{want} 1.0" in text

    refused = Health()
    cuda = settings.model_copy(
        update={"inference": settings.inference.model_copy(update={"provider": "cuda"})}
    )
    check_inference(cuda, refused)
    assert HERE_CUDA or (
        not refused.healthy and "FAUCON_INFERENCE__PROVIDER=cuda" in refused.problems[0]
    )
