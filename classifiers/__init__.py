"""Supernova classifiers: features, training, ONNX registry and stream inference.

See ``docs/classifiers.md``.  Modules: :mod:`~classifiers.features` (feature set
``fsv2``), :mod:`~classifiers.bands`, :mod:`~classifiers.snana` (training data),
:mod:`~classifiers.simulate` and :mod:`~classifiers.negatives` (survey-matched
curves and variables), :mod:`~classifiers.train`, :mod:`~classifiers.evaluate_real`,
:mod:`~classifiers.evaluate`, :mod:`~classifiers.registry`,
:mod:`~classifiers.inference` (``get_scorer``) and :mod:`~classifiers.bench`.
"""
