"""GET /analyze, /correlate and /patterns: what is wrong, where it started, what to do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ailogs.analysis.budget import fit_lists
from ailogs.api.deps import RuntimeDep, ScopeDep
from ailogs.api.responses import JSONAnswer
from ailogs.api.runtime import Runtime
from ailogs.domain import Mode, QuerySpec
from ailogs.services.analysis import analyze_window, correlate, pattern_catalogue
from ailogs.services.request_spec import QueryParams, baseline_window, build_spec

router = APIRouter(tags=["analysis"])

BaselineShift = Annotated[
    str | None,
    Query(max_length=32, description="Compare with the same window this much earlier (1d)."),
]
BaselineStart = Annotated[str | None, Query(max_length=64, description="Explicit baseline start.")]
BaselineEnd = Annotated[str | None, Query(max_length=64, description="Explicit baseline end.")]


def _spec(runtime: Runtime, params: QueryParams) -> QuerySpec:
    # Analysis reads every line of the window; the mode only fixes validation rules.
    return build_spec(params, Mode.ERRORS, runtime.spec_limits)


@router.get("/analyze", response_class=JSONAnswer)
async def analyze(
    runtime: RuntimeDep,
    scope: ScopeDep,
    params: Annotated[QueryParams, Query()],
    baseline: BaselineShift = None,
    baseline_start: BaselineStart = None,
    baseline_end: BaselineEnd = None,
) -> Response:
    """Patterns, templates (new, known, spiking, vanished) and anomalies against a baseline."""
    spec = _spec(runtime, params)
    window = baseline_window(spec.window, shift=baseline, start=baseline_start, end=baseline_end)
    answer = await analyze_window(
        spec, loki=runtime.loki, scope=scope, library=runtime.library, baseline=window
    )
    if params.max_tokens is not None:
        # The lists are ranked most important first: cut from their ends to fit.
        answer = fit_lists(answer, params.max_tokens, ("templates", "patterns", "anomalies"))
    return JSONAnswer(answer)


@router.get("/correlate", response_class=JSONAnswer)
async def correlate_services(
    runtime: RuntimeDep,
    scope: ScopeDep,
    params: Annotated[QueryParams, Query()],
    baseline: BaselineShift = None,
    baseline_start: BaselineStart = None,
    baseline_end: BaselineEnd = None,
) -> Response:
    """The service graph of one `correlation_id`, or of the whole window with ranked suspects."""
    spec = _spec(runtime, params)
    window = baseline_window(spec.window, shift=baseline, start=baseline_start, end=baseline_end)
    answer = await correlate(
        spec, loki=runtime.loki, scope=scope, library=runtime.library, baseline=window
    )
    if params.max_tokens is not None:
        answer = fit_lists(
            answer, params.max_tokens, ("suspects", "bottlenecks", "recommendations")
        )
    return JSONAnswer(answer)


@router.get("/patterns", response_class=JSONAnswer)
async def list_patterns(runtime: RuntimeDep) -> Response:
    """The pattern library: every id with its category, severity and recommendation."""
    return JSONAnswer({"patterns": pattern_catalogue(runtime.library)})
