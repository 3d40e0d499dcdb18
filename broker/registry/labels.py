"""Experts' anomaly labels: a compacted Kafka topic shared by the CLI and the nightly training.

Topic ``<prefix>.anomaly-labels`` (``cleanup.policy=compact``, one
partition), like the filter registry: the key is the object id, the value
the JSON of its current :class:`Label` (``interesting`` or ``boring``, note,
who, when) with the earlier labels of that object in ``history``, so
compaction never loses who said what.  Kafka rather than a file in the state
directory because the scientists' ``faucon anomaly label`` and the Airflow
worker that trains every night run on different machines: the topic is the
store they already share (durable, replicated, ``acks=all``), as the filter
registry is for the stream.

Examples
--------
>>> from broker.core.config import load_settings
>>> labels_topic(load_settings())
'faucon.anomaly-labels'
>>> store = LabelStore(load_settings())  # doctest: +SKIP
>>> store.label("ZTF18abcdefg", "interesting", note="odd colour", by="ana").label  # doctest: +SKIP
'interesting'
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.core.config import Settings
from broker.core.errors import ConfigError
from broker.registry.compacted import CompactedTopic
from classifiers.anomaly_feedback import LABELS


def labels_topic(settings: Settings) -> str:
    """The labels' Kafka topic."""
    return f"{settings.kafka.topic_prefix}.anomaly-labels"


def os_user() -> str:
    """The user running this process (recorded as the labeller by default)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Label(BaseModel):
    """One object's current label and the labels it had before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object_id: str = Field(min_length=1, max_length=200)
    label: str
    note: str = Field(default="", max_length=2000)
    by: str = Field(min_length=1, max_length=200)
    at: str
    history: list[dict[str, Any]] = Field(default_factory=list)


class LabelStore:
    """Read and write the labels topic (see module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.topic = labels_topic(settings)
        self._log = CompactedTopic(settings, self.topic)
        self._labels: dict[str, Label] = {}

    def current(self) -> dict[str, Label]:
        """Every object's current label (reads what was added since the last call)."""
        for key, value in self._log.sync().items():
            if value is None:
                self._labels.pop(key, None)
                continue
            try:
                self._labels[key] = Label.model_validate_json(value)
            except ValidationError:  # a record this code cannot read is not a label
                continue
        return dict(self._labels)

    def label(self, object_id: str, label: str, note: str = "", by: str | None = None) -> Label:
        """Label ``object_id`` ``interesting`` or ``boring``; the previous label goes to history.

        Raises
        ------
        ConfigError
            An unknown label or an empty object id.
        """
        if label not in LABELS:
            raise ConfigError(f"label {label!r}: choose one of {', '.join(LABELS)}")
        object_id = object_id.strip()
        if not object_id:
            raise ConfigError("give the object id to label (e.g. ZTF18abcdefg)")
        previous = self.current().get(object_id)
        history = []
        if previous is not None:
            history = [*previous.history, previous.model_dump(exclude={"history"})]
        try:
            new = Label(
                object_id=object_id,
                label=label,
                note=note,
                by=by or os_user(),
                at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                history=history,
            )
        except ValidationError as exc:
            raise ConfigError(f"invalid label for {object_id!r}: {exc.errors()[0]['msg']}") from exc
        self._log.write(object_id, json.dumps(new.model_dump()).encode())
        self._labels[object_id] = new
        return new

    def close(self) -> None:
        """Close the Kafka clients."""
        self._log.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
