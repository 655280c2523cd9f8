"""The web face: a Flask application factory serving the worker's map page and the JSON API.

Flask lives only in this package. `create_app` loads the stations once and keeps them in
``app.extensions["stationmap"]``; requests do no file I/O.
"""

from __future__ import annotations

from stationmap.web.app import create_app

__all__ = ["create_app"]
