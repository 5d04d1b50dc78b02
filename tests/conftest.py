"""Shared fixtures: recorded Loki answers, services that must exist under CI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "loki"
IN_CI = os.environ.get("CI", "").lower() == "true"


def loki_fixture(name: str) -> dict[str, Any]:
    """One recorded Loki exchange: request, status, content_type, body."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def require_service(available: bool, what: str) -> None:
    """Fail under CI, skip locally, when a real service the test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable")
    pytest.skip(f"{what} is not reachable (allowed outside CI only)")
