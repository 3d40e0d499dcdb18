"""Versioned model registry on disk.

Layout under the root (``models_dir`` argument, else ``$FAUCON_MODELS_DIR``,
else ``classifiers/models`` in the repository)::

    NAME/VERSION/model.onnx      the classifier (ONNX, float32 features in)
    NAME/VERSION/manifest.json   what it is, how it was trained, its metrics
    NAME/PROMOTED                the version the stream uses (one line)

``PROMOTED`` is replaced atomically (write a temporary file, then rename).

Examples
--------
>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> _ = write_model("demo", "1", b"onnx-bytes", {"task": "demo"}, root)
>>> promote("demo", "1", root)
>>> promoted_version("demo", root), load_manifest("demo", "1", root)["model_sha256"][:8]
('1', 'fa82b28d')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from broker.core.errors import ConfigError

MODELS_ENV = "FAUCON_MODELS_DIR"
DEFAULT_ROOT = Path(__file__).resolve().parent / "models"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
PROMOTED_FILE = "PROMOTED"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def models_root(models_dir: str | Path | None = None) -> Path:
    """The registry root: ``models_dir``, else ``$FAUCON_MODELS_DIR``, else the repository's."""
    if models_dir is not None:
        return Path(models_dir)
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else DEFAULT_ROOT


def _check(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise ConfigError(f"invalid model {kind} {value!r}: use letters, digits, '_', '-', '.'")
    return value


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


def model_names(models_dir: str | Path | None = None) -> list[str]:
    """Names that have at least one version, sorted."""
    root = models_root(models_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))


def versions(name: str, models_dir: str | Path | None = None) -> list[str]:
    """Versions of ``name`` holding a manifest, oldest first (numeric order)."""
    base = models_root(models_dir) / _check("name", name)
    if not base.is_dir():
        return []
    found = [p.name for p in base.iterdir() if (p / MANIFEST_FILE).is_file()]
    return sorted(found, key=_version_key)


def next_version(name: str, models_dir: str | Path | None = None) -> str:
    """One more than the highest numeric version of ``name`` (``"1"`` for a new name)."""
    numeric = [int(v) for v in versions(name, models_dir) if v.isdigit()]
    return str(max(numeric, default=0) + 1)


def model_dir(name: str, version: str, models_dir: str | Path | None = None) -> Path:
    """Directory of one model version (may not exist)."""
    return models_root(models_dir) / _check("name", name) / _check("version", version)


def write_model(
    name: str,
    version: str,
    onnx_bytes: bytes,
    manifest: dict[str, Any],
    models_dir: str | Path | None = None,
) -> Path:
    """Store a new model version; refuses to overwrite an existing one.

    The manifest gets ``name``, ``version``, ``model_file`` and ``model_sha256``.

    Returns
    -------
    Path
        The version directory.
    """
    directory = model_dir(name, version, models_dir)
    if directory.exists():
        raise ConfigError(f"model {name} version {version} already exists in {directory.parent}")
    directory.mkdir(parents=True)
    (directory / MODEL_FILE).write_bytes(onnx_bytes)
    manifest = {
        "name": name,
        "version": version,
        **manifest,
        "model_file": MODEL_FILE,
        "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
    }
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    _atomic_write(directory / MANIFEST_FILE, text.encode())
    return directory


def load_manifest(name: str, version: str, models_dir: str | Path | None = None) -> dict[str, Any]:
    """Manifest of one version."""
    path = model_dir(name, version, models_dir) / MANIFEST_FILE
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"no model {name} version {version} ({path} missing)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    return manifest


def record_metrics(
    name: str, version: str, key: str, value: Any, models_dir: str | Path | None = None
) -> dict[str, Any]:
    """Store ``value`` under ``metrics[key]`` of a version's manifest (the model is unchanged).

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = write_model("demo", "1", b"x", {"metrics": {}}, root)
    >>> record_metrics("demo", "1", "real_validation", {"auc": 0.99}, root)["metrics"]
    {'real_validation': {'auc': 0.99}}
    """
    manifest = load_manifest(name, version, models_dir)
    manifest.setdefault("metrics", {})[key] = value
    path = model_dir(name, version, models_dir) / MANIFEST_FILE
    _atomic_write(path, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def verify(name: str, version: str, models_dir: str | Path | None = None) -> dict[str, Any]:
    """Manifest of one version after checking that ``model.onnx`` matches its sha256."""
    manifest = load_manifest(name, version, models_dir)
    path = model_dir(name, version, models_dir) / manifest.get("model_file", MODEL_FILE)
    if not path.is_file():
        raise ConfigError(f"model {name} version {version}: {path} missing")
    actual = sha256_file(path)
    if actual != manifest.get("model_sha256"):
        raise ConfigError(
            f"model {name} version {version}: {path.name} sha256 {actual[:12]} does not match "
            f"the manifest ({str(manifest.get('model_sha256'))[:12]}); retrain or restore the file"
        )
    return manifest


def promote(name: str, version: str, models_dir: str | Path | None = None) -> None:
    """Make ``version`` the one the stream uses (checks the model file first)."""
    verify(name, version, models_dir)
    path = models_root(models_dir) / name / PROMOTED_FILE
    _atomic_write(path, f"{version}\n".encode())


def promoted_version(name: str, models_dir: str | Path | None = None) -> str | None:
    """The promoted version of ``name``, or None."""
    path = models_root(models_dir) / _check("name", name) / PROMOTED_FILE
    try:
        version = path.read_text().strip()
    except FileNotFoundError:
        return None
    return version or None


def promoted(models_dir: str | Path | None = None) -> dict[str, str]:
    """Promoted version of every model name that has one."""
    out = {}
    for name in model_names(models_dir):
        version = promoted_version(name, models_dir)
        if version is not None:
            out[name] = version
    return out


def operating_threshold(
    name: str, models_dir: str | Path | None = None, *, early: bool = False
) -> float:
    """Operating threshold (calibrated probability, unitless) of the promoted version of ``name``.

    Read from the manifest's ``threshold`` (older manifests: ``operating_threshold``).
    With ``early``, the manifest's ``early_threshold`` (chosen for the first days
    of a transient, :mod:`classifiers.early`) when it has one, else ``threshold``.

    Raises
    ------
    ConfigError
        No promoted version, or its manifest has no threshold (a multi-class model).

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = write_model("demo", "1", b"x", {"task": "demo", "threshold": 0.42}, root)
    >>> promote("demo", "1", root)
    >>> operating_threshold("demo", root), operating_threshold("demo", root, early=True)
    (0.42, 0.42)
    >>> _ = write_model("demo", "2", b"y", {"threshold": 0.42, "early_threshold": 0.2}, root)
    >>> promote("demo", "2", root)
    >>> operating_threshold("demo", root, early=True)
    0.2
    """
    version = promoted_version(name, models_dir)
    if version is None:
        raise ConfigError(f"model {name} has no promoted version in {models_root(models_dir)}")
    value = manifest_threshold(load_manifest(name, version, models_dir), early=early)
    if value is None:
        raise ConfigError(
            f"model {name} version {version} has no operating threshold (multi-class, argmax)"
        )
    return value


def manifest_threshold(manifest: Mapping[str, Any], *, early: bool = False) -> float | None:
    """A manifest's operating threshold (see :func:`operating_threshold`); None: argmax model.

    Examples
    --------
    >>> m = {"threshold": 0.5, "early_threshold": None}
    >>> manifest_threshold(m), manifest_threshold(m, early=True)
    (0.5, 0.5)
    >>> manifest_threshold({"operating_threshold": 0.4, "early_threshold": 0.3}, early=True)
    0.3
    >>> manifest_threshold({"threshold": None}, early=True) is None
    True
    """
    value = manifest.get("threshold", manifest.get("operating_threshold"))
    if early and manifest.get("early_threshold") is not None:
        value = manifest["early_threshold"]
    return None if value is None else float(value)
