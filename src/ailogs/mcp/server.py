"""ailogs as MCP tools, over the same services as the HTTP API.

`build_mcp_server(runtime_of)` takes a function returning the process Runtime,
so one definition serves `ailogs mcp` (stdio; the server builds its own
runtime) and `/mcp` under the API (the app's runtime). Callers over HTTP are
admitted by the API's door first (`api.routes.mcp`), which leaves the admitted
principal in the ASGI scope; every tool reads it from its request and uses the
principal's Loki tenant. Over HTTP a call without an admitted principal is
refused; over stdio (no HTTP request) the configured tenant applies.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer

from ailogs.analysis.budget import compact_answer, fit_lists
from ailogs.api.agent_wiring import agent_of
from ailogs.api.runtime import Runtime
from ailogs.domain import Mode
from ailogs.errors import AilogsError, DatabaseUnavailable, Forbidden, Unauthorized
from ailogs.services.access import Principal
from ailogs.services.context import parse_stream, parse_timestamp_ns, read_context
from ailogs.services.query import QueryScope
from ailogs.services.query_pages import query_with_cursor
from ailogs.services.request_spec import QueryParams, build_spec

DEFAULT_TOOL_TOKENS = 4000
_Tool = TypeVar("_Tool", bound=Callable[..., Awaitable[dict[str, Any]]])

INSTRUCTIONS = """\
ailogs reads application logs stored in Grafana Loki, shaped for agents. Start
with `query_logs` (mode troubleshoot) or `analyze_logs` for a window, follow a
request across services with `correlate_request`, open the lines around a hit
with `get_context`, and read AI usage with `conversation_summary` and
`workspace_summary`. Answers are compacted to `max_tokens` (default 4000): lines
are collapsed into templates with counts, and every error template is kept.
Secrets in lines are masked. Times are RFC3339 or relative (`15m`, `1h`, `7d`).
"""


def _scope(runtime: Runtime, ctx: Context, workspace_id: str | None = None) -> QueryScope:
    request = ctx.request_context.request
    if request is None:  # stdio: the operator's own process, the configured tenant
        return runtime.query_scope()
    state = getattr(request, "scope", {}).get("state") or {}
    principal = state.get("principal")
    if not isinstance(principal, Principal):
        raise Unauthorized("MCP over HTTP needs an API key")
    if not principal.may_read(workspace_id):
        raise Forbidden("this key may only read its workspaces; pass workspace_id")
    return runtime.query_scope(principal.tenant)


def _error(exc: AilogsError) -> dict[str, Any]:
    return {
        "error": {"code": exc.code.value, "message": exc.message, "remediation": exc.how_to_fix}
    }


def _quiet_server() -> MCPServer:
    """An MCPServer that leaves logging alone.

    Built with no handler on the root logger, MCPServer installs its own (Rich, at
    INFO) for the whole process; an app built with `configure_logs=False` keeps
    whatever logging its host set up, so a placeholder handler stands in meanwhile.
    """
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        return MCPServer(name="ailogs", instructions=INSTRUCTIONS)
    finally:
        root.removeHandler(placeholder)


def build_mcp_server(runtime_of: Callable[[], Runtime]) -> MCPServer:
    """The MCP server with ailogs' tools; `runtime_of` returns the process runtime."""
    server = _quiet_server()

    def tool(function: _Tool) -> _Tool:
        # Docstrings are the descriptions a model reads: without code indentation.
        return server.tool(description=inspect.cleandoc(function.__doc__ or ""))(function)

    @tool
    async def query_logs(
        ctx: Context,
        mode: str = "troubleshoot",
        time_range: str = "1h",
        services: str | None = None,
        search: str | None = None,
        correlation_id: str | None = None,
        conversation_id: str | None = None,
        workspace_id: str | None = None,
        model: str | None = None,
        limit: int = 100,
        direction: str | None = None,
        max_tokens: int = DEFAULT_TOOL_TOKENS,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Log lines of a window, chosen by mode, newest first.

        Modes: troubleshoot (warnings, errors and known failure patterns - start here),
        errors (error and worse only), performance (lines with duration_ms, plus p50/p95/p99
        per service), audit (audit/config/auth events), conversation (one conversation_id in
        time order). `services` is a comma list; `search` is literal text. Returns entries
        {timestamp, service, level, message, labels, fields}, the LogQL that ran, stats and
        detected patterns. At most `limit` lines (<= 5000); when `stats.truncated`, pass
        `next_cursor` back as `cursor` with the same arguments for the next page. Over
        `max_tokens` the answer collapses lines into `templates` and says so in
        `compaction`. Refused with QUERY_TOO_EXPENSIVE when the window is too large: name
        services or shorten time_range as the error suggests.
        """
        runtime = runtime_of()
        try:
            agent = agent_of(runtime)
            params = QueryParams(
                time_range=time_range, services=services, search=search,
                correlation_id=correlation_id, conversation_id=conversation_id,
                workspace_id=workspace_id, model=model, limit=limit, direction=direction,
                max_tokens=max_tokens,
            )  # fmt: skip
            spec = build_spec(params, mode, runtime.spec_limits)
            scope = _scope(runtime, ctx, workspace_id)
            if cursor is None:
                await agent.guard.check(spec, loki=runtime.loki, scope=scope)
            page = await query_with_cursor(
                spec, cursor=cursor, codec=agent.cursors, loki=runtime.loki,
                cache=runtime.cache, scope=scope, redactor=agent.redactor,
                patterns=runtime.library, detect=runtime.detect_patterns,
            )  # fmt: skip
            return compact_answer(page.to_dict(), max_tokens)
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def analyze_logs(
        ctx: Context,
        time_range: str = "1h",
        services: str | None = None,
        search: str | None = None,
        workspace_id: str | None = None,
        baseline: str | None = None,
        max_tokens: int = DEFAULT_TOOL_TOKENS,
    ) -> dict[str, Any]:
        """What is wrong in a window: failure patterns, log templates and anomalies.

        Compares the window with a baseline (the window just before it, or `baseline`
        earlier, e.g. `1d`). Returns patterns {id, category, severity, count, services,
        examples, recommendation}, templates {template, count, services, status:
        new|known|spiking|vanished} and anomalies {kind, service, observed, baseline,
        score}. Use it for "what changed / what is broken" before reading lines; use
        query_logs for the lines themselves. Lists are cut to `max_tokens`, most
        important first.
        """
        runtime = runtime_of()
        try:
            from ailogs.services.analysis import analyze_window
            from ailogs.services.request_spec import baseline_window

            spec = build_spec(
                QueryParams(time_range=time_range, services=services, search=search,
                            workspace_id=workspace_id),
                Mode.ERRORS, runtime.spec_limits,
            )  # fmt: skip
            window = baseline_window(spec.window, shift=baseline, start=None, end=None)
            answer = await analyze_window(
                spec, loki=runtime.loki, scope=_scope(runtime, ctx, workspace_id),
                library=runtime.library, baseline=window, redactor=agent_of(runtime).redactor,
            )  # fmt: skip
            return fit_lists(answer, max_tokens, ("templates", "patterns", "anomalies"))
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def correlate_request(
        ctx: Context,
        correlation_id: str | None = None,
        time_range: str = "1h",
        services: str | None = None,
        workspace_id: str | None = None,
        max_tokens: int = DEFAULT_TOOL_TOKENS,
    ) -> dict[str, Any]:
        """Follow one request (correlation_id) across services, or rank suspects for a window.

        Returns the service graph (nodes with events, errors, p95; edges caller -> callee),
        the origin of the failure, how it propagated, ranked root-cause suspects with
        evidence, bottlenecks and recommendations. Without correlation_id it covers every
        request in the window against the previous window. Use after query_logs or
        analyze_logs found errors that carry a correlation_id.
        """
        runtime = runtime_of()
        try:
            from ailogs.services.analysis import correlate
            from ailogs.services.request_spec import baseline_window

            spec = build_spec(
                QueryParams(time_range=time_range, services=services,
                            correlation_id=correlation_id, workspace_id=workspace_id),
                Mode.ERRORS, runtime.spec_limits,
            )  # fmt: skip
            window = baseline_window(spec.window, shift=None, start=None, end=None)
            answer = await correlate(
                spec, loki=runtime.loki, scope=_scope(runtime, ctx, workspace_id),
                library=runtime.library, baseline=window, redactor=agent_of(runtime).redactor,
            )  # fmt: skip
            return fit_lists(answer, max_tokens, ("suspects", "bottlenecks", "recommendations"))
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def get_context(
        ctx: Context, stream: str, timestamp: str, before: int = 20, after: int = 20
    ) -> dict[str, Any]:
        """The lines just before and after one log line on its exact stream (like grep -C).

        `stream` is the entry's `labels` object (as JSON) or a selector like
        {service_name="api", level="error"}; `timestamp` is the entry's timestamp, exactly
        as returned. Returns `before`, `at` (lines at that exact nanosecond) and `after`,
        oldest first; at most 500 each side. Use it to see what led up to an error line.
        """
        runtime = runtime_of()
        try:
            agent = agent_of(runtime)
            limit = agent.context_max_lines
            return await read_context(
                parse_stream(stream), parse_timestamp_ns(timestamp),
                before=max(0, min(before, limit)), after=max(0, min(after, limit)),
                loki=runtime.loki, scope=_scope(runtime, ctx), redactor=agent.redactor,
            )  # fmt: skip
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def conversation_summary(ctx: Context, conversation_id: str) -> dict[str, Any]:
        """One AI conversation: operations, models, input/output tokens, cost, errors, timeline.

        Reads the operations store (filled from `event=ai.operation` lines), not raw logs.
        Use query_logs with mode=conversation for the conversation's log lines.
        """
        runtime = runtime_of()
        try:
            from ailogs.services.operations import conversation_detail
            from ailogs.store.repositories import ConversationRepository

            _scope(runtime, ctx)
            if runtime.database is None:
                raise DatabaseUnavailable("the operations store is not configured")
            async with runtime.database.session() as session:
                return await conversation_detail(
                    conversation_id, conversations=ConversationRepository.from_session(session)
                )
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def workspace_summary(
        ctx: Context, workspace_id: str, time_range: str = "24h"
    ) -> dict[str, Any]:
        """AI usage of a workspace per model: requests, tokens, cost, errors, p50/p95, trend.

        Reads the operations store. `time_range` like 24h, 7d, 30d. Use it for "what does
        this workspace spend and how reliable is it", not for individual lines.
        """
        runtime = runtime_of()
        try:
            from ailogs.services.operations import resolve_window
            from ailogs.services.operations import workspace_summary as summarize
            from ailogs.store.repositories import UsageRepository

            _scope(runtime, ctx, workspace_id)
            if runtime.database is None:
                raise DatabaseUnavailable("the operations store is not configured")
            window = resolve_window(time_range, None, None, now_ns=time.time_ns(), default="24h")
            async with runtime.database.session() as session:
                return await summarize(
                    workspace_id, window, usage=UsageRepository.from_session(session)
                )
        except AilogsError as exc:
            return _error(exc)

    @tool
    async def list_patterns(
        ctx: Context,
    ) -> dict[str, Any]:
        """The failure-pattern library: id, category, severity, description, recommendation.

        Ids (e.g. ai.rate_limit, connectivity.timeout) are what analyze_logs and
        query_logs report in `patterns`. Cheap; no log is read.
        """
        runtime = runtime_of()
        from ailogs.services.analysis import pattern_catalogue

        try:
            _scope(runtime, ctx)
        except AilogsError as exc:
            return _error(exc)

        return {"patterns": pattern_catalogue(runtime.library)}

    return server
