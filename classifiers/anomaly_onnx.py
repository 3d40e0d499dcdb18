"""The anomaly model as one ONNX graph, run by onnxruntime in the stream.

Input ``features`` ``(n, k)`` float32: the model's features in manifest order
(NaN allowed).  Outputs ``score`` and ``unsupervised``, both ``(n, 1)``.

Graph (every constant is an initializer of this one file, so ``model_sha256``
identifies the whole computation)::

    z = Where(IsNaN(x), 0, Asinh((x - center) / scale))          robust scaling
    h = TreeEnsembleRegressor(z)       sum over trees of the leaf's path length
                                       (depth + c(n_leaf) - 1, scikit-learn's)
    unsupervised = 2 ** (-h / (n_trees * c(max_samples)))        = -score_samples
    shift = TreeEnsembleRegressor([z, unsupervised])    reranker trees, if labels:
                                       leaf = weight * (P(interesting) - P(boring)) / n_trees
    score = unsupervised + shift                                 (else = unsupervised)

The forest is written by hand rather than by skl2onnx's converter (one
regressor node per tree plus label encoders): a single tree-ensemble node with
the leaf path lengths as targets is smaller and several times faster, and the
leaves hold the same numbers scikit-learn sums.  Split thresholds are rounded
down to float32 so that ``x <= t`` decides as scikit-learn does on float32 input.

Examples
--------
>>> import numpy as np
>>> from classifiers.anomaly import fit_forest
>>> X = np.random.default_rng(1).normal(size=(200, 3)).astype(np.float32)
>>> m = fit_forest(X, ["a", "b", "c"], n_trees=20)
>>> s, u = run(make_session(to_onnx(m)), X)
>>> bool(np.abs(u - m.unsupervised(X)).max() < 1e-5)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from classifiers.anomaly import AnomalyModel
from classifiers.export import make_session as _make_session

INPUT = "features"
OUTPUTS = ("score", "unsupervised")
OPSET = 17
ML_OPSET = 3


def _thresholds32(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold: ``x <= t32`` iff ``x <= t`` for float32 x."""
    t32 = t.astype(np.float32)
    up = t32.astype(np.float64) > t
    t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
    return t32


def _ensemble_node(
    trees: Sequence[tuple[Any, np.ndarray | None, np.ndarray]], source: str, target: str
) -> helper.NodeProto:
    """One TreeEnsembleRegressor summing ``leaf_values`` over scikit-learn trees.

    ``trees`` holds per tree its ``tree_``, the input column of each of its
    features (None: the same) and the value of every node (used at leaves).
    """
    attrs: dict[str, Any] = {
        k: []
        for k in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_values",
            "nodes_modes",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "target_treeids",
            "target_nodeids",
            "target_ids",
            "target_weights",
        )
    }
    for tid, (tree, feats, values) in enumerate(trees):
        n = tree.node_count
        leaf = tree.children_left == -1
        fid = tree.feature if feats is None else feats[np.maximum(tree.feature, 0)]
        attrs["nodes_treeids"] += [tid] * n
        attrs["nodes_nodeids"] += list(range(n))
        attrs["nodes_featureids"] += np.where(leaf, 0, fid).astype(int).tolist()
        attrs["nodes_values"] += np.where(leaf, 0.0, _thresholds32(tree.threshold)).tolist()
        attrs["nodes_modes"] += ["LEAF" if x else "BRANCH_LEQ" for x in leaf]
        attrs["nodes_truenodeids"] += np.maximum(tree.children_left, 0).tolist()
        attrs["nodes_falsenodeids"] += np.maximum(tree.children_right, 0).tolist()
        leaves = np.flatnonzero(leaf)
        attrs["target_treeids"] += [tid] * leaves.size
        attrs["target_nodeids"] += leaves.tolist()
        attrs["target_ids"] += [0] * leaves.size
        attrs["target_weights"] += np.asarray(values, dtype=np.float64)[leaves].tolist()
    return helper.make_node(
        "TreeEnsembleRegressor",
        [source],
        [target],
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function="SUM",
        post_transform="NONE",
        **attrs,
    )


def _forest_node(model: AnomalyModel, source: str, target: str) -> helper.NodeProto:
    """The isolation forest: leaf value = path length (scikit-learn's depth + c(n) - 1)."""
    f = model.forest
    parts = zip(
        f.estimators_,
        f.estimators_features_,
        f._decision_path_lengths,
        f._average_path_length_per_tree,
        strict=True,
    )
    trees = [(e.tree_, feats, depth + avg - 1.0) for e, feats, depth, avg in parts]
    return _ensemble_node(trees, source, target)


def _reranker_node(model: AnomalyModel, source: str, target: str) -> helper.NodeProto:
    """The reranker's trees: leaf value = weight * (P(interesting) - P(boring)) / n_trees."""
    r = model.reranker
    direction = r.direction() / len(r.forest.estimators_)
    trees = []
    for est in r.forest.estimators_:
        value = est.tree_.value[:, 0, :]
        proba = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
        trees.append((est.tree_, None, proba @ direction))
    return _ensemble_node(trees, source, target)


def _const(name: str, value: Any, dtype: Any = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def to_onnx(model: AnomalyModel) -> bytes:
    """Serialized ONNX graph of a fitted :class:`~classifiers.anomaly.AnomalyModel`."""
    from sklearn.ensemble._iforest import _average_path_length

    forest = model.forest
    denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])
    k = len(model.names)
    inits = [
        _const("center", model.scaling.center),
        _const("scale", model.scaling.scale),
        _const("zero", 0.0),
        _const("neg_ln2_over_c", -np.log(2.0) / denominator),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT, "center"], ["centered"]),
        helper.make_node("Div", ["centered", "scale"], ["ratio"]),
        helper.make_node("Asinh", ["ratio"], ["squashed"]),
        helper.make_node("IsNaN", [INPUT], ["missing"]),
        helper.make_node("Where", ["missing", "zero", "squashed"], ["z"]),
        _forest_node(model, "z", "path_sum"),
        helper.make_node("Mul", ["path_sum", "neg_ln2_over_c"], ["log_score"]),
        helper.make_node("Exp", ["log_score"], ["unsupervised"]),
    ]
    if model.reranker is None:
        nodes.append(helper.make_node("Identity", ["unsupervised"], ["score"]))
    else:
        nodes += [
            helper.make_node("Concat", ["z", "unsupervised"], ["rerank_in"], axis=1),
            _reranker_node(model, "rerank_in", "shift"),
            helper.make_node("Add", ["unsupervised", "shift"], ["score"]),
        ]
    graph = helper.make_graph(
        nodes,
        "faucon_anomaly",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, k])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None, 1]) for o in OUTPUTS],
        initializer=inits,
    )
    onx = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="faucon.classifiers.anomaly_onnx",
    )
    onx.ir_version = 8
    onnx.checker.check_model(onx)
    return bytes(onx.SerializeToString())


def make_session(model: bytes | str | Path) -> ort.InferenceSession:
    """An onnxruntime session (provider chosen by :func:`classifiers.export.make_session`)."""
    return _make_session(model)


def run(session: ort.InferenceSession, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(score, unsupervised)`` as float64 vectors for raw feature rows ``X`` ``(n, k)``."""
    if len(X) == 0:
        return np.zeros(0), np.zeros(0)
    out = session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(X, dtype=np.float32)})
    return out[0][:, 0].astype(np.float64), out[1][:, 0].astype(np.float64)
