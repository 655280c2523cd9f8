"""The whole register as one download (``/api/export.geojson``, ``/api/export.csv``), written as it is sent.

No Flask here: `plan_export` reads the arguments and the `Export` it returns yields the body in pieces, a few
thousand stations at a time, so a national register of 200,000 stations never becomes one 100 MB string. The
records are written by `stationmap.stations`, the same code as ``stationmap export``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from stationmap import geo
from stationmap.parameters import EXPORT_DATUM, EXPORT_DISTRICT
from stationmap.stations import stations_table, stations_to_geojson
from stationmap.web.params import Args, parse_param
from stationmap.web.state import AppState

__all__ = ["CHUNK_ROWS", "EXPORT_TYPES", "Export", "plan_export"]

#: Stations converted per piece of the body.
CHUNK_ROWS = 2000
#: Media type of each export format.
EXPORT_TYPES = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class Export:
    """
    One export: which stations, in which datum and format.

    Attributes
    ----------
    state
        The app state holding the stations (EPSG:4326).
    rows
        Positions of the stations exported, in register order.
    datum
        Datum of the written coordinates: ``wgs84``, ``gcj02`` or ``bd09``.
    fmt
        ``geojson`` or ``csv``.
    district
        Adcode of the district exported, or "" for the whole register.
    """

    state: AppState
    rows: np.ndarray
    datum: str
    fmt: str
    district: str = ""

    @property
    def filename(self) -> str:
        """The download's file name: ``stations[-adcode][-datum].geojson``."""
        parts = ["stations", *([self.district] if self.district else []),
                 *([self.datum] if self.datum != "wgs84" else [])]
        return "-".join(parts) + "." + self.fmt

    @property
    def mimetype(self) -> str:
        """Media type of the body."""
        return EXPORT_TYPES[self.fmt]

    def chunks(self) -> Iterator[bytes]:
        """Yield the body, UTF-8, in pieces of `CHUNK_ROWS` stations."""
        pieces = self._geojson() if self.fmt == "geojson" else self._csv()
        for piece in pieces:
            yield piece.encode("utf-8")

    def _frames(self) -> Iterator[Any]:
        for start in range(0, len(self.rows), CHUNK_ROWS):
            yield self.state.stations.iloc[self.rows[start:start + CHUNK_ROWS]]

    def _geojson(self) -> Iterator[str]:
        head: dict[str, Any] = {"type": "FeatureCollection"}
        metadata: dict[str, Any] = {"demo": self.state.demo}
        if self.state.notices:
            metadata["notice_zh"] = self.state.notices[0]["zh"]
            metadata["notice_en"] = self.state.notices[0]["en"]
        if self.datum != "wgs84":  # as stations_to_geojson marks it, so no one loads it as WGS-84
            head["datum"] = metadata["datum"] = self.datum
        head["metadata"] = metadata
        opening = json.dumps(head, ensure_ascii=False)
        yield opening[:-1] + ', "features": ['
        first = True
        for frame in self._frames():
            doc = stations_to_geojson(frame, datum=self.datum, metadata={})
            text = ",\n".join(json.dumps(feature, ensure_ascii=False) for feature in doc["features"])
            yield ("\n" if first else ",\n") + text
            first = False
        yield "\n]}\n"

    def _csv(self) -> Iterator[str]:
        # UTF-8 with a BOM (Excel then reads Chinese), CRLF lines as `stationmap export` writes them
        frames = list(self._frames()) or [self.state.stations.iloc[[]]]
        for i, frame in enumerate(frames):
            table = stations_table(frame, datum=self.datum, headers="zh")
            text = table.to_csv(index=False, header=i == 0, lineterminator="\r\n")
            yield "\ufeff" + text if i == 0 else text


def plan_export(state: AppState, args: Args, *, fmt: str) -> Export:
    """
    Read the arguments of an export: ``district`` (optional, adcode or name) and ``datum``.

    Parameters
    ----------
    state
        The app state.
    args
        The request arguments.
    fmt
        ``geojson`` or ``csv``.

    Raises
    ------
    BadRequestError
        If a parameter is malformed, or the district name is ambiguous.
    StationNotFoundError
        If the district is not served (404).
    """
    datum = geo.parse_datum(parse_param(args, EXPORT_DATUM))
    query = parse_param(args, EXPORT_DISTRICT)
    if query is None:
        return Export(state, np.arange(len(state.stations)), datum, fmt)
    district = state.district(query)
    rows = np.flatnonzero(state.district_codes == district.adcode)
    return Export(state, rows, datum, fmt, district=district.adcode)
