"""Pure analysis functions over GeoDataFrames and arrays: nearest, coverage, gaps, siting.

Nothing here reads files, environment variables or settings: callers pass ``radius_m=`` and the like explicitly.
"""

from __future__ import annotations

__all__: list[str] = []
