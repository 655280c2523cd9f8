"""Validation of station records: every problem at once, named by record, field, value and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- properties: whatever a file holds, validation answers with problems, never an exception -------------------

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
_FIELDS = st.sampled_from(["id", "name", "stars", "amenities", "toilet", "opening_hours", "served_groups",
                           "district_code", "honours", "capacity", "area_m2", "status", "last_verified", "kind"])


@st.composite
def _features(draw):
    props = draw(st.dictionaries(_FIELDS, _VALUES, max_size=6))
    geometry = draw(st.one_of(
        st.none(), st.just({"type": "Polygon", "coordinates": []}),
        st.builds(lambda lon, lat: {"type": "Point", "coordinates": [lon, lat]},
                  st.one_of(st.floats(allow_nan=True), st.integers(-500, 500), st.text(max_size=3)),
                  st.one_of(st.floats(allow_nan=True), st.integers(-500, 500)))))
    return {"type": "Feature", "properties": props, "geometry": geometry}


@settings(database=None, deadline=None, max_examples=150)
@given(st.lists(_features(), max_size=6))
def test_any_feature_collection_gets_problems_never_an_exception(features):
    report = validate_features({"type": "FeatureCollection", "features": features})
    assert report.n_records == len(features)
    for problem in report.problems:
        assert problem.severity in ("error", "warning")
        assert problem.where == "file" or problem.where in {f"features[{i}]" for i in range(len(features))}
        assert problem.field and problem.expected  # every problem says what it found and what was expected


@settings(database=None, deadline=None, max_examples=100)
@given(st.lists(st.tuples(st.floats(73.5, 134.0), st.floats(18.2, 53.5), st.integers(0, 5),
                          st.sampled_from(["24/7", "Mo-Fr 08:30-17:00", "Mo-Su 05:00-22:00"])),
                min_size=1, max_size=8, unique_by=lambda t: (round(t[0], 3), round(t[1], 3))))
def test_well_formed_records_have_no_errors(rows):
    features = [{"type": "Feature", "id": f"S-{i}",
                 "geometry": {"type": "Point", "coordinates": [lon, lat]},
                 "properties": {"id": f"S-{i}", "name": f"驿站{i}", "stars": stars, "opening_hours": hours,
                                "amenities": ["drinking_water"], "toilet": "nearby"}}
                for i, (lon, lat, stars, hours) in enumerate(rows)]
    report = validate_features({"type": "FeatureCollection", "features": features})
    assert report.errors == ()


# --- hardened (issue 11): text length and control characters -----------------------------------------------------

def _doc(**props):
    base = {"id": "X-1", "name": "测试驿站", "opening_hours": "24/7"}
    base.update(props)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": base["id"], "properties": base,
         "geometry": {"type": "Point", "coordinates": [109.06, 34.27]}}]}


def test_ten_megabyte_name_is_an_error_naming_record_field_and_length():
    report = validate_features(_doc(name="驿" * 10_000_000))
    [error] = report.errors
    assert (error.where, error.station_id, error.field) == ("features[0]", "X-1", "name")
    assert "at most 200 characters (found 10,000,000)" in error.expected
    assert len(str(error)) < 300  # the value is shortened in the message


def test_every_text_field_has_a_length_limit():
    from stationmap.files import MAX_TEXT_CHARS

    fields = ["name_en", "address", "district", "host_org", "manager", "phone", "opening_hours_raw"]
    report = validate_features(_doc(**{f: "x" * (MAX_TEXT_CHARS[f] + 1) for f in fields}))
    assert sorted(p.field for p in report.errors) == sorted(fields)
    ok = validate_features(_doc(**{f: "x" * MAX_TEXT_CHARS[f] for f in fields}))
    assert not ok.errors
    long_id = validate_features(_doc(id="X" * 65))
    assert [p.field for p in long_id.errors] == ["id"]


def test_nul_and_control_characters_are_errors_naming_the_field():
    report = validate_features(_doc(name="驿站\x00", address="路\x1b[31m1号", manager="张\u0085三"))
    found = {p.field: p.expected for p in report.errors}
    assert set(found) == {"name", "address", "manager"}
    assert "U+0000" in found["name"] and "U+001B" in found["address"] and "U+0085" in found["manager"]


def test_tabs_and_line_breaks_only_in_multiline_fields():
    report = validate_features(_doc(name="驿站\n二号", id="X-1\t", address="西安市灞桥区\r\n纺织城正街\t1号",
                                    host_org="灞桥区总工会\n环卫所", opening_hours_raw="周一\n周二"))
    assert sorted(p.field for p in report.errors) == ["id", "name"]
    assert all("tabs or line breaks" in p.expected for p in report.errors)
