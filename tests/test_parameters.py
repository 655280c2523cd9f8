"""Parameter specs (`stationmap.parameters`): each is sound, parses and checks as it says, and the web API's parsers
agree with the OpenAPI document written from the same specs.

The agreement test walks the served OpenAPI document, not the specs: every query parameter with a limit is sent at
its limits (accepted) and just outside them (400 naming the parameter and the value), so a parser that drifts from
the document fails here whichever of the two moved.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webcheck import strict_json  # tests/webcheck.py
from werkzeug.datastructures import MultiDict

from stationmap import parameters
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.errors import BadRequestError
from stationmap.parameters import (
    LIMIT,
    RADIUS_M,
    REPORT_RADII_M,
    SITES_K,
    SPECS,
    WEB_SITES_K,
    ParamSpec,
)
from stationmap.web import create_app
from stationmap.web.params import parse_param

NUMERIC = [s for s in SPECS if s.numeric]
RANGED = [s for s in NUMERIC if s.minimum is not None or s.maximum is not None]


def _spec_id(spec: ParamSpec) -> str:
    return next(name for name in parameters.__all__ if getattr(parameters, name) is spec)


def _outside(bound: float, spec: ParamSpec, direction: float) -> float:
    """The nearest value beyond `bound` in `direction` (+1 above, -1 below) that the spec's type can hold."""
    if spec.type == "integer":
        return int(bound) + int(direction)
    return math.nextafter(bound, direction * math.inf)


def _text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


# --- the specs themselves -------------------------------------------------------------------------------

def test_every_spec_is_exported_and_listed():
    exported = {name for name in parameters.__all__ if isinstance(getattr(parameters, name), ParamSpec)}
    assert {id(getattr(parameters, n)) for n in exported} == {id(s) for s in SPECS}
    assert parameters.__all__ == sorted(parameters.__all__, key=lambda name: (not name.isupper(), name))


@pytest.mark.parametrize("spec", SPECS, ids=_spec_id)
def test_spec_is_sound(spec):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name)
    assert spec.description and spec.description.endswith("."), spec.description
    assert spec.option == "--" + spec.name.replace("_", "-")
    if spec.minimum is not None and spec.maximum is not None:
        assert spec.minimum < spec.maximum
    if spec.numeric and spec.default is not None:
        assert spec.accepts(spec.default), spec.default
    if spec.numeric and spec.example is not None:
        assert spec.accepts(spec.example), spec.example
    if spec.choices and spec.default is not None:
        assert spec.default in spec.choices
    if spec.pattern is not None:
        assert spec.problem(str(spec.example)) is None
    if spec.unit:
        assert spec.numeric


def test_one_radius_range_and_one_default():
    assert (RADIUS_M.minimum, RADIUS_M.maximum, RADIUS_M.default) == (100.0, 10_000.0, 1000.0)
    assert Settings().default_radius_m == RADIUS_M.default
    assert all(RADIUS_M.accepts(r) for r in REPORT_RADII_M)
    narrower = [s for s in SPECS if s is not SITES_K and s.name == "k" and s.maximum is not None]
    assert WEB_SITES_K in narrower and WEB_SITES_K.reason  # a narrower face says why


@pytest.mark.parametrize("spec", RANGED, ids=_spec_id)
def test_limits_accepted_and_just_outside_refused(spec):
    for bound, direction, excluded in ((spec.minimum, -1, spec.exclusive_minimum),
                                       (spec.maximum, +1, spec.exclusive_maximum)):
        if bound is None:
            continue
        if not excluded:
            assert spec.parse(_text(bound)) == bound
        outside = _outside(bound, spec, direction)
        with pytest.raises(BadRequestError) as info:
            spec.parse(_text(outside))
        message = str(info.value)
        assert f"parameter {spec.name!r}" in message and repr(_text(outside)) in message
        assert spec.range_text() in message


@pytest.mark.parametrize(("raw", "problem"), [
    ("abc", "must be a number, got 'abc'"),
    ("", "must be a number, got ''"),
    ("nan", "must be a finite number, got 'nan'"),
    ("-inf", "must be a finite number, got '-inf'"),
    ("99.9", "must be between 100 and 10000 m, got '99.9'"),
])
def test_number_problems_name_value_and_range(raw, problem):
    assert RADIUS_M.problem(raw) == problem
    with pytest.raises(BadRequestError, match=re.escape(f"parameter 'radius_m' {problem}")):
        RADIUS_M.parse(raw)


def test_whole_numbers():
    assert WEB_SITES_K.parse(" 20 ") == 20
    for raw in ("2.5", "1e1", "ten", ""):
        assert WEB_SITES_K.problem(raw) == f"must be a whole number, got {raw!r}"
    assert WEB_SITES_K.problem("9" * 40) == "must be between 1 and 20, got '" + "9" * 40 + "'"


def test_exclusive_bounds_and_one_sided_ranges():
    spec = ParamSpec("r", "number", "A radius.", unit="m", minimum=0.0, exclusive_minimum=True, maximum=20_000.0)
    assert spec.range_text() == "greater than 0 and at most 20000 m"
    assert not spec.accepts(0.0) and spec.accepts(math.nextafter(0.0, 1)) and spec.accepts(20_000.0)
    assert spec.json_schema()["exclusiveMinimum"] == 0.0 and "minimum" not in spec.json_schema()
    assert ParamSpec("n", "integer", "N.", minimum=0).range_text() == "at least 0"
    assert ParamSpec("n", "integer", "N.", maximum=9, exclusive_maximum=True).range_text() == "less than 9"
    assert ParamSpec("lat", "number", "L.", unit="°", minimum=-90, maximum=90).range_text() == "between -90 and 90°"


def test_check_refuses_wrong_types():
    assert RADIUS_M.check(500) == 500
    for value in (True, "500", None, float("nan")):
        with pytest.raises(BadRequestError, match="'radius_m'"):
            RADIUS_M.check(value)


def test_for_settings_fills_the_maximum_and_the_default():
    small = LIMIT.for_settings(Settings(max_results=20))
    assert (small.maximum, small.default, small.maximum_setting) == (20, 20, None)  # 100 brought into range
    assert LIMIT.for_settings(Settings(max_results=500)).default == 100
    assert RADIUS_M.for_settings(Settings(default_radius_m=1500)).default == 1500.0


@pytest.mark.parametrize("spec", RANGED, ids=_spec_id)
def test_json_schema_states_the_range(spec):
    schema = spec.json_schema()
    assert schema["type"] == spec.type
    if spec.minimum is not None:
        assert schema["exclusiveMinimum" if spec.exclusive_minimum else "minimum"] == spec.minimum
    if spec.maximum is not None:
        assert schema["exclusiveMaximum" if spec.exclusive_maximum else "maximum"] == spec.maximum
    if spec.default is not None:
        assert schema["default"] == spec.default


def _schema_accepts(schema: dict, value: float) -> bool:
    """The JSON Schema numeric keywords, evaluated as a client of the OpenAPI document would."""
    return (value >= schema.get("minimum", -math.inf) and value <= schema.get("maximum", math.inf)
            and value > schema.get("exclusiveMinimum", -math.inf) and value < schema.get("exclusiveMaximum", math.inf))


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_spec_and_its_schema_agree_on_every_number(data):
    spec = data.draw(st.sampled_from(RANGED), label="spec")
    if spec.type == "integer":
        value = data.draw(st.integers(min_value=-10**12 + 1, max_value=10**12 - 1))
    else:
        value = data.draw(st.floats(allow_nan=False, allow_infinity=False))
    assert spec.accepts(value) == _schema_accepts(spec.json_schema(), value)
    if spec.accepts(value):
        assert spec.parse(_text(value)) == value
    else:
        assert spec.problem(_text(value)) == f"must be {spec.range_text()}, got {_text(value)!r}"


def test_web_parser_reads_default_and_refuses_a_repeat():
    assert parse_param(MultiDict(), RADIUS_M, settings=Settings(default_radius_m=500)) == 500.0
    assert parse_param(MultiDict({"radius_m": "1500"}), RADIUS_M) == 1500.0
    with pytest.raises(BadRequestError, match="given 2 times"):
        parse_param(MultiDict([("radius_m", "500"), ("radius_m", "600")]), RADIUS_M)


def test_module_imports_only_the_error_tree():
    tree = ast.parse(Path(parameters.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert {m for m in imported if m.startswith("stationmap")} == {"stationmap.errors"}


def test_the_analysis_refuses_what_the_faces_refuse(settings):
    """The analysis reads its limits from the same specs: what the CLI and web refuse, it refuses too."""
    import geopandas as gpd

    from stationmap.analysis import coverage_report, plan_sites
    from stationmap.analysis.kernel import check_radius

    assert check_radius(RADIUS_M.minimum) == RADIUS_M.minimum
    assert check_radius(RADIUS_M.maximum) == RADIUS_M.maximum
    one = gpd.GeoDataFrame({"id": ["A"], "status": ["open"]}, geometry=gpd.points_from_xy([109.06], [34.27]),
                           crs=4326)
    region = one.to_crs(32649).buffer(3000).to_crs(4326).iloc[0]
    for radius in (RADIUS_M.minimum - 0.1, RADIUS_M.maximum + 0.1):
        with pytest.raises(BadRequestError, match="radius_m"):
            coverage_report(one, region, radius_m=radius)
    with pytest.raises(BadRequestError, match="k"):
        plan_sites(one, region, k=SITES_K.maximum + 1, radius_m=1000)


# --- the web API agrees with its OpenAPI document ----------------------------------------------------------

class _ParseOnlyCache:
    """A planner cache that records the parsed key and answers an empty body: only parsing is exercised."""

    def __init__(self) -> None:
        self.keys: list[tuple] = []

    def get(self, key, build):
        self.keys.append(key)
        return {"summary": {}, "features": []}


@pytest.fixture(scope="module")
def app():
    app = create_app(Settings(data_dir=BUNDLED_DATA_DIR, max_results=20))
    app.extensions["stationmap_planner"] = _ParseOnlyCache()
    return app


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def document(client):
    return strict_json(client.get("/api/openapi.json"))


def _operations(document):
    """(url path, query parameters, required values) of every GET operation, path parameters filled in."""
    for path, item in document["paths"].items():
        if "get" not in item or item["get"].get("security") or not path.startswith("/api/"):
            continue  # writes and reads that need an account (test_web_edits), downloads (test_web_pool)
        params = item["get"].get("parameters", [])
        url = path.replace("{id}", "610111-001")
        query = [p for p in params if p["in"] == "query"]
        base = {p["name"]: str(p["schema"]["example"]) for p in query if p["required"]}
        yield url, query, base


def _get(client, url, base, name, value):
    return client.get(url, query_string={**base, name: value})


def test_every_required_parameter_has_an_example(document):
    for url, query, _base in _operations(document):
        for p in query:
            assert not p["required"] or "example" in p["schema"], (url, p["name"])


def _limit_cases(document):
    for url, query, base in _operations(document):
        for p in query:
            schema = p["schema"]
            if schema["type"] in ("number", "integer") and (set(schema) & {"minimum", "maximum", "exclusiveMinimum",
                                                                         "exclusiveMaximum"}):
                yield pytest.param(url, base, p, id=f"{url}:{p['name']}")


def test_numeric_limits_agree(client, document):
    cases = list(_limit_cases(document))
    assert len(cases) >= 12  # lon, lat, k, limit, offset, zoom, min_stars (x3), max_distance_m, radius_m (x5) ...
    for case in cases:
        url, base, p = case.values
        schema, name = p["schema"], p["name"]
        integer = schema["type"] == "integer"
        for key, direction in (("minimum", -1), ("maximum", +1)):
            if key not in schema:
                continue
            bound = schema[key]
            inside = _get(client, url, base, name, _text(bound))
            assert inside.status_code == 200, (url, name, bound, inside.get_data(as_text=True))
            outside = int(bound) + direction if integer else math.nextafter(bound, direction * math.inf)
            refused = _get(client, url, base, name, _text(outside))
            assert refused.status_code == 400, (url, name, outside)
            error = strict_json(refused)["error"]
            assert f"'{name}'" in error and repr(_text(outside)) in error, error


def test_enumerations_agree(client, document):
    for url, query, base in _operations(document):
        for p in query:
            schema = p["schema"]
            values = schema.get("enum") or schema.get("items", {}).get("enum")
            if values:
                for value in values:
                    answer = _get(client, url, base, p["name"], value)
                    assert answer.status_code == 200, (url, p["name"], value, answer.get_data(as_text=True))
                refused = _get(client, url, base, p["name"], "no-such-value")
                assert refused.status_code == 400 and f"'{p['name']}'" in strict_json(refused)["error"]
            if schema["type"] == "boolean":
                for value in ("true", "false"):
                    assert _get(client, url, base, p["name"], value).status_code == 200
                assert _get(client, url, base, p["name"], "maybe").status_code == 400


def test_string_limits_agree(client, document):
    for url, query, base in _operations(document):
        for p in query:
            schema, name = p["schema"], p["name"]
            if "maxLength" in schema:
                assert _get(client, url, base, name, "x" * schema["maxLength"]).status_code == 200
                refused = _get(client, url, base, name, "x" * (schema["maxLength"] + 1))
                assert refused.status_code == 400 and f"'{name}'" in strict_json(refused)["error"]
            if "pattern" in schema:
                assert re.search(schema["pattern"], str(schema["example"]))
                assert _get(client, url, base, name, schema["example"]).status_code == 200
                assert _get(client, url, base, name, "61011").status_code == 400
            if schema.get("minLength") == 1:
                assert _get(client, url, base, name, "").status_code == 400


def test_list_limits_agree(client, document):
    params = {p["name"]: p for p in document["paths"]["/api/what-if"]["get"]["parameters"]}
    base = {"district": "450305"}
    most = params["add"]["schema"]["x-maxItems"]
    points = [f"{110.30 + i * 0.001:.3f},25.25" for i in range(most + 1)]
    assert _get(client, "/api/what-if", base, "add", ";".join(points[:most])).status_code == 200
    refused = _get(client, "/api/what-if", base, "add", ";".join(points))
    assert refused.status_code == 400 and f"at most {most} points" in strict_json(refused)["error"]
    most = params["remove"]["schema"]["x-maxItems"]
    ids = [f"no-{i}" for i in range(most + 1)]
    at_most = strict_json(_get(client, "/api/what-if", base, "remove", ",".join(ids[:most])))["error"]
    assert "no station" in at_most and "at most" not in at_most  # the count is allowed; the ids are unknown
    refused = strict_json(_get(client, "/api/what-if", base, "remove", ",".join(ids)))["error"]
    assert f"at most {most} ids" in refused


def test_bbox_takes_the_documented_lon_lat_ranges(client, document):
    nearest = {p["name"]: p["schema"] for p in document["paths"]["/api/nearest"]["get"]["parameters"]}
    lon, lat = nearest["lon"], nearest["lat"]
    whole = f"{lon['minimum']!r},{lat['minimum']!r},{lon['maximum']!r},{lat['maximum']!r}"
    assert client.get(f"/api/stations?bbox={whole}").status_code == 200
    for i, bound in enumerate((lon["minimum"], lat["minimum"], lon["maximum"], lat["maximum"])):
        values = [lon["minimum"], lat["minimum"], lon["maximum"], lat["maximum"]]
        values[i] = math.nextafter(bound, (1 if i >= 2 else -1) * math.inf)
        answer = client.get("/api/stations?bbox=" + ",".join(map(repr, values)))
        assert answer.status_code == 400 and "'bbox'" in strict_json(answer)["error"]


def test_documented_defaults_are_the_parsed_defaults(app, client, document):
    cache = app.extensions["stationmap_planner"]
    for path, position in (("/api/coverage", 3), ("/api/gaps", 3), ("/api/sites", 3)):  # after revision, name, adcode
        params = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}
        cache.keys.clear()
        assert client.get(f"{path}?district=450305").status_code == 200
        key = cache.keys[-1]
        assert key[position] == params["radius_m"]["default"]
        extra = {"/api/gaps": "min_area_m2", "/api/sites": "k"}.get(path)
        if extra:
            assert key[-1] == params[extra]["default"]
    nearest = {p["name"]: p["schema"] for p in document["paths"]["/api/nearest"]["get"]["parameters"]}
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27"))
    assert body["query"]["k"] == nearest["k"]["default"]
    listed = {p["name"]: p["schema"] for p in document["paths"]["/api/stations"]["get"]["parameters"]}
    assert strict_json(client.get("/api/stations"))["numberReturned"] == listed["limit"]["default"]


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_values_agree_with_the_document(client, document, data):
    url, base, p = data.draw(st.sampled_from([c.values for c in _limit_cases(document)]), label="parameter")
    schema = p["schema"]
    if schema["type"] == "integer":
        value = data.draw(st.integers(min_value=-10**11, max_value=10**11))
    else:
        value = data.draw(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
    answer = _get(client, url, base, p["name"], _text(value))
    assert answer.status_code == (200 if _schema_accepts(schema, value) else 400), (url, p["name"], value)
