"""docs/filters.md is current: its generated tables match the schema, allowlist and built-ins."""

from __future__ import annotations

from broker.core.schema import filter_view_schema
from broker.filters.builtin import all_builtin_filters
from broker.filters.reference import DOC, columns_markdown, render


def test_generated_sections_are_current() -> None:
    text = DOC.read_text()
    assert render(text) == text, "run: python -m broker.filters.reference"


def test_every_filterable_column_and_builtin_is_documented() -> None:
    text = DOC.read_text()
    table = columns_markdown()
    for name in filter_view_schema().names:
        assert f"| `{name}` |" in table and f"| `{name}` |" in text
    assert "cutout_science" not in table
    for spec in all_builtin_filters():
        assert f"| `{spec.name}` | {spec.kind} | {spec.profile} |" in text
