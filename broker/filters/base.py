"""The filter unit: one small, typed specification per filter.

A filter selects alerts from the enriched stream and publishes them on its
own topic ``<prefix>.filter.<name>`` with an output profile.

* ``kind="sql"``: ``expression`` is a boolean Spark SQL expression (a WHERE
  clause) over the filter view's columns (:func:`broker.core.schema.filter_view_schema`).
  No code runs; ``inputs`` lists the columns it reads (filled at registration).
* ``kind="python"``: ``expression`` is ``module:function`` or
  ``entrypoint:NAME`` (group ``faucon.filters``); the function receives a
  pandas DataFrame of the declared ``inputs`` columns and returns one boolean
  per row.

Every registered change is a new ``version`` with an entry in ``changelog``.
A filter is ``enabled``, ``disabled`` or ``quarantined`` (disabled by the
stream after it failed, with ``quarantine_reason``).

Examples
--------
>>> f = FilterSpec(name="bright", kind="sql", expression="mag < 18")
>>> f.topic("faucon"), f.state
('faucon.filter.bright', 'enabled')
>>> try:
...     validate_name("Bad Name!")
... except ValueError as exc:
...     print(str(exc)[:40])
filter name 'Bad Name!' must match ^[a-z
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broker.core.errors import ConfigError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
PYTHON_REF_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
ENTRYPOINT_PREFIX = "entrypoint:"
ENTRYPOINT_GROUP = "faucon.filters"
State = Literal["enabled", "disabled", "quarantined"]


class FilterValidationError(ConfigError):
    """A filter definition is invalid; the message says what, where and what to do.

    Parameters
    ----------
    name
        The filter.
    reason
        Short machine-readable reason (``syntax``, ``unknown_column``,
        ``not_boolean``, ``forbidden_function``, ``subquery``,
        ``python_load``, ``unknown_input``, ``duplicate``, ``unknown_filter``,
        ``backtest``, ...).
    detail
        Human-readable explanation.
    """

    def __init__(self, name: str, reason: str, detail: str) -> None:
        super().__init__(f"filter {name!r}: {detail}")
        self.name = name
        self.reason = reason
        self.detail = detail


def validate_name(name: str) -> str:
    """Check a filter name (it becomes part of a Kafka topic name)."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"filter name {name!r} must match {NAME_RE.pattern} (lowercase letters, digits, "
            "underscores; it becomes the topic name)"
        )
    return name


def utc_now() -> str:
    """Current time, ISO 8601 UTC to the second (changelog timestamps)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class ChangeEntry(BaseModel):
    """One line of a filter's changelog."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: int = Field(ge=1)
    time: str
    change: str


class FilterSpec(BaseModel):
    """One filter, as registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    kind: Literal["sql", "python"]
    expression: str = Field(min_length=1)
    profile: Literal["full", "lite", "thin"] = "lite"
    description: str = ""
    owner: str = "faucon"
    version: int = Field(default=1, ge=1)
    enabled: bool = True
    inputs: tuple[str, ...] = ()
    builtin: bool = False
    quarantine_reason: str | None = None
    changelog: tuple[ChangeEntry, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_name(value)

    @model_validator(mode="after")
    def _python_reference(self) -> FilterSpec:
        if self.kind == "python" and not PYTHON_REF_RE.match(self.expression):
            raise ValueError(
                f"python filter {self.name!r}: expression {self.expression!r} must be "
                "'module:function' or 'entrypoint:NAME'"
            )
        return self

    @property
    def state(self) -> State:
        """``enabled``, ``disabled`` or ``quarantined``."""
        if self.enabled:
            return "enabled"
        return "quarantined" if self.quarantine_reason else "disabled"

    def topic(self, prefix: str) -> str:
        """Kafka topic this filter publishes to."""
        return f"{prefix}.filter.{self.name}"

    def next_version(self, change: str, **updates: object) -> FilterSpec:
        """A copy with ``updates``, the version bumped and ``change`` logged.

        Examples
        --------
        >>> f = FilterSpec(name="bright", kind="sql", expression="mag < 18")
        >>> g = f.next_version("disabled", enabled=False)
        >>> g.version, g.state, g.changelog[-1].change
        (2, 'disabled', 'disabled')
        """
        version = self.version + 1
        entry = ChangeEntry(version=version, time=utc_now(), change=change)
        data = self.model_dump()
        data.update(updates, version=version, changelog=(*self.changelog, entry))
        return FilterSpec.model_validate(data)
