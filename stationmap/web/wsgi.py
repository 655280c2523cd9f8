"""The WSGI entry point for gunicorn and other servers: ``gunicorn -c deploy/gunicorn.conf.py stationmap.web.wsgi:app``.

This is the edge where the settings are read: importing the module builds `app` from ``Settings.from_env()``
(``STATIONMAP_*`` variables; ``STATIONMAP_PROXY_HOPS=1`` behind nginx), once per worker process.
"""

from __future__ import annotations

from stationmap.config import Settings
from stationmap.web.app import create_app

__all__ = ["app"]

app = create_app(Settings.from_env())
