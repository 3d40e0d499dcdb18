"""The anomaly part of ``faucon bench`` on real alerts (figures, not timings, are checked)."""

from __future__ import annotations

from broker.bench.anomaly import anomaly_rates, anomaly_rows, share
from broker.bench.run import bench_messages
from broker.core.config import load_settings


def test_anomaly_figures_and_report_rows() -> None:
    messages = bench_messages()[:400]
    figures = anomaly_rates(load_settings(), messages)
    assert 300 < figures["alerts"] <= len(messages)  # decodable ZTF and Rubin alerts
    assert figures["unit_us_per_alert"] > 0 and figures["alone_us_per_alert"] > 0
    assert set(figures["enrich_stage_alerts_per_s"]) == {"with_anomaly", "without_anomaly"}
    figures["share_of_pipeline"] = share(figures["unit_us_per_alert"], 1000.0, 2)
    figures["share_if_classifiers_off"] = share(figures["alone_us_per_alert"], 1000.0, 2)
    rows = anomaly_rows({"anomaly": figures})
    assert len(rows) == 3 and rows[0].startswith("| anomaly score, one core")
    assert f"{figures['share_of_pipeline']:.2%} of the pipeline's CPU per alert" in rows[0]
    assert anomaly_rows({}) == []
