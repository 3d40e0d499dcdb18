"""Supernova classifiers: features, training, ONNX registry and stream inference.

See ``docs/classifiers.md``.  Modules: :mod:`~classifiers.features` (feature set
``fsv1``), :mod:`~classifiers.snana` (training data), :mod:`~classifiers.train`,
:mod:`~classifiers.evaluate`, :mod:`~classifiers.registry`,
:mod:`~classifiers.inference` (``get_scorer``) and :mod:`~classifiers.bench`.
"""
