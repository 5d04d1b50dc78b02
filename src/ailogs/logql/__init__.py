"""Pure LogQL construction: QuerySpec in, LogQL text out, every value escaped."""

from ailogs.logql.build import LogQLPlan, all_lines_query, build_plan, selector_for
from ailogs.logql.escape import quote_meta, quote_string, regex_alternation

__all__ = [
    "LogQLPlan",
    "all_lines_query",
    "build_plan",
    "quote_meta",
    "quote_string",
    "regex_alternation",
    "selector_for",
]
