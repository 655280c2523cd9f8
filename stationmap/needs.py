"""What each group of outdoor workers needs from a station, how they travel, and how stations are ranked for them.

A `Need` says what a worker needs, not which fields to filter: required groups, each satisfied by *any* of its
amenity keys, toilet values or station kinds (a delivery rider needs battery swap **or** e-bike charging), an
optional "open at" requirement (sanitation workers: open at 05:00 unless another time is asked), and "plus"
amenities that raise a station's rank. A `TravelMode` gives the speed for straight-line minutes, the distance
beyond which no station is offered, and the matching mode of each navigation app. `score` ranks stations by one
explainable number: minutes by the mode, plus a penalty when closed, minus a bonus per plus amenity.

API note for the worker page (``GET /api/nearest`` and ``GET /api/stations``)
-----------------------------------------------------------------------------
``GET /api/nearest?lon=&lat=&need=<need>&mode=<mode>``

- ``need``: ``sanitation`` | ``courier`` | ``delivery_rider`` | ``truck_driver`` | ``any``.
- ``mode``: ``walk`` | ``ebike`` | ``drive``; default the need's `Need.default_mode` (rider, courier e-bike;
  driver drive; sanitation, any walk), and walk without a need.
- ``k`` (default 10), ``max_distance_m`` (narrows the mode's cap, never widens it), ``open_at``/``open_now``
  (with a need: "open then" becomes a required group, ``open``), ``amenity``, ``toilet``, ``min_stars`` (hard
  filters), ``lang``, ``datum``, ``map_datum`` as before.

Answer (a GeoJSON FeatureCollection) with a need, top level: ``need``, ``mode``, ``speed_m_per_min``,
``cap_m`` (the distance searched), ``straight_line: true``, ``evaluated_at`` (the moment of ``open_now``),
``open_required_at`` (ISO moment or null), ``nothing_within_m`` (null when stations were found, else equal to
``cap_m``) and ``partial`` (a list, empty when stations were found: the nearest stations within the cap that meet
only some of the needs, each ``{"id", "name", "distance_m", "travel_min", "missing": [group keys], "matched",
"toilet", "open_now", "lon", "lat"}``). Each feature's properties add, to the station's record:
``rank``, ``distance_m``, ``walk_min`` (kept for old clients), ``travel_min`` and ``mode``, ``straight_line``,
``score``, ``matched`` (the wanted and plus amenity keys it has, in that order), ``toilet`` (``onsite`` /
``nearby`` / ``none``; absent when unknown), ``last_verified`` (the later of the record's date and the latest
worker's "here and open", with ``last_verified_source``: ``worker`` or ``union``) and ``stars`` where recorded,
``honour`` (best honour level or null), ``open_now`` / ``state_text`` / ``next_change``, and ``navigation``
(``amap``, ``baidu``, ``apple``, ``geo``, ``osm`` links for the mode). Group keys in ``missing`` are `RequirementGroup.key`
(``charging``, ``water``, ``toilet``, ``parking``, ``open``); their labels are in ``client_strings()["needs"]``.

``GET /api/stations?q=充电&lon=&lat=`` also matches needs words (`match_terms`): ``q_matches`` at the top level
says which amenity keys, toilet values and kinds the words named; with ``lon`` and ``lat`` the stations come
nearest first with ``distance_m``, ``open_now``, ``state_text``, ``next_change``.
``GET /api/stations/<id>?mode=drive`` gives navigation links for the mode.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stationmap.errors import BadRequestError
from stationmap.schema import AMENITIES, KINDS, TOILET_WORDS

__all__ = [
    "CLOSED_PENALTY_MIN",
    "MODES",
    "NEEDS",
    "OPEN_GROUP",
    "PLUS_BONUS_MIN",
    "Need",
    "RequirementGroup",
    "TermMatches",
    "TravelMode",
    "get_mode",
    "get_need",
    "match_terms",
    "missing_groups",
    "score",
    "travel_min",
]

#: Minutes added to a station that is not open at the moment asked about (closed, or hours unknown).
CLOSED_PENALTY_MIN = 15.0
#: Minutes taken off a station's score for each plus amenity it has.
PLUS_BONUS_MIN = 2.0


@dataclass(frozen=True)
class TravelMode:
    """
    How a worker travels to a station.

    Attributes
    ----------
    key
        ``walk``, ``ebike`` or ``drive``.
    zh, en
        Labels.
    speed_m_per_min
        Straight-line speed in metres per minute, for `travel_min`.
    cap_m
        Farthest straight-line distance offered, metres.
    amap, baidu, apple
        The mode's value in Amap's ``mode`` (walk / ride / car), Baidu's ``mode`` (walking / riding / driving) and
        Apple Maps' ``dirflg`` (w / d).
    """

    key: str
    zh: str
    en: str
    speed_m_per_min: float
    cap_m: float
    amap: str
    baidu: str
    apple: str


#: The travel modes. Speeds are straight-line planning figures, not routing: walking 75 m/min (4.5 km/h, a loaded
#: worker's unhurried pace, as `stationmap.analysis.nearest.WALKING_SPEED_M_PER_MIN`); e-bike 250 m/min (15 km/h:
#: below the 25 km/h legal top speed of an electric bicycle under GB 17761-2018, for stops and crossings); driving
#: 500 m/min (30 km/h, an urban average speed with traffic lights and congestion, the order of the peak-hour
#: speeds Chinese cities report). Caps: 3 km on foot (40 minutes), 10 km by e-bike (40 minutes), 50 km by car
#: (100 minutes, a truck driver's detour to rest). Apple Maps' URL scheme has no cycling flag, so e-bikes get
#: driving directions there (roads an e-bike may ride, not footpaths).
MODES: Mapping[str, TravelMode] = MappingProxyType({
    "walk": TravelMode("walk", "步行", "Walking", 75.0, 3_000.0, amap="walk", baidu="walking", apple="w"),
    "ebike": TravelMode("ebike", "电动车", "E-bike", 250.0, 10_000.0, amap="ride", baidu="riding", apple="d"),
    "drive": TravelMode("drive", "驾车", "Driving", 500.0, 50_000.0, amap="car", baidu="driving", apple="d"),
})


@dataclass(frozen=True)
class RequirementGroup:
    """
    One thing a worker needs, met by any of its alternatives.

    Attributes
    ----------
    key
        Short name used in ``missing`` (``charging``, ``water``, ``toilet``, ``parking``, ``open``).
    zh, en
        Labels.
    amenities
        Amenity keys (`stationmap.schema.AMENITIES`), any of which meets the group.
    toilet
        ``toilet`` values any of which meets the group.
    kinds
        Station kinds (`stationmap.schema.KINDS`) any of which meets the group.
    """

    key: str
    zh: str
    en: str
    amenities: tuple[str, ...] = ()
    toilet: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def met_by(self, amenities: Collection[str], toilet: str | None, kind: str | None) -> bool:
        """Whether a station with these amenity keys, ``toilet`` value and ``kind`` meets the group."""
        return (any(a in amenities for a in self.amenities) or (toilet is not None and toilet in self.toilet)
                or (kind is not None and kind in self.kinds))


#: The group ``missing`` names when a station is not open at the moment required.
OPEN_GROUP = RequirementGroup("open", "开放中", "Open")


@dataclass(frozen=True)
class Need:
    """
    What one group of workers needs from a station.

    Attributes
    ----------
    key
        ``sanitation``, ``courier``, ``delivery_rider``, ``truck_driver`` or ``any``.
    zh, en
        Labels for the choice ("环卫工人", "Sanitation worker").
    required
        Groups every offered station must meet (each by any of its alternatives).
    plus
        Amenity keys that raise a station's rank (`PLUS_BONUS_MIN` each).
    default_mode
        Key of the usual `TravelMode`.
    open_at
        ``HH:MM`` (Asia/Shanghai, today) a station must be open at unless the user asks for another time, or
        None when being open only ranks (`CLOSED_PENALTY_MIN`).
    """

    key: str
    zh: str
    en: str
    required: tuple[RequirementGroup, ...] = ()
    plus: tuple[str, ...] = ()
    default_mode: str = "walk"
    open_at: str | None = None
    wanted: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        wanted = [a for g in self.required for a in g.amenities]
        object.__setattr__(self, "wanted", tuple(dict.fromkeys([*wanted, *self.plus])))

    def label(self, lang: str) -> str:
        """The zh or en label."""
        return self.en if lang == "en" else self.zh


_WATER = RequirementGroup("water", "饮水", "Drinking water", amenities=("drinking_water",))
_TOILET = RequirementGroup("toilet", "厕所（站内或附近）", "Toilet (on site or nearby)", toilet=("onsite", "nearby"))

#: The needs, in the order the page offers them.
NEEDS: Mapping[str, Need] = MappingProxyType({
    "sanitation": Need(
        "sanitation", "环卫工人", "Sanitation worker", required=(_WATER, _TOILET),
        plus=("meal_heating", "seating", "hand_washing", "heating", "air_conditioning"),
        default_mode="walk", open_at="05:00"),
    "courier": Need(
        "courier", "快递员", "Courier", required=(_WATER,),
        plus=("phone_charging", "ebike_charging", "meal_heating", "seating"), default_mode="ebike"),
    "delivery_rider": Need(
        "delivery_rider", "外卖骑手", "Delivery rider",
        required=(RequirementGroup("charging", "换电或电动车充电", "Battery swap or e-bike charging",
                                   amenities=("battery_swap", "ebike_charging")),),
        plus=("phone_charging", "drinking_water", "meal_heating", "toolkit"), default_mode="ebike"),
    "truck_driver": Need(
        "truck_driver", "货车司机", "Truck driver",
        required=(RequirementGroup("parking", "停车", "Parking", amenities=("parking",)),),
        plus=("shower", "laundry", "drinking_water", "meal_heating"), default_mode="drive"),
    "any": Need("any", "任何人", "Anyone", default_mode="walk"),
})


def get_need(key: str) -> Need:
    """
    Return the need named `key`.

    Raises
    ------
    BadRequestError
        If there is no such need.
    """
    try:
        return NEEDS[key]
    except KeyError:
        msg = f"unknown need {key!r} (expected one of: {', '.join(NEEDS)})"
        raise BadRequestError(msg) from None


def get_mode(key: str) -> TravelMode:
    """
    Return the travel mode named `key`.

    Raises
    ------
    BadRequestError
        If there is no such mode.
    """
    try:
        return MODES[key]
    except KeyError:
        msg = f"unknown mode {key!r} (expected one of: {', '.join(MODES)})"
        raise BadRequestError(msg) from None


def travel_min(distance_m: float, mode: TravelMode) -> int:
    """
    Return whole minutes to cover `distance_m` (straight line, metres) at the mode's speed, rounded up, at least 1.
    """
    return max(1, math.ceil(distance_m / mode.speed_m_per_min))


def missing_groups(need: Need, amenities: Collection[str], toilet: str | None, kind: str | None, *,
                   open_required: bool = False, is_open: bool | None = None) -> tuple[str, ...]:
    """
    Return the keys of the need's groups a station does not meet (empty: it meets every one).

    Parameters
    ----------
    need
        The need.
    amenities, toilet, kind
        The station's amenity keys, ``toilet`` value and ``kind`` (None when unknown).
    open_required
        Whether the station must be open at the moment asked about; then ``open`` is missing unless `is_open`.
    is_open
        Whether the station is open at that moment (None: hours unknown, which counts as not open).
    """
    missing = [g.key for g in need.required if not g.met_by(amenities, toilet, kind)]
    if open_required and is_open is not True:
        missing.append(OPEN_GROUP.key)
    return tuple(missing)


def score(distance_m: float, *, mode: TravelMode, is_open: bool | None, n_plus: int) -> float:
    """
    Rank a station for a worker: lower is better, in minutes.

    ``score = distance_m / speed + (CLOSED_PENALTY_MIN if not open) - PLUS_BONUS_MIN * n_plus``, i.e. straight-line
    minutes by the mode, plus 15 minutes when the station is not open at the moment asked about (closed or hours
    unknown), minus 2 minutes per plus amenity it has. A station 1.5 km away on foot (20 min), closed, with two
    plus amenities scores 20 + 15 - 4 = 31.

    Parameters
    ----------
    distance_m
        Straight-line (geodesic) distance, metres.
    mode
        The travel mode, for its speed.
    is_open
        True if open, False if closed, None if unknown.
    n_plus
        How many of the need's plus amenities the station has.
    """
    minutes = distance_m / mode.speed_m_per_min
    penalty = 0.0 if is_open is True else CLOSED_PENALTY_MIN
    return minutes + penalty - PLUS_BONUS_MIN * n_plus


# --- search words ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TermMatches:
    """
    What a search text names besides station names: amenity keys, toilet values and station kinds.

    A station matches if it has any of `amenities`, its ``toilet`` is one of `toilet`, or its ``kind`` is one of
    `kinds`.
    """

    amenities: tuple[str, ...] = ()
    toilet: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.amenities or self.toilet or self.kinds)

    def to_dict(self) -> dict[str, list[str]]:
        """The matches as JSON lists."""
        return {"amenities": list(self.amenities), "toilet": list(self.toilet), "kinds": list(self.kinds)}


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-/（）()]+", "", text).lower()


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w}


def _names(query: str, labels: tuple[str, ...], *, contained: tuple[str, ...]) -> bool:
    """Whether `query` names a term: equal to a label, a whole English word of one, or (Chinese) within one."""
    q = _norm(query)
    if len(q) < 2:
        return False
    if any(q == _norm(label) for label in labels):
        return True
    if q.isascii():
        return any(q in _words(label) for label in labels)
    return any(q in _norm(label) for label in contained)


def match_terms(query: str) -> TermMatches:
    """
    Return the amenities, toilet values and station kinds a search text names.

    A Chinese text of two or more characters names an amenity when it lies within its Chinese label or a synonym
    (充电 -> phone charging and e-bike charging; 热饭 -> meal heating), a toilet when it lies within an on-site or
    nearby toilet word (厕所 -> onsite, nearby; never "none"), and a kind when it equals or lies within the kind's
    Chinese label (司机之家 -> driver_home). An English text names a term it equals or is a whole word of
    ("charging", "toilet"). One letter or one character names nothing.

    Parameters
    ----------
    query
        The search text.
    """
    amenities = tuple(t.key for t in AMENITIES.terms
                      if _names(query, (t.key, t.zh, t.en, *t.synonyms), contained=(t.zh, *t.synonyms)))
    toilet = tuple(t.key for t in TOILET_WORDS.terms
                   if _names(query, (t.zh, t.en, *t.synonyms), contained=(t.zh, *t.synonyms)))
    kinds = tuple(t.key for t in KINDS.terms if _names(query, (t.key, t.zh, t.en, *t.synonyms), contained=(t.zh,)))
    return TermMatches(amenities=amenities, toilet=toilet, kinds=kinds)
