"""Science filters: the unit scientists register to get their own topic.

See ``docs/filters.md``.  The modules:

* :mod:`~broker.filters.base` -- :class:`FilterSpec`, names, errors;
* :mod:`~broker.filters.sql` -- validation of SQL filters, the condition the stream evaluates;
* :mod:`~broker.filters.python` -- loading and the isolated runner of Python filters;
* :mod:`~broker.registry.filters` -- the registry on a compacted Kafka topic;
* :mod:`~broker.registry.backtest` -- evaluation on real alert files;
* :mod:`~broker.filters.builtin` -- the built-in filters (thresholds in
  :mod:`~broker.core.config_filters`).
"""

from broker.filters.base import ChangeEntry, FilterSpec, FilterValidationError, validate_name

__all__ = ["ChangeEntry", "FilterSpec", "FilterValidationError", "validate_name"]
