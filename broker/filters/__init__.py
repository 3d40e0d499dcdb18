"""Science filters: the unit scientists register to get their own topic."""

from broker.filters.base import FilterSpec, validate_name

__all__ = ["FilterSpec", "validate_name"]
