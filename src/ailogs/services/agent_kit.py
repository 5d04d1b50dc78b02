"""The collaborators of the agent-facing features, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from ailogs.analysis.redaction import Redactor
from ailogs.services.cursor import CursorCodec
from ailogs.services.guard import CostGuard


@dataclass
class AgentKit:
    """Cursor signing, the cost guard, redaction and export limits."""

    cursors: CursorCodec = field(default_factory=CursorCodec)
    guard: CostGuard = field(default_factory=CostGuard)
    redactor: Redactor = field(default_factory=Redactor)
    export_max_lines: int = 1_000_000
    export_page_size: int = 5000
    context_max_lines: int = 500
