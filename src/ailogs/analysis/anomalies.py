"""Anomalies: what changed in a window compared with a baseline window.

Rates are normalised by window length, so a 5-minute incident can be compared
with an hour of history. Every score is z-like (see `scoring`), so anomalies of
different kinds sort on one scale, and a minimum-sample guard keeps a handful of
lines from shouting.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ailogs.analysis.scoring import (
    PRIOR_COUNT,
    binomial_score,
    exceedance_score,
    poisson_score,
    quantile,
    rounded,
)
from ailogs.domain import LogRecord, TimeWindow, is_error_level


class AnomalyKind(StrEnum):
    """The kinds of change the detector reports."""

    ERROR_RATE_SPIKE = "error_rate_spike"
    VOLUME_SPIKE = "volume_spike"
    VOLUME_DROP = "volume_drop"
    LATENCY_SHIFT = "latency_shift"
    NEW_TEMPLATE = "new_template"
    VANISHED_TEMPLATE = "vanished_template"
    SPIKING_TEMPLATE = "spiking_template"


class TemplateStatus(StrEnum):
    """How a template's frequency compares with the baseline."""

    NEW = "new"
    KNOWN = "known"
    SPIKING = "spiking"
    VANISHED = "vanished"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One change between the baseline and the current window."""

    kind: AnomalyKind
    service: str
    observed: float
    baseline: float
    score: float
    window: TimeWindow
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The anomaly shape of DESIGN.md §4 (plus a short human detail)."""
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "service": self.service,
            "observed": self.observed,
            "baseline": self.baseline,
            "score": self.score,
            "window": self.window.as_dict(),
        }
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class TemplateStat:
    """A mined template with its count in the current window and its status."""

    template: str
    count: int
    services: tuple[str, ...]
    status: TemplateStatus
    template_id: str = ""
    baseline_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The template shape of DESIGN.md §4."""
        return {
            "template": self.template,
            "count": self.count,
            "services": list(self.services),
            "status": self.status.value,
        }


class TemplateMatchLike(Protocol):
    """What a template miner returns for one line."""

    @property
    def template_id(self) -> str: ...

    @property
    def template(self) -> str: ...


class TemplateMinerLike(Protocol):
    """The part of `templates.TemplateMiner` the detector needs."""

    def add(self, line: str) -> TemplateMatchLike: ...

    def match(self, line: str) -> TemplateMatchLike | None: ...


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    """Tunables. `min_samples` is the guard: below it nothing is reported."""

    min_samples: int = 5
    min_score: float = 3.0
    min_ratio: float = 1.5
    latency_field: str = "duration_ms"


def _default_miner() -> TemplateMinerLike:
    from ailogs.analysis.templates import TemplateMiner

    miner: TemplateMinerLike = TemplateMiner()
    return miner


def detect_anomalies(
    current: Sequence[LogRecord],
    baseline: Sequence[LogRecord],
    *,
    current_window: TimeWindow,
    baseline_window: TimeWindow,
    settings: AnomalySettings | None = None,
    template_stats: Sequence[TemplateStat] | None = None,
    miner_factory: Callable[[], TemplateMinerLike] | None = None,
) -> list[Anomaly]:
    """Error-rate, volume, latency and template anomalies, most surprising first.

    Pass `template_stats` when templates were already mined (the engine does);
    otherwise they are mined here with a fresh miner.
    """
    cfg = settings or AnomalySettings()
    if template_stats is None:
        template_stats = template_statuses(
            current,
            baseline,
            current_window=current_window,
            baseline_window=baseline_window,
            settings=cfg,
            miner_factory=miner_factory,
        )
    scale = current_window.duration_s / baseline_window.duration_s
    found = [
        *_service_anomalies(current, baseline, current_window, scale, cfg),
        *_template_anomalies(template_stats, current_window, scale, cfg),
    ]
    found.sort(key=lambda a: (-a.score, a.kind.value, a.service, a.detail))
    return found


def template_statuses(
    current: Sequence[LogRecord],
    baseline: Sequence[LogRecord],
    *,
    current_window: TimeWindow,
    baseline_window: TimeWindow,
    settings: AnomalySettings | None = None,
    miner_factory: Callable[[], TemplateMinerLike] | None = None,
) -> list[TemplateStat]:
    """Mine both windows with one miner and label each template new/known/spiking/vanished."""
    cfg = settings or AnomalySettings()
    miner = (miner_factory or _default_miner)()
    scale = current_window.duration_s / baseline_window.duration_s
    base_counts: Counter[str] = Counter()
    cur_counts: Counter[str] = Counter()
    services: defaultdict[str, Counter[str]] = defaultdict(Counter)
    texts: dict[str, str] = {}
    for records, counts in ((baseline, base_counts), (current, cur_counts)):
        for record in records:
            match = miner.add(record.message)
            counts[match.template_id] += 1
            services[match.template_id][record.service] += 1
            texts[match.template_id] = match.template
    # A Drain-style miner generalises a template as lines arrive, which changes its
    # id; fold each id seen on the way into the template it finally became.
    final: dict[str, tuple[str, str]] = {}
    for template_id, text in texts.items():
        latest = miner.match(text)
        if latest is None:
            final[template_id] = (template_id, text)
        else:
            final[template_id] = (latest.template_id, latest.template)
    merged_base: Counter[str] = Counter()
    merged_cur: Counter[str] = Counter()
    merged_services: defaultdict[str, Counter[str]] = defaultdict(Counter)
    merged_text: dict[str, str] = {}
    for template_id, (final_id, text) in final.items():
        merged_base[final_id] += base_counts.get(template_id, 0)
        merged_cur[final_id] += cur_counts.get(template_id, 0)
        merged_services[final_id].update(services[template_id])
        merged_text[final_id] = text
    stats = []
    for template_id in sorted(merged_text):
        cur = merged_cur[template_id]
        base = merged_base[template_id]
        status = _template_status(cur, base, scale, cfg)
        top = tuple(name for name, _ in merged_services[template_id].most_common())
        stats.append(
            TemplateStat(
                template=merged_text[template_id],
                count=cur,
                services=top,
                status=status,
                template_id=template_id,
                baseline_count=base,
            )
        )
    order = {TemplateStatus.NEW: 0, TemplateStatus.SPIKING: 1, TemplateStatus.VANISHED: 2}
    stats.sort(key=lambda s: (order.get(s.status, 3), -s.count, -s.baseline_count, s.template_id))
    return stats


def _template_status(cur: int, base: int, scale: float, cfg: AnomalySettings) -> TemplateStatus:
    expected = base * scale
    if base == 0 and cur > 0:
        return TemplateStatus.NEW
    if cur == 0 and base > 0:
        return TemplateStatus.VANISHED
    if (
        cur >= cfg.min_samples
        and cur >= cfg.min_ratio * (expected + PRIOR_COUNT)
        and poisson_score(cur, expected + PRIOR_COUNT * scale) >= cfg.min_score
    ):
        return TemplateStatus.SPIKING
    return TemplateStatus.KNOWN


def _template_anomalies(
    stats: Iterable[TemplateStat], window: TimeWindow, scale: float, cfg: AnomalySettings
) -> Iterable[Anomaly]:
    kinds = {
        TemplateStatus.NEW: AnomalyKind.NEW_TEMPLATE,
        TemplateStatus.SPIKING: AnomalyKind.SPIKING_TEMPLATE,
        TemplateStatus.VANISHED: AnomalyKind.VANISHED_TEMPLATE,
    }
    for stat in stats:
        kind = kinds.get(stat.status)
        if kind is None:
            continue
        expected = stat.baseline_count * scale
        if max(stat.count, expected) < cfg.min_samples:
            continue
        score = abs(poisson_score(stat.count, expected + PRIOR_COUNT * scale))
        if score < cfg.min_score:
            continue
        yield Anomaly(
            kind=kind,
            service=stat.services[0] if stat.services else "unknown",
            observed=float(stat.count),
            baseline=rounded(expected),
            score=rounded(score),
            window=window,
            detail=stat.template[:200],
        )


@dataclass(slots=True)
class _ServiceTally:
    lines: int = 0
    errors: int = 0
    durations: list[float] | None = None


def _tally(records: Iterable[LogRecord], latency_field: str) -> dict[str, _ServiceTally]:
    tallies: dict[str, _ServiceTally] = {}
    # A window has a handful of level spellings: decide each once, not once per line.
    error_levels: dict[str, bool] = {}
    for record in records:
        tally = tallies.get(record.service)
        if tally is None:
            tally = tallies[record.service] = _ServiceTally(durations=[])
        tally.lines += 1
        level = record.level
        is_error = error_levels.get(level)
        if is_error is None:
            is_error = error_levels[level] = is_error_level(level)
        if is_error:
            tally.errors += 1
        raw = record.fields.get(latency_field)
        if raw is not None and tally.durations is not None:
            kind = type(raw)
            value = (
                float(raw) if kind is float or kind is int else record.field_float(latency_field)
            )
            if value is not None:
                tally.durations.append(value)
    return tallies


def _service_anomalies(
    current: Sequence[LogRecord],
    baseline: Sequence[LogRecord],
    window: TimeWindow,
    scale: float,
    cfg: AnomalySettings,
) -> Iterable[Anomaly]:
    cur = _tally(current, cfg.latency_field)
    base = _tally(baseline, cfg.latency_field)
    for service in sorted(set(cur) | set(base)):
        now = cur.get(service, _ServiceTally(durations=[]))
        before = base.get(service, _ServiceTally(durations=[]))
        yield from _volume(service, now, before, window, scale, cfg)
        yield from _error_rate(service, now, before, window, cfg)
        yield from _latency(service, now, before, window, cfg)


def _volume(
    service: str,
    now: _ServiceTally,
    before: _ServiceTally,
    window: TimeWindow,
    scale: float,
    cfg: AnomalySettings,
) -> Iterable[Anomaly]:
    expected = before.lines * scale
    if max(now.lines, expected) < cfg.min_samples:
        return
    score = poisson_score(now.lines, expected + PRIOR_COUNT * scale)
    rate_now = now.lines / window.duration_s
    rate_before = expected / window.duration_s
    if score >= cfg.min_score and now.lines >= cfg.min_ratio * (expected + PRIOR_COUNT):
        kind = AnomalyKind.VOLUME_SPIKE
    elif score <= -cfg.min_score and now.lines * cfg.min_ratio <= expected:
        kind = AnomalyKind.VOLUME_DROP
    else:
        return
    yield Anomaly(
        kind=kind,
        service=service,
        observed=rounded(rate_now),
        baseline=rounded(rate_before),
        score=rounded(abs(score)),
        window=window,
        detail="lines per second",
    )


def _error_rate(
    service: str,
    now: _ServiceTally,
    before: _ServiceTally,
    window: TimeWindow,
    cfg: AnomalySettings,
) -> Iterable[Anomaly]:
    if now.errors < cfg.min_samples:
        return
    # A Beta(1, 1)-style prior keeps a clean baseline from making the rate infinite.
    base_rate = (before.errors + PRIOR_COUNT) / (before.lines + 2 * PRIOR_COUNT)
    rate = now.errors / now.lines
    score = binomial_score(now.errors, now.lines, base_rate)
    if score < cfg.min_score or rate < cfg.min_ratio * base_rate:
        return
    yield Anomaly(
        kind=AnomalyKind.ERROR_RATE_SPIKE,
        service=service,
        observed=rounded(rate),
        baseline=rounded(before.errors / before.lines if before.lines else 0.0),
        score=rounded(score),
        window=window,
        detail="share of lines at error level or worse",
    )


def _latency(
    service: str,
    now: _ServiceTally,
    before: _ServiceTally,
    window: TimeWindow,
    cfg: AnomalySettings,
) -> Iterable[Anomaly]:
    cur = now.durations or []
    old = before.durations or []
    if len(cur) < cfg.min_samples or len(old) < cfg.min_samples:
        return
    p95_now = quantile(cur, 0.95)
    p95_before = quantile(old, 0.95)
    score = exceedance_score(cur, p95_before)
    if score < cfg.min_score or p95_now < cfg.min_ratio * p95_before:
        return
    yield Anomaly(
        kind=AnomalyKind.LATENCY_SHIFT,
        service=service,
        observed=rounded(p95_now),
        baseline=rounded(p95_before),
        score=rounded(score),
        window=window,
        detail=f"p95 of {cfg.latency_field}",
    )
