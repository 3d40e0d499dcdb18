"""``faucon status``: one-screen health of Kafka, the stream, models and filters.

Unhealthy (non-zero exit) when Kafka does not answer, when a stream that says
it is running has not reported for too long (crashed or stuck), when the
counters do not reconcile, or, with ``require_stream``, when no stream runs.

Examples
--------
>>> from broker.core.config import load_settings
>>> report = Health()
>>> report.fail("kafka", "down")
>>> report.healthy, report.problems
(False, ['kafka: down'])
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.core.config import Settings


@dataclass
class Health:
    """Collected checks: lines to print and problems that make the status unhealthy."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ok(self, what: str, detail: str) -> None:
        """A check that passed."""
        self.lines.append((what, detail))

    def fail(self, what: str, detail: str) -> None:
        """A check that failed."""
        self.lines.append((what, f"UNHEALTHY: {detail}"))
        self.problems.append(f"{what}: {detail}")

    @property
    def healthy(self) -> bool:
        """True when no check failed."""
        return not self.problems


def _read_json(path: Any) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def promoted_models(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, version, model sha256) of every promoted model in the registry."""
    from classifiers.registry import load_manifest, promoted

    out = []
    for name, version in sorted(promoted(settings.models_dir).items()):
        manifest = load_manifest(name, version, settings.models_dir)
        out.append((name, version, str(manifest.get("model_sha256", ""))))
    return out


def status_path(settings: Settings) -> Path:
    """File where the running stream reports its progress (read by ``faucon status``)."""
    return settings.state_dir / "stream" / f"{settings.kafka.topic_prefix}-status.json"


def check_kafka(settings: Settings, health: Health, timeout: float = 5.0) -> None:
    """Kafka answers a metadata request; topic count."""
    from confluent_kafka.admin import AdminClient

    from broker.kafka.topics import client_config

    try:
        md = AdminClient(client_config(settings)).list_topics(timeout=timeout)
        health.ok(
            "kafka",
            f"{settings.kafka.bootstrap}: {len(md.brokers)} broker(s), {len(md.topics)} topics",
        )
    except Exception as exc:  # any client error means unreachable for an operator
        health.fail(
            "kafka",
            f"no answer from {settings.kafka.bootstrap} in {timeout:.0f} s "
            f"({type(exc).__name__}); start it with `faucon kafka start` or "
            "check FAUCON_KAFKA__BOOTSTRAP",
        )


def check_stream(settings: Settings, health: Health, require_stream: bool = False) -> None:
    """The stream's status file (progress, lag) and counters."""
    from broker.ops.stats import stats_path

    status = _read_json(status_path(settings))
    stale_after = 3 * settings.spark.trigger_seconds + 60
    if status and status.get("active"):
        age = time.time() - float(status.get("updated_at", 0))
        if age > stale_after:
            health.fail(
                "stream",
                f"pid {status.get('pid')} last reported {age:.0f} s ago "
                "(crashed or stuck); see its log and restart `faucon stream`",
            )
        else:
            prog = status.get("last_progress") or {}
            health.ok(
                "stream",
                f"running (pid {status.get('pid')}), lag "
                f"{status.get('consumer_lag')} messages, last batch "
                f"{prog.get('batchId')} at {prog.get('timestamp')}, "
                f"metrics {status.get('metrics')}",
            )
    elif require_stream:
        health.fail("stream", "not running; start it with `faucon stream`")
    else:
        health.ok("stream", "not running")
    stats = _read_json(stats_path(settings))
    if stats:
        last = stats.get("last_batch") or {}
        line = (
            f"{stats['in']} in, {stats['ok']} published, {stats['rejected_total']} "
            f"rejected {stats.get('rejected') or {}}; last batch {last.get('id')} took "
            f"{last.get('duration_s')} s"
        )
        if stats["in"] == stats["ok"] + stats["rejected_total"]:
            health.ok("counters", line)
        else:
            health.fail("counters", "in != published + rejected: " + line)


def check_models(settings: Settings, health: Health) -> None:
    """Promoted classifier versions."""

    try:
        models = promoted_models(settings)
        health.ok("models", ", ".join(f"{n} v{v}" for n, v, _h in models) or "none promoted")
    except Exception as exc:  # a broken registry is a problem to show, not a crash
        health.fail("models", f"registry at {settings.models_dir} unreadable: {exc}")


def check_inference(settings: Settings, health: Health) -> None:
    """The onnxruntime execution provider: this machine's choice and what stream workers use."""
    from broker.core.errors import ConfigError
    from classifiers.providers import choose, describe

    try:
        line = describe(choose(settings.inference.provider))
    except ConfigError as exc:
        health.fail("inference", str(exc))
        return
    used: dict[str, int] = {}
    for path in sorted((settings.state_dir / "stream" / "inference").glob("*.json")):
        report = _read_json(path) or {}
        for provider in set((report.get("providers") or {}).values()):
            used[provider] = used.get(provider, 0) + 1
    if used:
        line += "; stream workers: " + ", ".join(f"{n} on {p}" for p, n in sorted(used.items()))
    health.ok("inference", line)


def check_filters(settings: Settings, health: Health, filters: list[Any]) -> None:
    """Filter states."""
    states = [
        f"{f.name}:{getattr(f, 'state', None) or ('on' if f.enabled else 'off')}" for f in filters
    ]
    health.ok("filters", ", ".join(states) or "none")


def collect(settings: Settings, filters: list[Any], require_stream: bool = False) -> Health:
    """Run every check."""
    health = Health()
    check_kafka(settings, health)
    check_stream(settings, health, require_stream)
    check_models(settings, health)
    check_inference(settings, health)
    check_filters(settings, health, filters)
    return health
