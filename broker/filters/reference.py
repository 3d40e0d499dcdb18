"""Generated reference tables of ``docs/filters.md`` (columns, functions, built-ins).

The tables are written between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
markers; ``python -m broker.filters.reference`` rewrites them and a test checks
that the document is current.  Columns come from
:func:`broker.core.schema.filter_view_schema`, their meaning from the alert schema.

Examples
--------
>>> "| `mag` | double |" in columns_markdown()
True
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from broker.core.config import REPO_ROOT
from broker.core.schema import alert_schema, filter_view_schema
from broker.filters.functions import (
    COLLECTIONS,
    CONDITIONALS,
    MATH,
    OPERATORS,
    STRINGS,
)

DOC = REPO_ROOT / "docs" / "filters.md"
_KEYS = {"xmatch": "['<catalog>']", "scores": "['<model.label>']"}


def _type(avro: Any) -> tuple[str, Any]:
    """Short SQL type of an Avro type, and its record (or None) to describe one level down."""
    if isinstance(avro, list):
        return _type(next(t for t in avro if t != "null"))
    if isinstance(avro, str):
        return {"long": "bigint", "int": "int"}.get(avro, avro), None
    kind = avro["type"]
    if kind == "array":
        inner, record = _type(avro["items"])
        return f"array<{inner}>", record
    if kind == "map":
        inner, record = _type(avro["values"])
        return f"map<string, {inner}>", record
    if kind == "record":
        return "struct", avro
    return str(kind), None


def columns_markdown() -> str:
    """Markdown table of every column a filter can read (nested fields one level down)."""
    visible = set(filter_view_schema().names)
    rows = ["| column | type | meaning |", "|---|---|---|"]
    for field in alert_schema()["fields"]:
        if field["name"] not in visible:
            continue
        sql_type, record = _type(field["type"])
        doc = " ".join(str(field.get("doc", "")).split()).replace("|", "\\|")
        rows.append(f"| `{field['name']}` | {sql_type} | {doc} |")
        if record is None:
            continue
        access = _KEYS.get(field["name"], "[i]" if sql_type.startswith("array") else "")
        for sub in record["fields"]:
            sub_type, _ = _type(sub["type"])
            sub_doc = " ".join(str(sub.get("doc", "")).split()).replace("|", "\\|")
            rows.append(f"| `{field['name']}{access}.{sub['name']}` | {sub_type} | {sub_doc} |")
    return "\n".join(rows)


def functions_markdown() -> str:
    """The allowlisted SQL functions, by family."""
    families = [
        ("operators", OPERATORS),
        ("conditionals", CONDITIONALS),
        ("mathematics", MATH),
        ("strings and JSON", STRINGS),
        ("arrays, maps, structs", COLLECTIONS),
    ]
    lines = ["| family | functions |", "|---|---|"]
    for title, names in families:
        shown = ", ".join(f"`{n}`" for n in sorted(names)).replace("|", "\\|")
        lines.append(f"| {title} | {shown} |")
    lines.append(
        "| casts | `cast(x AS type)`, `x::type`, `try_cast(x AS type)`, `double(x)`, ... |"
    )
    return "\n".join(lines)


def builtins_markdown() -> str:
    """Table of the built-in filters with their default thresholds."""
    from broker.core.config_filters import FilterSettings
    from broker.filters.builtin import all_builtin_filters

    rows = ["| name | kind | profile | selects (default thresholds) |", "|---|---|---|---|"]
    defaults = SimpleNamespace(filters=FilterSettings())  # not the environment's values
    for spec in all_builtin_filters(defaults):
        rows.append(f"| `{spec.name}` | {spec.kind} | {spec.profile} | {spec.description} |")
    return "\n".join(rows)


SECTIONS = {
    "columns": columns_markdown,
    "functions": functions_markdown,
    "builtins": builtins_markdown,
}


def render(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        found = pattern.search(text)
        if found is None:
            raise ValueError(f"docs/filters.md lacks the <!-- {name}:start/end --> markers")
        text = text[: found.end(1)] + make() + text[found.start(2) :]
    return text


def write(path: Path = DOC) -> bool:
    """Rewrite the generated sections of ``path``; True when it changed."""
    old = path.read_text()
    new = render(old)
    if new != old:
        path.write_text(new)
    return new != old


if __name__ == "__main__":
    print("updated" if write() else "up to date", DOC)
