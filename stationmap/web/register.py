"""Which stations and districts the app serves: the register's files, the districts its stations lie in, those named.

Only the districts needed are loaded: those of the stations' ``district_code`` values, those the stations without
one lie in, and those the settings name. A station without a code is tried against the districts already loaded and
those its record names (所属区县) before `districts.locate` searches province by province, so a register of one
city never loads the rest of China, and usually not even its province.

The placing itself is `districts.assign_districts`, which the CLI uses too, so both agree on a station's district.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from stationmap.config import Settings
from stationmap.districts import (
    District,
    assign_districts,
    bundled_adcodes,
    load_boundary_file,
    load_district,
    select_districts,
)
from stationmap.errors import BoundaryError, DistrictLookupError
from stationmap.gazetteer import cnmaps_gazetteer

__all__ = ["ServedDistricts", "served_districts"]

logger = logging.getLogger(__name__)

_ADCODE = re.compile(r"^\d{6}$")
_LISTED = 10  # station ids named in a log line


@dataclass(frozen=True)
class ServedDistricts:
    """
    The districts the app serves and the district of every station.

    Attributes
    ----------
    codes
        One adcode per station row: its ``district_code`` where that names a county-level district, else the
        district it lies in; "" for a station outside China's districts.
    districts
        Boundaries (EPSG:4326) by adcode: every district in `codes` and every district the settings name.
    located
        Number of stations whose district was found from their location.
    outside
        Ids of the stations that lie in no district of China (they are served on the map, not in the planner).
    """

    codes: NDArray[np.object_]
    districts: dict[str, District]
    located: int = 0
    outside: tuple[str, ...] = ()


def served_districts(settings: Settings, stations: gpd.GeoDataFrame, *,
                     codes: NDArray[np.object_] | None = None) -> ServedDistricts:
    """
    Find the district of every station and load the boundaries of the districts the app serves.

    A station keeps the ``district_code`` it has where that is a county-level adcode; one without a code (or with
    a code that is no current county-level adcode) gets the district it lies in: the user's own boundary first,
    then the districts already loaded or named by the records' ``district`` (所属区县), and only then China's
    districts (`districts.locate`, which loads province and city boundaries). The station records are not
    changed. Boundaries come from `districts.load_district` with ``settings.cache_dir``; with no register
    (``settings.stations`` empty) the bundled boundaries in ``data_dir/boundaries`` are served too, as before.

    Parameters
    ----------
    settings
        ``data_dir``, ``cache_dir``, ``stations``, ``districts`` (adcodes or names; a city or province means its
        districts), ``boundary`` and ``boundary_crs``.
    stations
        The served stations, EPSG:4326, in row order.
    codes
        The district of each station where already known (the register's database keeps it with each station):
        then only the boundaries are loaded, nothing is placed again.

    Returns
    -------
    served
        Codes per station and the boundaries by adcode.

    Raises
    ------
    DistrictLookupError
        If a district the settings name is unknown or ambiguous.
    BoundaryError, DatumError
        If the own boundary cannot be read, has no datum, or has no adcode and none is given.
    """
    data_dir, cache_dir = Path(settings.data_dir), Path(settings.cache_dir)
    own, districts = _named_districts(settings, data_dir=data_dir, cache_dir=cache_dir)
    ids = stations["id"].astype(str).to_numpy(dtype=object) if len(stations) else np.array([], dtype=object)
    if codes is not None:
        for code in sorted(set(codes.tolist()) - set(districts) - {""}):
            districts[code] = load_district(code, data_dir=data_dir, cache_dir=cache_dir)
        return ServedDistricts(codes=np.asarray(codes, dtype=object), districts=dict(sorted(districts.items())),
                               outside=tuple(ids[np.asarray(codes) == ""].tolist()))
    assigned = assign_districts(stations, data_dir=data_dir, cache_dir=cache_dir, known=districts,
                                first=own.adcode if own is not None else None)
    if assigned.located:
        logger.info("Placed %d stations without a usable district_code in the districts they lie in.",
                    assigned.located)
    outside = tuple(ids[assigned.codes == ""].tolist())
    if outside:
        logger.warning("%d stations lie outside every district of China and are served on the map only, not in the "
                       "planner or reports: %s%s", len(outside), ", ".join(outside[:_LISTED]),
                       " ..." if len(outside) > _LISTED else "")
    return ServedDistricts(codes=assigned.codes, districts=assigned.districts, located=assigned.located,
                           outside=outside)


def _named_districts(settings: Settings, *, data_dir: Path,
                     cache_dir: Path) -> tuple[District | None, dict[str, District]]:
    """The own boundary, and the districts served whatever the stations: named, own, and the demo's bundled ones."""
    own, names_own = _own_boundary(settings)
    named = [] if names_own else [n for n in settings.districts if own is None or own.adcode != _named_adcode(n)]
    districts: dict[str, District] = {}
    if not settings.stations:
        for code in bundled_adcodes(data_dir):
            districts[code] = load_district(code, data_dir=data_dir, cache_dir=cache_dir)
    for query in named:
        for district in select_districts(query, data_dir=data_dir, cache_dir=cache_dir).districts:
            districts.setdefault(district.adcode, district)
    if own is not None:
        districts[own.adcode] = own
    return own, districts


def _named_adcode(query: str) -> str:
    """The adcode a ``--district`` entry names ("" if unknown; the error comes when it is loaded)."""
    try:
        return cnmaps_gazetteer().resolve(query).adcode
    except DistrictLookupError:
        return ""


def _own_boundary(settings: Settings) -> tuple[District | None, bool]:
    """
    The user's own boundary with its adcode, name and city, and whether the one ``--district`` gave its adcode.

    The adcode comes from the file; a file without one takes it from the only entry of ``settings.districts``.
    """
    if settings.boundary is None:
        return None, False
    own = load_boundary_file(Path(settings.boundary), crs=settings.boundary_crs or None)
    adcode = own.adcode.strip()
    names_own = not _ADCODE.fullmatch(adcode)
    if names_own:
        if len(settings.districts) != 1:
            given = f"{len(settings.districts)} were given" if settings.districts else "none was given"
            msg = (f"Boundary {Path(settings.boundary).name} has no 6-digit adcode (a column 'adcode'); name the "
                   f"district it is with exactly one --district (adcode or name, e.g. 440106); {given}.")
            raise BoundaryError(msg)
        division = cnmaps_gazetteer().resolve(settings.districts[0])
        adcode = division.adcode
    try:
        division = cnmaps_gazetteer().get(adcode)
    except DistrictLookupError:
        return District(adcode=adcode, name=own.name, geometry=own.geometry, source=own.source), names_own
    return District(adcode=adcode, name=division.name, geometry=own.geometry, source=own.source,
                    city=division.city if division.level != "province" else "", province=division.province,
                    level=division.level), names_own
