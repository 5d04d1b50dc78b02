"""Every query, analyze and correlate call goes to `query_audit`: who asked what, at what cost.

Routes note what they ran (mode, LogQL, bytes Loki processed, lines returned);
the request middleware turns that, the caller and the outcome into one row once
the response is sent. Refusals (bad key, wrong workspace, rate limited) are
recorded by the door with their reason, so they are not recorded again here.
Rows are queued and written in batches (`services.audit.AuditRecorder`): a
request never waits for the audit table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ailogs.api.middleware import route_template
from ailogs.errors import ErrorCode
from ailogs.services.access import Principal
from ailogs.store.access import AuditEntry
from ailogs.store.enums import AuditOutcome

AUDITED_ROUTES = frozenset(f"/api/v1/ai_logs/{name}" for name in ("query", "analyze", "correlate"))
_REFUSED = frozenset({401, 403, 429})
_STATE_KEY = "audit"


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a route ran, for its audit row."""

    mode: str | None = None
    logql: str | None = None
    bytes_processed: int | None = None
    lines: int | None = None


def note_call(connection: HTTPConnection, facts: CallFacts) -> None:
    """Attach what this request ran to it; the middleware records it when it finishes."""
    connection.scope.setdefault("state", {})[_STATE_KEY] = facts


def audit_call(scope: Scope, status: int, elapsed_s: float) -> None:
    """Queue the audit row of a finished request on an audited route."""
    if scope["type"] != "http" or status in _REFUSED:
        return
    if route_template(scope) not in AUDITED_ROUTES:
        return
    runtime = getattr(scope["app"].state, "runtime", None)
    recorder = runtime.access.audit if runtime is not None and runtime.access else None
    if recorder is None:
        return
    state = scope.get("state", {})
    facts: CallFacts = state.get(_STATE_KEY) or CallFacts()
    principal = state.get("principal")
    error_code = state.get("error_code")
    recorder.record(
        AuditEntry(
            at_ns=time.time_ns(),
            path=scope["path"][:256],
            outcome=_outcome(status, error_code),
            reason=None if status < 400 else error_code or f"HTTP {status}",
            key_id=principal.key_id if isinstance(principal, Principal) else None,
            tenant=principal.tenant if isinstance(principal, Principal) else None,
            workspace_id=_workspace(scope),
            request_id=state.get("request_id"),
            mode=facts.mode,
            logql=facts.logql,
            bytes_processed=facts.bytes_processed,
            lines=facts.lines,
            latency_ms=round(elapsed_s * 1000, 3),
        )
    )


def _outcome(status: int, error_code: str | None) -> AuditOutcome:
    if status < 400:
        return AuditOutcome.OK
    if error_code == ErrorCode.QUERY_TOO_EXPENSIVE.value:
        return AuditOutcome.TOO_EXPENSIVE
    return AuditOutcome.ERROR


def _workspace(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"")
    if b"workspace_id=" not in raw:
        return None
    values = parse_qs(raw.decode("latin-1")).get("workspace_id")
    return values[0][:64] if values and values[0] else None
