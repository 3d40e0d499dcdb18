"""ONNX export of the scikit-learn classifiers and onnxruntime sessions.

The model input is one float32 tensor ``features`` of shape ``(n, n_features)``
(NaN allowed); outputs are ``label`` and ``probabilities`` ``(n, n_classes)``.

skl2onnx 1.20 emits Python ``bool`` values in the integer attribute
``nodes_missing_value_tracks_true`` of histogram gradient boosting trees,
which onnx rejects; :func:`to_onnx` casts them to ``int`` while converting.

Examples
--------
>>> import numpy as np
>>> from sklearn.ensemble import HistGradientBoostingClassifier
>>> X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
>>> X[::7, 1] = np.nan
>>> clf = HistGradientBoostingClassifier(max_iter=20).fit(X, X[:, 0] > 0)
>>> onnx_bytes = to_onnx(clf, 3)
>>> max_abs_difference(clf, onnx_bytes, X) < 1e-5
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common._container import ModelComponentContainer
from skl2onnx.common.data_types import FloatTensorType

from broker.core.errors import ConfigError
from classifiers.providers import choose

INPUT_NAME = "features"
PROBA_OUTPUT = "probabilities"


@contextmanager
def _int_bool_attributes() -> Iterator[None]:
    original = ModelComponentContainer.add_node

    def add_node(
        self: Any, op_type: Any, inputs: Any, outputs: Any, *args: Any, **attrs: Any
    ) -> Any:
        for key, value in attrs.items():
            if isinstance(value, list) and any(isinstance(v, bool | np.bool_) for v in value):
                attrs[key] = [int(v) for v in value]
        return original(self, op_type, inputs, outputs, *args, **attrs)

    ModelComponentContainer.add_node = add_node
    try:
        yield
    finally:
        ModelComponentContainer.add_node = original


def to_onnx(model: Any, n_features: int) -> bytes:
    """Serialized ONNX model of a fitted scikit-learn classifier (no ZipMap)."""
    with _int_bool_attributes():
        onx = convert_sklearn(
            model,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            options={id(model): {"zipmap": False}},
        )
    return bytes(onx.SerializeToString())


def make_session(
    model: bytes | str | Path, providers: list[str] | None = None
) -> ort.InferenceSession:
    """One single-threaded onnxruntime session (the stream runs one per worker core).

    ``providers`` defaults to :func:`classifiers.providers.choose`'s: CUDA when
    installed with a GPU visible, else CPU (``FAUCON_INFERENCE__PROVIDER``).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, options, providers=providers or choose().providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ConfigError(f"cannot load ONNX model {str(model)[:200]}: {exc}") from exc


def predict_proba(session: ort.InferenceSession, X: np.ndarray) -> np.ndarray:
    """Class probabilities from an onnxruntime session for float32 features."""
    if len(X) == 0:
        n_classes = session.get_outputs()[1].shape[1] or 0
        return np.zeros((0, n_classes), dtype=np.float32)
    out = session.run([PROBA_OUTPUT], {INPUT_NAME: np.ascontiguousarray(X, dtype=np.float32)})
    return np.asarray(out[0])


def max_abs_difference(model: Any, onnx_bytes: bytes, X: np.ndarray) -> float:
    """Largest |p_sklearn - p_onnx| over ``X`` (float32 fed to both)."""
    X32 = np.asarray(X, dtype=np.float32)
    expected = model.predict_proba(X32)
    actual = predict_proba(make_session(onnx_bytes), X32)
    return float(np.abs(expected - actual).max()) if len(X32) else 0.0
