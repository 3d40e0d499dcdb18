"""The filter registry: a compacted Kafka topic shared by the CLI and the running stream.

Topic ``<prefix>.filters`` (``cleanup.policy=compact``, one partition): the
key is the filter name, the value the JSON of its full
:class:`~broker.filters.base.FilterSpec` (owner, description, version,
changelog, state); a tombstone (null value) removes it.  Every change is a
new version.  The key ``__builtins__`` records which built-in filters were
ever registered, so a removed built-in stays removed.

:meth:`FilterRegistry.current` is what the stream calls at the start of every
micro-batch: it returns the cached specs, and at most every
``filters.registry_refresh_s`` seconds asks Kafka for the end offset (one
round trip) and reads only the records added since the last call, with one
long-lived consumer.

Examples
--------
>>> from broker.core.config import load_settings
>>> registry_topic(load_settings())
'faucon.filters'
>>> reg = FilterRegistry(load_settings())  # doctest: +SKIP
>>> reg.add(FilterSpec(name="bright18", kind="sql", expression="mag < 18"))  # doctest: +SKIP
>>> [f.name for f in reg.current()]  # doctest: +SKIP
['bright18']
"""

from __future__ import annotations

import getpass
import json
import logging
import threading
import time
from typing import Any

from pydantic import ValidationError

from broker.core.config import Settings, filter_settings
from broker.core.errors import InfrastructureError
from broker.filters.base import ChangeEntry, FilterSpec, FilterValidationError, utc_now
from broker.registry.compacted import CompactedTopic

log = logging.getLogger(__name__)
BUILTINS_KEY = "__builtins__"


def registry_topic(settings: Settings) -> str:
    """The registry's Kafka topic."""
    return f"{settings.kafka.topic_prefix}.filters"


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class FilterRegistry:
    """Durable, shared filter registry (see module doc); safe to call from several threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = registry_topic(settings)
        self.refresh_s = filter_settings(settings).registry_refresh_s
        self._log = CompactedTopic(settings, self.topic)
        self._specs: dict[str, FilterSpec] = {}
        self._meta: dict[str, Any] = {}
        self._last_sync = float("-inf")
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- reading
    def _sync(self) -> None:
        for key, value in self._log.sync().items():
            if key.startswith("__"):
                self._meta[key] = json.loads(value) if value else None
            elif value is None:
                self._specs.pop(key, None)
            else:
                try:
                    self._specs[key] = FilterSpec.model_validate_json(value)
                except ValidationError as exc:
                    log.warning("registry record %r is not a valid filter, ignored: %s", key, exc)
        self._last_sync = time.monotonic()

    def current(self) -> list[FilterSpec]:
        """Every registered filter (enabled, disabled, quarantined), by name; cheap to call.

        Once read, a failing refresh (Kafka briefly unreachable) keeps the last
        known filters, with a warning, and is retried after the refresh interval.
        """
        with self._lock:
            if time.monotonic() - self._last_sync >= self.refresh_s:
                try:
                    self._sync()
                except InfrastructureError as exc:
                    if self._last_sync == float("-inf"):
                        raise
                    log.warning("filter registry not refreshed, keeping the last filters: %s", exc)
                    self._last_sync = time.monotonic()
            return [self._specs[n] for n in sorted(self._specs)]

    def list_filters(self) -> list[FilterSpec]:
        """Every registered filter, read up to the latest change."""
        with self._lock:
            self._sync()
            return [self._specs[n] for n in sorted(self._specs)]

    def show(self, name: str) -> FilterSpec:
        """The latest version of one filter.

        Raises
        ------
        FilterValidationError
            No such filter (reason ``unknown_filter``).
        """
        with self._lock:
            self._sync()
            if name not in self._specs:
                known = ", ".join(sorted(self._specs)) or "none"
                raise FilterValidationError(
                    name, "unknown_filter", f"no such filter in {self.topic} (registered: {known})"
                )
            return self._specs[name]

    # ----------------------------------------------------------------- writing
    def _write(self, key: str, value: bytes | None) -> None:
        self._log.write(key, value)
        self._sync()

    def _put(self, spec: FilterSpec) -> FilterSpec:
        self._write(spec.name, spec.model_dump_json().encode())
        return self._specs[spec.name]

    def add(
        self,
        spec: FilterSpec,
        spark: Any = None,
        check: bool = True,
        schema: Any = None,
        author: str | None = None,
    ) -> FilterSpec:
        """Validate and register a new filter (version 1); refuse an existing name.

        Parameters
        ----------
        spec
            The filter; its version and changelog are set here.
        spark
            Spark session for SQL validation (active or local when None).
        check
            Also backtest it on the bundled sample and refuse it if it fails.
        schema
            The filter view (tests); :func:`broker.core.schema.filter_view_schema` when None.
        author
            Who, for the changelog (the system user when None; the portal's user).
        """
        from broker.filters.validate import validate_spec
        from broker.registry.backtest import check_on_sample

        with self._lock:
            self._sync()
            if spec.name in self._specs:
                old = self._specs[spec.name]
                raise FilterValidationError(
                    spec.name,
                    "duplicate",
                    f"already registered (version {old.version}, {old.state}); use "
                    "`faucon filter change` for a new version or remove it first",
                )
            valid = validate_spec(spec, spark=spark, schema=schema)
            if check:
                check_on_sample(valid, spark=spark, settings=self.settings, schema=schema)
            text = f"created by {author or _author()}"
            entry = ChangeEntry(version=1, time=utc_now(), change=text)
            return self._put(valid.model_copy(update={"version": 1, "changelog": (entry,)}))

    def change(
        self,
        name: str,
        note: str = "",
        spark: Any = None,
        check: bool = True,
        schema: Any = None,
        author: str | None = None,
        **updates: Any,
    ) -> FilterSpec:
        """Register a new version with ``updates`` (kind, expression, inputs, description, ...).

        A built-in filter whose expression is changed stops following the settings.
        """
        from broker.filters.validate import validate_spec
        from broker.registry.backtest import check_on_sample

        with self._lock:
            old = self.show(name)
            updates = {k: v for k, v in updates.items() if v is not None}
            if "expression" in updates and "inputs" not in updates:
                updates["inputs"] = ()
            changed = {k: v for k, v in updates.items() if getattr(old, k) != v}
            if not changed:
                return old
            what = ", ".join(f"{k}={v!r}" for k, v in changed.items() if k != "inputs" or v)
            if old.builtin and {"expression", "kind", "inputs"} & set(changed):
                changed["builtin"] = False
                what += " (no longer follows the built-in settings)"
            text = f"changed {what} by {author or _author()}" + (f": {note}" if note else "")
            try:
                new = old.next_version(text, **changed)
            except ValidationError as exc:
                problems = "; ".join(e["msg"] for e in exc.errors())
                raise FilterValidationError(name, "invalid", problems) from None
            if {"expression", "kind", "inputs"} & set(changed):
                new = validate_spec(new, spark=spark, schema=schema)
                if check:
                    check_on_sample(new, spark=spark, settings=self.settings, schema=schema)
            return self._put(new)

    def _set_state(self, name: str, enabled: bool, reason: str | None, text: str) -> FilterSpec:
        with self._lock:
            old = self.show(name)
            if old.enabled == enabled and old.quarantine_reason == reason:
                return old
            return self._put(old.next_version(text, enabled=enabled, quarantine_reason=reason))

    def enable(self, name: str, note: str = "", author: str | None = None) -> FilterSpec:
        """Enable a filter (also lifts a quarantine)."""
        return self._set_state(name, True, None, f"enabled by {author or _author()}{_note(note)}")

    def disable(self, name: str, note: str = "", author: str | None = None) -> FilterSpec:
        """Disable a filter (kept, with its history; no more alerts on its topic)."""
        text = f"disabled by {author or _author()}{_note(note)}"
        return self._set_state(name, False, None, text)

    def quarantine(self, name: str, reason: str) -> FilterSpec | None:
        """Disable a failing filter with the reason (what the stream calls); None if unknown."""
        with self._lock:
            self._sync()
            old = self._specs.get(name)
            if old is None or (not old.enabled and old.quarantine_reason):
                return old
            log.warning("filter %s quarantined: %s", name, reason)
            return self._set_state(name, False, reason, f"quarantined by the stream: {reason}")

    def remove(self, name: str) -> None:
        """Remove a filter (tombstone); its topic and published alerts stay in Kafka."""
        with self._lock:
            self.show(name)
            self._write(name, None)

    def ensure_builtins(self, spark: Any = None, schema: Any = None) -> list[str]:
        """Register built-ins never registered before; follow settings for untouched ones.

        Returns the names added or updated.  A built-in that fails validation is
        logged and skipped (it never stops the stream).
        """
        from broker.filters.validate import validate_spec
        from broker.registry.builtins import builtin_filters

        done = []
        with self._lock:
            self._sync()
            known = set((self._meta.get(BUILTINS_KEY) or {}).get("names", []))
            for spec in builtin_filters(self.settings, schema):
                old = self._specs.get(spec.name)
                try:
                    if old is None and spec.name not in known:
                        self.add(spec, spark=spark, check=False, schema=schema)
                        done.append(spec.name)
                    elif (
                        old is not None
                        and old.builtin
                        and (
                            (old.expression, old.description) != (spec.expression, spec.description)
                        )
                    ):
                        valid = validate_spec(spec, spark=spark, schema=schema)
                        self._put(old.next_version("thresholds updated from the settings",
                                                   expression=valid.expression,
                                                   inputs=valid.inputs,
                                                   description=valid.description))  # fmt: skip
                        done.append(spec.name)
                except FilterValidationError as exc:
                    log.error("built-in filter %s not registered: %s", spec.name, exc)
                    continue
                known.add(spec.name)
            if known != set((self._meta.get(BUILTINS_KEY) or {}).get("names", [])):
                self._write(BUILTINS_KEY, json.dumps({"names": sorted(known)}).encode())
        return done

    def close(self) -> None:
        """Close the Kafka clients."""
        with self._lock:
            self._log.close()

    def __enter__(self) -> FilterRegistry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _note(note: str) -> str:
    return f": {note}" if note else ""
