"""Validation of station records: every problem at once, named by record, field, value and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

from stationmap import geo
from stationmap.validation import ProblemCollector, validate_features

BAD = Path(__file__).resolve().parent / "data" / "bad"


def test_all_problems_are_reported_at_once():
    docs = [json.loads((BAD / n).read_text(encoding="utf-8"))["features"][0]
            for n in ("stars_7.geojson", "unknown_amenity.geojson", "bad_opening_hours.geojson")]
    for i, f in enumerate(docs):
        f["id"] = f["properties"]["id"] = f"X-{i}"
        f["geometry"]["coordinates"] = [109.06 + i * 0.01, 34.27]
    report = validate_features({"type": "FeatureCollection", "features": docs})
    assert [p.field for p in report.errors] == ["stars", "amenities", "opening_hours"]
    assert report.summary().endswith("3 records, 3 errors, 0 warnings")


def test_possible_duplicates_are_decided_by_geodesic_distance():
    """Stations 9.99 m apart are flagged at duplicate_m=10, 10.01 m apart are not (pyproj Geod decides)."""
    lon, lat, _ = geo.GEOD.fwd([109.06, 109.07], [34.27, 34.27], [45.0, 45.0], [9.99, 10.01])
    features = [{"type": "Feature", "id": sid, "properties": {"id": sid, "name": sid},
                 "geometry": {"type": "Point", "coordinates": list(point)}}
                for sid, point in [("A", (109.06, 34.27)), ("B", (lon[0], lat[0])), ("C", (109.07, 34.27)),
                                   ("D", (lon[1], lat[1]))]]
    report = validate_features({"type": "FeatureCollection", "features": features}, duplicate_m=10.0)
    flagged = [(p.where, p.expected) for p in report.warnings if "possible duplicate" in p.expected]
    assert len(flagged) == 1
    assert flagged[0][0] == "features[1]" and "10.0 m from features[0]" in flagged[0][1]  # 9.99 m, 1 decimal


def test_problem_collector_names_each_record():
    collector = ProblemCollector()
    collector.error("stars", 7, "an integer 0-5")
    collector.at("row 3", "S-1")
    collector.warn("opening_hours", None, "opening hours")
    assert [(p.where, p.station_id, p.field, p.severity) for p in collector.problems] == [
        ("file", None, "stars", "error"), ("row 3", "S-1", "opening_hours", "warning")]
