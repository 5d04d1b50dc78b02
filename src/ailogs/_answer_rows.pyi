from collections.abc import Callable, Mapping
from typing import Any

def json_rows(
    values: list[Any],
    labels: Mapping[str, str],
    shown_labels: Any,
    service_label: str | None,
    level_label: str | None,
    fragment: Callable[[str], Any],
) -> tuple[list[Any], list[int]]: ...
def json_object(line: str) -> bool: ...
