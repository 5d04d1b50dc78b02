"""Fast JSON responses: answers are serialized once, with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONAnswer(Response):
    """A JSON response rendered by orjson (non-str keys and datetimes allowed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialize the content.

        Answers are plain JSON types almost always; the lenient options (non-str
        keys, `str()` of unknown objects) make orjson markedly slower on large
        answers, so they are only the fallback.
        """
        try:
            return orjson.dumps(content)
        except TypeError:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS, default=str)
