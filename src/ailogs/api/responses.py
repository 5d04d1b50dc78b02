"""Fast JSON responses: answers are serialized once, with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONAnswer(Response):
    """A JSON response rendered by orjson (non-str keys and datetimes allowed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialize the content."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS, default=str)
