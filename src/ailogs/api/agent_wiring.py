"""Wiring of the agent features (cursors, guard, redaction, export limits) into the runtime."""

from __future__ import annotations

import logging

from ailogs.analysis.redaction import Redactor, parse_classes
from ailogs.api.runtime import Runtime
from ailogs.domain import parse_duration_ns
from ailogs.errors import SettingsError
from ailogs.services.agent_kit import AgentKit
from ailogs.services.cursor import CursorCodec
from ailogs.services.guard import CostGuard

log = logging.getLogger(__name__)


def install_agent(runtime: Runtime) -> AgentKit:
    """Build the AgentKit from settings and attach it to the runtime."""
    settings = runtime.settings
    agent = settings.agent
    try:
        classes = parse_classes(agent.redact)
    except ValueError as exc:
        raise SettingsError(f"invalid setting AILOGS_AGENT_REDACT: {exc}") from None
    secret = settings.cursor_secret.get_secret_value().encode() if settings.cursor_secret else None
    if secret is None:
        log.warning(
            "AILOGS_CURSOR_SECRET is not set: cursors are signed with a random per-process "
            "secret and stop working after a restart or on another replica"
        )
    kit = AgentKit(
        cursors=CursorCodec(secret),
        guard=CostGuard(
            budget_bytes=agent.query_budget_bytes,
            allow_all_services=agent.allow_all_services,
            ttl_s=agent.estimate_ttl_s,
            free_window_ns=parse_duration_ns(agent.guard_free_window),
        ),
        redactor=Redactor(classes),
        export_max_lines=agent.export_max_lines,
        export_page_size=agent.export_page_size,
        context_max_lines=agent.context_max_lines,
    )
    runtime.agent = kit
    return kit


def agent_of(runtime: Runtime) -> AgentKit:
    """The runtime's AgentKit (built on first use when the app did not install it)."""
    return runtime.agent if runtime.agent is not None else install_agent(runtime)
