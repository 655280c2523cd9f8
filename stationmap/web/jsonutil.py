"""Strict JSON responses: no NaN or infinity ever reaches a client, and Chinese stays readable."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Response

__all__ = ["dumps", "json_response"]


def _finite(value: Any) -> Any:
    """Replace non-finite floats with None, recursively (a defence behind the data's own cleaning)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(body: Any) -> str:
    """Serialise `body` as strict JSON (``allow_nan=False``), replacing any non-finite number with null."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(body: Any, *, status: int = 200, mimetype: str = "application/json") -> Response:
    """Return a Flask response holding strict JSON."""
    return Response(dumps(body), status=status, mimetype=mimetype)
