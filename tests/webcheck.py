"""Response checks shared by the web test modules: strict JSON and the one error shape."""

from __future__ import annotations

import json


def strict_json(response):
    """Parse a response, refusing NaN/Infinity as a strict JSON client would."""
    def _reject(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(response.get_data(as_text=True), parse_constant=_reject)


def assert_error(response, status, *fragments):
    """Check the JSON error shape ``{"ok": false, "error": msg, "status": n}`` and that `msg` names `fragments`."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = strict_json(response)
    assert set(body) == {"ok", "error", "status"}
    assert body["ok"] is False and body["status"] == status
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    assert "Traceback" not in body["error"]
    return body


def ok_json(response, mimetype="application/json"):
    """Assert a 200 answer of `mimetype` and return its strictly parsed JSON body."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == mimetype
    return strict_json(response)
