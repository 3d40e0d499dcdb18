"""Settings of the anomaly model (nightly training, feedback, gate) and of model inference.

Mounted in :class:`broker.core.config.Settings` as ``anomaly``
(``FAUCON_ANOMALY__<FIELD>``) and ``inference`` (``FAUCON_INFERENCE__<FIELD>``).

Examples
--------
>>> a = AnomalySettings()
>>> a.window_days, a.top_fraction, InferenceSettings().provider
(7, 0.01, 'auto')
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AnomalySettings(BaseModel):
    """The anomaly score: stream unit, nightly training window, labels, promotion gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True, description="score every alert with the promoted anomaly model"
    )
    window_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="nightly training reads this many archived nights, days",
    )
    min_train_alerts: int = Field(
        default=200, ge=2, description="fewest scorable archived alerts to train on, alerts"
    )
    max_train_alerts: int = Field(
        default=50_000, ge=10, description="most alerts trained on (random sample above), alerts"
    )
    top_fraction: float = Field(
        default=0.01,
        gt=0.0,
        lt=1.0,
        description="the manifest threshold passes this fraction of the training alerts, unitless",
    )
    n_trees: int = Field(default=150, ge=10, le=500, description="isolation-forest trees")
    max_samples: int = Field(
        default=256, ge=16, le=4096, description="alerts drawn to grow each tree, alerts"
    )
    feedback_weight: float = Field(
        default=1.0,
        ge=0.0,
        description="largest rise or fall of a score from the experts' labels, score units",
    )
    feedback_background: int = Field(
        default=1000,
        ge=10,
        description="unlabelled alerts sampled as the reranker's background class, alerts",
    )
    gate_min_reference: int = Field(
        default=50, ge=1, description="gate: fewest reference curves scored, curves"
    )
    gate_max_flag_fraction: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="gate: most of the reference set at or above the threshold, unitless",
    )
    gate_min_rank_correlation: float = Field(
        default=0.5,
        ge=-1.0,
        le=1.0,
        description="gate: Spearman correlation with the promoted model on the reference set",
    )


class InferenceSettings(BaseModel):
    """Where onnxruntime runs the models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="auto: CUDA when onnxruntime-gpu is installed and a GPU is visible, else CPU",
    )
