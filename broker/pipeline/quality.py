"""Quality cuts: configured thresholds an alert must pass to be published.

An alert that fails a cut is not dropped: it goes to the dead-letter topic
with stage ``quality`` and reason ``quality:<cut>`` and is counted.

Examples
--------
>>> from broker.core.config import QualitySettings
>>> cuts = QualitySettings(min_reliability=0.5)
>>> quality_reason({"reliability": 0.2, "is_positive": True}, cuts)
('quality:reliability', 'reliability 0.2 < min_reliability 0.5')
>>> quality_reason({"reliability": 0.9, "is_positive": True}, cuts) is None
True
"""

from __future__ import annotations

from typing import Any

from broker.core.config import QualitySettings


def quality_reason(alert: dict[str, Any], cuts: QualitySettings) -> tuple[str, str] | None:
    """Return ``(reason, detail)`` of the first failed cut, or None when all pass."""
    rel = alert.get("reliability")
    if cuts.min_reliability > 0 and (rel is None or rel < cuts.min_reliability):
        return "quality:reliability", f"reliability {rel} < min_reliability {cuts.min_reliability}"
    if cuts.require_positive and not alert.get("is_positive"):
        return "quality:negative", "negative difference flux and require_positive is set"
    if cuts.max_flux_err_ratio > 0:
        flux, err = alert.get("flux_njy"), alert.get("flux_err_njy")
        if not flux or err is None or err / abs(flux) > cuts.max_flux_err_ratio:
            return (
                "quality:flux_error",
                f"flux_err/|flux| of {err}/{flux} above max_flux_err_ratio "
                f"{cuts.max_flux_err_ratio}",
            )
    return None
