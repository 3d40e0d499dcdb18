"""Which onnxruntime execution provider runs the models: CUDA where present, else CPU.

``FAUCON_INFERENCE__PROVIDER`` (:class:`broker.core.config_anomaly.InferenceSettings`):

* ``auto`` (default): ``CUDAExecutionProvider`` when this onnxruntime build has
  it (the ``onnxruntime-gpu`` package) **and** a GPU is visible (an
  ``/dev/nvidia<N>`` device, ``CUDA_VISIBLE_DEVICES`` not empty or ``-1``),
  else ``CPUExecutionProvider``;
* ``cpu``: always the CPU;
* ``cuda``: the GPU or a :class:`~broker.core.errors.ConfigError` saying why not.

With CUDA the CPU provider stays second in the list: onnxruntime runs on the
CPU the operators CUDA lacks (the tree ensembles of these models), so the
same model gives the same results.  The provider a session really uses is
``session.get_providers()[0]`` (onnxruntime also falls back to the CPU when
CUDA fails to initialise); the scorers record it, ``faucon status`` and the
``faucon_inference_provider`` metric show it.

Examples
--------
>>> choose("auto", available=["CPUExecutionProvider"], gpu=False).provider
'CPUExecutionProvider'
>>> choose("auto", available=[CUDA, CPU], gpu=True).providers
['CUDAExecutionProvider', 'CPUExecutionProvider']
>>> choose("auto", available=[CUDA, CPU], gpu=False).reason
'CUDA provider installed but no GPU visible'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from broker.core.errors import ConfigError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Choice:
    """Providers to hand to onnxruntime (first = preferred), the first one, and why."""

    providers: list[str]
    provider: str
    reason: str


def gpu_visible() -> bool:
    """Whether a CUDA GPU is visible to this process (device files, CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return any(Path("/dev").glob("nvidia[0-9]*"))


def configured() -> str:
    """The configured preference (``inference.provider`` of the process settings)."""
    from broker.core.config import settings

    section = getattr(settings(), "inference", None)
    return str(getattr(section, "provider", "auto"))


def choose(
    preference: str | None = None,
    available: Sequence[str] | None = None,
    gpu: bool | None = None,
) -> Choice:
    """The execution providers for ``preference`` on this machine (see module doc).

    ``available`` and ``gpu`` default to onnxruntime's providers and
    :func:`gpu_visible`; they are parameters so the rule can be checked anywhere.
    """
    preference = (preference or configured()).lower()
    if preference not in PREFERENCES:
        raise ConfigError(f"inference provider {preference!r}: choose one of {PREFERENCES}")
    available = list(ort.get_available_providers() if available is None else available)
    gpu = gpu_visible() if gpu is None else gpu
    if preference == "cpu":
        return Choice([CPU], CPU, "configured: cpu")
    if CUDA in available and gpu:
        return Choice([CUDA, CPU], CUDA, "CUDA provider installed and a GPU visible")
    if preference == "cuda":
        why = "no GPU is visible" if CUDA in available else "this onnxruntime has no CUDA provider"
        raise ConfigError(
            f"FAUCON_INFERENCE__PROVIDER=cuda but {why}; install onnxruntime-gpu on a machine "
            "with an NVIDIA GPU, or set the provider to auto or cpu"
        )
    if CUDA in available:
        return Choice([CPU], CPU, "CUDA provider installed but no GPU visible")
    return Choice([CPU], CPU, "no CUDA provider in this onnxruntime build (onnxruntime-gpu)")


def describe(choice: Choice | None = None) -> str:
    """One line for ``faucon status``: the provider and why.

    Examples
    --------
    >>> describe(Choice([CPU], CPU, "configured: cpu"))
    'CPUExecutionProvider (configured: cpu)'
    """
    choice = choice or choose()
    return f"{choice.provider} ({choice.reason})"
