"""What DESIGN.md §3 allows in LogQL, and small parsers the stack tests share."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STREAM_LABELS = frozenset({"service_name", "level", "job", "env"})
METADATA = frozenset({"correlation_id", "conversation_id", "workspace_id", "trace_id", "model"})
FIELDS = frozenset(
    {
        "ts",
        "level",
        "service",
        "msg",
        "event",
        "correlation_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "conversation_id",
        "workspace_id",
        "operation",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "tokens_used",
        "duration_ms",
        "ttft_ms",
        "status",
        "error_type",
        "http_status",
        "upstream_service",
    }
)
LEVELS = ("debug", "info", "warning", "error", "critical")

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def envsubst(text: str, env: Mapping[str, str] | None = None) -> str:
    """What Promtail's `-config.expand-env=true` (drone/envsubst) does before YAML parsing.

    `${VAR}` and `${VAR:-default}` expand; `$$` is a literal `$`; a backslash
    before a backslash or a slash is dropped (`\\\\` -> `\\`).
    """
    environ = dict(os.environ if env is None else env)
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            match = _VAR.match(text, i)
            if match is None:
                raise ValueError(f"bad substitution at offset {i}: {text[i : i + 30]!r}")
            name, default = match.group(1), match.group(2)
            out.append(environ.get(name) or (default or ""))
            i = match.end()
        elif text.startswith("$$", i) or (text[i] == "\\" and text[i + 1 : i + 2] in {"\\", "/"}):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_SELECTOR = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_LABEL_FILTER = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|==|=|>=|<=|>|<)")
_JSON_STAGE = re.compile(r"\|\s*json\b([^|\[]*)")
_BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_UNWRAP = re.compile(r"\|\s*unwrap\s+([A-Za-z_][A-Za-z0-9_]*)")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


def selector_labels(logql: str) -> list[str]:
    """Label names used in every `{...}` stream selector of a LogQL expression."""
    names: list[str] = []
    for match in _SELECTOR.finditer(logql):
        body = match.group(1)
        if not body.strip() or "=" not in body:
            continue  # a `{{legend}}` or template, not a selector
        position = 0
        while position < len(body):
            matcher = _MATCHER.match(body, position)
            if matcher is None:
                raise ValueError(f"cannot parse selector {{{body}}}")
            names.append(matcher.group(1))
            position = matcher.end()
    return names


def pipeline_names(logql: str) -> dict[str, set[str]]:
    """Names used after the selector: label filters, json fields, unwrap, by()."""
    bare = _STRINGS.sub('""', logql)
    json_fields: set[str] = set()
    for match in _JSON_STAGE.finditer(bare):
        params = [p.strip() for p in match.group(1).split(",") if p.strip()]
        if not params:
            raise ValueError(f"a bare `| json` renames metadata to *_extracted: {logql}")
        json_fields.update(p.split("=")[0].strip() for p in params)
    return {
        "filters": {m.group(1) for m in _LABEL_FILTER.finditer(bare)} - {"json", "unwrap"},
        "json": json_fields,
        "unwrap": set(_UNWRAP.findall(bare)),
        "by": {n.strip() for group in _BY.findall(bare) for n in group.split(",") if n.strip()},
    }
