"""GET /analyze, /correlate and /patterns: what is wrong, where it started, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ailogs.analysis.budget import fit_lists
from ailogs.api.agent_wiring import agent_of
from ailogs.api.audit_trail import CallFacts, note_call
from ailogs.api.deps import RuntimeDep, ScopeDep
from ailogs.api.responses import JSONAnswer
from ailogs.domain import Mode, QuerySpec, TimeWindow
from ailogs.services.analysis import analyze_window, correlate, pattern_catalogue
from ailogs.services.request_spec import QueryParams, baseline_window, build_spec

router = APIRouter(tags=["analysis"])

BaselineShift = Annotated[
    str | None,
    Query(max_length=32, description="Compare with the same window this much earlier (1d)."),
]
BaselineStart = Annotated[str | None, Query(max_length=64, description="Explicit baseline start.")]
BaselineEnd = Annotated[str | None, Query(max_length=64, description="Explicit baseline end.")]


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """A validated analysis request: the window's spec, its baseline, the token budget."""

    spec: QuerySpec
    baseline: TimeWindow
    max_tokens: int | None


def analysis_request(
    runtime: RuntimeDep,
    params: Annotated[QueryParams, Query()],
    baseline: BaselineShift = None,
    baseline_start: BaselineStart = None,
    baseline_end: BaselineEnd = None,
) -> AnalysisRequest:
    """Parse the common parameters and the baseline of /analyze and /correlate."""
    # Analysis reads every line of the window; the mode only fixes validation rules.
    spec = build_spec(params, Mode.ERRORS, runtime.spec_limits)
    window = baseline_window(spec.window, shift=baseline, start=baseline_start, end=baseline_end)
    return AnalysisRequest(spec, window, params.max_tokens)


AnalysisDep = Annotated[AnalysisRequest, Depends(analysis_request)]


def _fit(
    connection: Request,
    answer: dict[str, Any],
    request: AnalysisRequest,
    ranked: tuple[str, ...],
) -> Response:
    stats = answer.get("stats") or {}
    note_call(connection, CallFacts(logql=answer.get("logql"), lines=stats.get("lines")))
    if request.max_tokens is not None:
        # The lists are ranked most important first: cut from their ends to fit.
        answer = fit_lists(answer, request.max_tokens, ranked)
    return JSONAnswer(answer)


@router.get("/analyze", response_class=JSONAnswer)
async def analyze(
    connection: Request, runtime: RuntimeDep, scope: ScopeDep, request: AnalysisDep
) -> Response:
    """Patterns, templates (new, known, spiking, vanished) and anomalies against a baseline."""
    answer = await analyze_window(
        request.spec,
        loki=runtime.loki,
        scope=scope,
        library=runtime.library,
        baseline=request.baseline,
        redactor=agent_of(runtime).redactor,
    )
    return _fit(connection, answer, request, ("templates", "patterns", "anomalies"))


@router.get("/correlate", response_class=JSONAnswer)
async def correlate_services(
    connection: Request, runtime: RuntimeDep, scope: ScopeDep, request: AnalysisDep
) -> Response:
    """The service graph of one `correlation_id`, or of the whole window with ranked suspects."""
    answer = await correlate(
        request.spec,
        loki=runtime.loki,
        scope=scope,
        library=runtime.library,
        baseline=request.baseline,
        redactor=agent_of(runtime).redactor,
    )
    return _fit(connection, answer, request, ("suspects", "bottlenecks", "recommendations"))


@router.get("/patterns", response_class=JSONAnswer)
async def list_patterns(runtime: RuntimeDep) -> Response:
    """The pattern library: every id with its category, severity and recommendation."""
    return JSONAnswer({"patterns": pattern_catalogue(runtime.library)})
