"""Headline figures of a station set, as a union bulletin prints them: counts by kind and star, honours, amenities."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stationmap.schema import AMENITIES, HONOUR_LEVELS, KINDS

__all__ = ["Inventory", "station_inventory"]

_ALWAYS_OPEN = {"24/7", "Mo-Su 00:00-24:00", "00:00-24:00"}


@dataclass(frozen=True)
class Inventory:
    """
    Headline counts of a station set.

    Attributes
    ----------
    n_stations
        All stations in the set, whatever their status.
    n_open
        Stations whose status is ``open`` (not temporarily or permanently closed).
    by_kind
        Station count per kind key (``outdoor_worker_station``, ``driver_home``, ``worker_home``).
    by_stars
        Station count per recorded star level 0-5 (0 = not yet rated), always six entries.
    honours
        One entry per honour: ``{"station_id", "station", "level", "title", "year"}``, national first, then by year.
    honours_by_level
        Honour count per level key (``national``, ``provincial``, ``city``).
    n_always_open
        Stations open 24 hours, 7 days (``opening_hours`` ``24/7``).
    visits
        Sum of recorded ``visits``, or None where no station records them.
    n_with_visits
        Stations that record ``visits``.
    amenities
        Station count per amenity key, in vocabulary order (zero counts included).
    toilet
        Station count per toilet value (``onsite``, ``nearby``, ``none``, ``unknown``).
    """

    n_stations: int
    n_open: int
    by_kind: dict[str, int]
    by_stars: dict[int, int]
    honours: tuple[dict[str, Any], ...]
    honours_by_level: dict[str, int]
    n_always_open: int
    visits: int | None
    n_with_visits: int
    amenities: dict[str, int]
    toilet: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the inventory as JSON-safe plain data (star levels as string keys)."""
        return {
            "n_stations": self.n_stations, "n_open": self.n_open, "by_kind": dict(self.by_kind),
            "by_stars": {str(k): v for k, v in self.by_stars.items()}, "honours": [dict(h) for h in self.honours],
            "honours_by_level": dict(self.honours_by_level), "n_always_open": self.n_always_open,
            "visits": self.visits, "n_with_visits": self.n_with_visits, "amenities": dict(self.amenities),
            "toilet": dict(self.toilet),
        }


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value))


def station_inventory(stations: pd.DataFrame) -> Inventory:
    """
    Count what a bulletin reports about a station set.

    Parameters
    ----------
    stations
        Stations as `stationmap.stations.load_stations` returns them (any CRS; geometry is not used).

    Returns
    -------
    inventory
        Counts by kind, star level, honour, amenity and toilet, 24-hour stations and recorded visits.

    An empty set gives zero counts: a district with no station is a finding, not an error.
    """
    kinds = Counter(k if _present(k) else "outdoor_worker_station" for k in stations["kind"])
    stars = Counter(int(s) if _present(s) else 0 for s in stations["stars"])
    honours = []
    for sid, name, items in zip(stations["id"], stations["name"], stations["honours"], strict=True):
        for h in items or []:
            honours.append({"station_id": sid, "station": name, "level": h["level"], "title": h["title"],
                            "year": int(h["year"])})
    level_rank = {key: i for i, key in enumerate(HONOUR_LEVELS.keys)}
    honours.sort(key=lambda h: (level_rank.get(h["level"], 9), -h["year"], h["station_id"]))
    amenity_counts = Counter(a for items in stations["amenities"] for a in (items or []))
    visits = [int(v) for v in stations.get("visits", pd.Series(dtype=object)) if _present(v)]
    status = stations["status"] if "status" in stations else pd.Series(["open"] * len(stations))
    toilet = Counter(t if _present(t) else "unknown" for t in stations.get("toilet", [None] * len(stations)))
    return Inventory(
        n_stations=len(stations),
        n_open=int(sum(1 for s in status if s in (None, "open"))),
        by_kind={k: kinds.get(k, 0) for k in KINDS.keys},
        by_stars={level: stars.get(level, 0) for level in range(6)},
        honours=tuple(honours),
        honours_by_level={k: sum(1 for h in honours if h["level"] == k) for k in HONOUR_LEVELS.keys},
        n_always_open=int(sum(1 for oh in stations["opening_hours"] if _present(oh) and str(oh).strip() in _ALWAYS_OPEN)),
        visits=sum(visits) if visits else None,
        n_with_visits=len(visits),
        amenities={k: amenity_counts.get(k, 0) for k in AMENITIES.keys},
        toilet={k: toilet.get(k, 0) for k in ("onsite", "nearby", "none", "unknown")},
    )
