"""The live-stream protocol's vocabulary (DESIGN.md §5): frame types and their encoding."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

import orjson


class ClientFrame(StrEnum):
    """Frames a client sends."""

    SUBSCRIBE = "subscribe"
    UPDATE_FILTER = "update_filter"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"


class ServerFrame(StrEnum):
    """Frames the server sends."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    LOG = "log"
    ALERT = "alert"
    METRICS = "metrics"
    DROPPED = "dropped"
    ERROR = "error"
    PONG = "pong"


class DropSource(StrEnum):
    """Who lost the lines a `dropped` frame counts."""

    SLOW_CONSUMER = "slow_consumer"
    LOKI = "loki"


class CloseReason(StrEnum):
    """Why the server ends a stream session."""

    SHUTTING_DOWN = "shutting_down"
    SLOW_CONSUMER = "slow_consumer"
    POLICY = "policy"


class CloseCode(IntEnum):
    """WebSocket close codes the endpoint uses (RFC 6455 §7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


CLOSE_CODES: dict[CloseReason, CloseCode] = {
    CloseReason.SHUTTING_DOWN: CloseCode.GOING_AWAY,
    CloseReason.SLOW_CONSUMER: CloseCode.POLICY_VIOLATION,
    CloseReason.POLICY: CloseCode.POLICY_VIOLATION,
}


def encode(kind: ServerFrame, **fields: Any) -> str:
    """One server frame as JSON text: `{"type": kind, **fields}`."""
    return orjson.dumps({"type": kind.value, **fields}).decode()


def error_frame(code: str, message: str, remediation: str | None = None, **extra: Any) -> str:
    """An `error` frame with a stable code (the codes of `errors.ErrorCode`)."""
    fields: dict[str, Any] = {"code": code, "message": message}
    if remediation:
        fields["remediation"] = remediation
    fields.update(extra)
    return encode(ServerFrame.ERROR, **fields)
