"""The Spark SQL functions a filter expression may call (an allowlist).

A filter sees one alert at a time and must neither run code nor reach
outside the alert.  Only pure, deterministic functions over the alert's own
columns are allowed: comparisons, arithmetic and mathematics, conditionals,
strings, arrays, maps and structs (with lambdas), casts and JSON look-ups in
``extra_json``.  Everything else is refused at registration, in particular
``reflect``/``java_method``/``try_reflect``, user-defined functions,
``input_file_name``, ``current_*``, ``rand``/``uuid`` and functions that can
allocate without bound (``repeat``, ``sequence``, ``array_repeat``, ``lpad``).

Examples
--------
>>> "exists" in ALLOWED_FUNCTIONS, "reflect" in ALLOWED_FUNCTIONS
(True, False)
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


OPERATORS = _names(
    "! % & * + - / < <= <=> = == > >= ^ and between div if ilike in isnan isnotnull isnull "
    "like mod negative not or positive regexp regexp_like rlike when | ~"
)
CONDITIONALS = _names("coalesce equal_null greatest ifnull least nanvl nullif nvl nvl2")
MATH = _names(
    "abs acos acosh asin asinh atan atan2 atanh bround cbrt ceil ceiling cos cosh cot csc "
    "degrees e exp expm1 floor hypot ln log log10 log1p log2 pi pmod pow power radians rint "
    "round sec sign signum sin sinh sqrt tan tanh try_add try_divide try_mod try_multiply "
    "try_subtract width_bucket"
)
CASTS = _names("bigint boolean cast decimal double float int smallint string tinyint")
STRINGS = _names(
    "btrim char_length character_length concat concat_ws contains endswith find_in_set "
    "get_json_object instr lcase left length locate lower ltrim octet_length position "
    "regexp_count regexp_extract regexp_instr replace right rtrim split_part startswith "
    "substr substring trim ucase upper"
)
COLLECTIONS = _names(
    "aggregate array array_compact array_contains array_distinct array_except "
    "array_intersect array_join array_max array_min array_position array_size array_sort "
    "array_union arrays_overlap cardinality element_at exists filter flatten forall get map "
    "map_contains_key map_entries map_filter map_keys map_values named_struct reduce size "
    "slice sort_array struct transform transform_values try_element_at zip_with"
)
ALLOWED_FUNCTIONS: frozenset[str] = OPERATORS | CONDITIONALS | MATH | CASTS | STRINGS | COLLECTIONS

# Analyzed nodes that are never a function call but structure: columns,
# literals, field/element access, lambdas, the alias Spark adds.
STRUCTURAL_NODES = frozenset(
    [
        "AttributeReference",
        "Literal",
        "Alias",
        "GetStructField",
        "GetArrayItem",
        "GetMapValue",
        "GetArrayStructFields",
        "LambdaFunction",
        "NamedLambdaVariable",
        "KnownNotNull",
    ]
)
# Internal classes refused wherever they appear (defence in depth).
FORBIDDEN_NODE_WORDS = (
    "UDF",
    "UDAF",
    "Subquery",
    "ListQuery",
    "Reflect",
    "Reflection",
    "VariableReference",
    "OuterReference",
    "PythonFunction",
    "SQLFunction",
    "Script",
    "InputFile",
    "Nondeterministic",
)
# Parsed (unresolved) nodes refused before analysis: they would reach outside the alert.
FORBIDDEN_PARSED = {
    "ScalarSubquery": "subquery",
    "Exists": "subquery",
    "ListQuery": "subquery",
    "InSubquery": "subquery",
    "LateralSubquery": "subquery",
    "ExpressionWithUnresolvedIdentifier": "identifier_clause",
    "UnresolvedIdentifier": "identifier_clause",
}
