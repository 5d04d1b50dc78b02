"""Fit an answer into an agent's token budget without losing what matters.

Pure: answers (dicts) in, answers out. When an answer is over `max_tokens`:

1. Labels every entry shares are lifted into `shared_labels`, and `fields` keys
   that repeat the entry's own `message`, `service`, `level` or the line's `ts`
   are dropped.
2. Lines are collapsed into templates (`ailogs.analysis.templates`): each
   template says how many lines it stands for, the first and last timestamps,
   services, levels and an exemplar.
3. The lines kept verbatim are the most informative, not the newest: one line
   of every error template first, then one of every other template rarest
   first, then more error lines, until the budget is spent. Every error
   template is always listed, even if that alone exceeds the budget (the
   answer then says `over_budget`).

The answer's `compaction` object says what was done. Tokens are estimated as
UTF-8 bytes / 3.5, rounded up: no tokenizer vocabulary ships with ailogs
(tiktoken downloads its BPE files at first use, which fails offline), and JSON
logs run about 3.3-4 bytes per token in the common BPE vocabularies, so 3.5
errs on the side of fitting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ailogs.analysis.templates import mine_templates
from ailogs.domain import level_rank

BYTES_PER_TOKEN = 3.5
TOKEN_ESTIMATOR = "utf8_bytes/3.5"
_EXEMPLAR_CHARS = 240
# Room for the `compaction` object and JSON punctuation.
_OVERHEAD_TOKENS = 160
_ERROR_RANK = level_rank("error")
_FIELD_ECHOES = ("msg", "message", "service", "level", "ts", "timestamp")

TemplateMiner = Callable[[Iterable[str]], list[tuple[str, str]]]


def _json_bytes(value: Any) -> int:
    return len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str))


def estimate_tokens(value: Any) -> int:
    """Estimated tokens of a JSON-serialisable value (or of text/bytes as they are)."""
    if isinstance(value, bytes):
        size = len(value)
    elif isinstance(value, str):
        size = len(value.encode("utf-8", "surrogatepass"))
    else:
        size = len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str))
    return math.ceil(size / BYTES_PER_TOKEN)


@dataclass
class _Group:
    template_id: str
    template: str
    indexes: list[int] = field(default_factory=list)
    rank: int = 0
    services: set[str] = field(default_factory=set)
    levels: set[str] = field(default_factory=set)

    @property
    def is_error(self) -> bool:
        return self.rank >= _ERROR_RANK


def compact_answer(
    answer: Mapping[str, Any],
    max_tokens: int,
    *,
    entries_key: str = "entries",
    miner: TemplateMiner = mine_templates,
) -> dict[str, Any]:
    """The answer fitted into `max_tokens`, with a `compaction` report; unchanged if it fits."""
    result = dict(answer)
    original = estimate_tokens(result)
    entries: list[dict[str, Any]] = [dict(e) for e in result.get(entries_key) or []]
    if original <= max_tokens or not entries:
        result["compaction"] = {
            "applied": False,
            "max_tokens": max_tokens,
            "estimated_tokens": original,
            "token_estimator": TOKEN_ESTIMATOR,
        }
        return result

    shared = _lift_shared_labels(entries)
    for entry in entries:
        _drop_field_echoes(entry)
    groups = _group(entries, miner)
    result[entries_key] = []
    result["shared_labels"] = shared
    base = estimate_tokens(result) + _OVERHEAD_TOKENS
    budget = max_tokens - base

    # Every error template is listed; other templates while they fit in half the budget.
    ordered = sorted(groups, key=lambda g: (not g.is_error, -g.rank, len(g.indexes)))
    summaries: list[dict[str, Any]] = []
    spent = 0
    omitted = 0
    for group in ordered:
        summary = _summary(group, entries)
        cost = estimate_tokens(summary) + 1
        if group.is_error or spent + cost <= budget // 2:
            summaries.append(summary)
            spent += cost
        else:
            omitted += 1

    kept: set[int] = set()
    for index in _line_priority(ordered):
        cost = estimate_tokens(entries[index]) + 1
        if spent + cost > budget:
            continue
        kept.add(index)
        spent += cost

    chosen = [entries[i] for i in sorted(kept)]
    result[entries_key] = chosen
    result["templates"] = summaries
    result["compaction"] = {
        "applied": True,
        "max_tokens": max_tokens,
        "original_tokens": original,
        "token_estimator": TOKEN_ESTIMATOR,
        "entries_total": len(entries),
        "entries_kept": len(chosen),
        "entries_collapsed": len(entries) - len(chosen),
        "templates": len(groups),
        "templates_listed": len(summaries),
        "templates_omitted": omitted,
        "error_templates": sum(1 for g in groups if g.is_error),
        "shared_labels": sorted(shared),
        "kept_lines": "one per error template, then rarest templates, then more errors",
    }
    final = estimate_tokens(result)
    result["compaction"]["estimated_tokens"] = final
    result["compaction"]["over_budget"] = final > max_tokens
    return result


def _lift_shared_labels(entries: list[dict[str, Any]]) -> dict[str, str]:
    first = entries[0].get("labels") or {}
    shared = dict(first)
    for entry in entries[1:]:
        labels = entry.get("labels") or {}
        for name in list(shared):
            if labels.get(name) != shared[name]:
                del shared[name]
        if not shared:
            break
    if shared:
        for entry in entries:
            labels = entry.get("labels") or {}
            entry["labels"] = {k: v for k, v in labels.items() if k not in shared}
    return shared


def _drop_field_echoes(entry: dict[str, Any]) -> None:
    fields = entry.get("fields")
    if not isinstance(fields, Mapping):
        return
    echoes = {entry.get("message"), entry.get("service"), entry.get("level")}
    entry["fields"] = {
        k: v
        for k, v in fields.items()
        if not (k in _FIELD_ECHOES and (k in ("ts", "timestamp") or v in echoes))
    }


def _group(entries: Sequence[Mapping[str, Any]], miner: TemplateMiner) -> list[_Group]:
    messages = [str(e.get("message", "")) for e in entries]
    groups: dict[str, _Group] = {}
    for index, (template_id, template) in enumerate(miner(messages)):
        group = groups.get(template_id)
        if group is None:
            group = groups[template_id] = _Group(template_id, template)
        group.indexes.append(index)
        entry = entries[index]
        level = str(entry.get("level", "info"))
        group.rank = max(group.rank, level_rank(level))
        group.levels.add(level)
        group.services.add(str(entry.get("service", "")))
    return list(groups.values())


def _summary(group: _Group, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    stamps = [str(entries[i].get("timestamp", "")) for i in group.indexes]
    exemplar = str(entries[group.indexes[0]].get("message", ""))
    if len(exemplar) > _EXEMPLAR_CHARS:
        exemplar = exemplar[:_EXEMPLAR_CHARS] + "…"
    return {
        "template_id": group.template_id,
        "template": group.template[:_EXEMPLAR_CHARS],
        "count": len(group.indexes),
        "first_seen": min(stamps),
        "last_seen": max(stamps),
        "levels": sorted(group.levels),
        "services": sorted(group.services),
        "exemplars": [exemplar],
    }


def _line_priority(ordered: Sequence[_Group]) -> Iterable[int]:
    """Line indexes, most informative first."""
    for group in ordered:  # one line per template: errors first, then rarest
        yield group.indexes[0]
    for group in ordered:  # then the other error lines, most severe templates first
        if not group.is_error:
            break
        yield from group.indexes[1:]


def fit_lists(answer: Mapping[str, Any], max_tokens: int, keys: Sequence[str]) -> dict[str, Any]:
    """Cut the named lists of an answer from their ends (least important last) to fit.

    Each list keeps at least one item; the `compaction` report says how many items
    of each list were dropped. Used for `/analyze` and `/correlate` shapes, whose
    lists are already ranked.
    """
    result = dict(answer)
    original = estimate_tokens(result)
    report: dict[str, Any] = {
        "max_tokens": max_tokens,
        "original_tokens": original,
        "token_estimator": TOKEN_ESTIMATOR,
    }
    if original <= max_tokens:
        result["compaction"] = {**report, "applied": False, "estimated_tokens": original}
        return result
    sizes = {
        key: [_json_bytes(item) + 1 for item in result[key]]
        for key in keys
        if isinstance(result.get(key), list)
    }
    kept = {key: len(items) for key, items in sizes.items()}
    excess = (original + _OVERHEAD_TOKENS - max_tokens) * BYTES_PER_TOKEN
    while excess > 0:
        candidates = [key for key in sizes if kept[key] > 1]
        if not candidates:
            break
        key = max(candidates, key=lambda k: sum(sizes[k][: kept[k]]))
        kept[key] -= 1
        excess -= sizes[key][kept[key]]
    for key, count in kept.items():
        result[key] = result[key][:count]
    report["applied"] = True
    report["dropped"] = {key: len(sizes[key]) - kept[key] for key in sizes}
    result["compaction"] = report
    final = estimate_tokens(result)
    report["estimated_tokens"] = final
    report["over_budget"] = final > max_tokens
    return result
