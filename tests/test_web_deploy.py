"""Deploying the web app: trusted proxies, CORS on the read-only API, the streamed export, gunicorn with the recipe."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from pyproj import Geod
from webcheck import assert_error, strict_json  # tests/webcheck.py

from stationmap.cli import main
from stationmap.config import Settings
from stationmap.errors import BadRequestError
from stationmap.stations import load_stations
from stationmap.web import create_app
from stationmap.web import export as export_mod

ROOT = Path(__file__).resolve().parents[1]
WGS84 = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def app(fixture_dir):
    return create_app(Settings(data_dir=fixture_dir))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def fixture_stations(fixture_path):
    return load_stations(fixture_path)


# --- trusted proxies -------------------------------------------------------------------------------------------

PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "map.example.org", "X-Forwarded-For": "203.0.113.9"}


def test_proxy_hops_setting_reads_the_environment():
    assert Settings().proxy_hops == 0
    assert Settings.from_env(environ={"STATIONMAP_PROXY_HOPS": "1"}).proxy_hops == 1
    with pytest.raises(BadRequestError, match="STATIONMAP_PROXY_HOPS"):
        Settings.from_env(environ={"STATIONMAP_PROXY_HOPS": "one"})
    with pytest.raises(BadRequestError, match="0 or more"):
        Settings(proxy_hops=-1)


def test_links_follow_the_proxy_with_one_hop(fixture_dir):
    client = create_app(Settings(data_dir=fixture_dir, proxy_hops=1)).test_client()
    body = strict_json(client.get("/api/stations?limit=2", headers=PROXIED))
    hrefs = [link["href"] for link in body["links"]]
    assert hrefs and all(h.startswith("https://map.example.org/api/stations?") for h in hrefs), hrefs



@pytest.mark.parametrize("hops", [0, 1])
def test_waitress_passes_the_proxy_headers_on_only_when_proxies_are_trusted(fixture_dir, hops):
    """The real server: with one trusted hop the links follow the proxy (and the rate limits see the client's
    address); without, X-Forwarded-* from anyone is ignored."""
    from stationmap.web.server import running_server

    settings = Settings(data_dir=fixture_dir, host="127.0.0.1", port=0, proxy_hops=hops)
    with running_server(settings) as server:
        request = urllib.request.Request(f"http://127.0.0.1:{server.effective_port}/api/stations?limit=2",
                                         headers=PROXIED)
        with urllib.request.urlopen(request, timeout=30) as response:  # 127.0.0.1 only
            body = json.loads(response.read().decode("utf-8"))
    expected = "https://map.example.org/" if hops else f"http://127.0.0.1:{server.effective_port}/"
    hrefs = [link["href"] for link in body["links"]]
    assert hrefs and all(h.startswith(expected + "api/stations?") for h in hrefs), hrefs

def test_forwarded_headers_are_ignored_without_proxies(client):
    body = strict_json(client.get("/api/stations?limit=2", headers=PROXIED))
    hrefs = [link["href"] for link in body["links"]]
    assert hrefs and all(h.startswith("http://localhost/api/stations?") for h in hrefs), hrefs


# --- CORS ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/stations", "/api/nearest?lon=109.06&lat=34.27", "/api/openapi.json",
                                 "/api/stations/T-1", "/api/export.csv"])
def test_read_only_api_answers_any_origin(client, url):
    response = client.get(url, headers={"Origin": "https://other.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.head(url).headers["Access-Control-Allow-Origin"] == "*"


def test_api_errors_are_readable_cross_origin(client):
    response = client.get("/api/nearest?lon=999&lat=34")
    assert_error(response, 400, "'lon'")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight_is_answered(client):
    response = client.options("/api/nearest", headers={"Origin": "https://other.example",
                                                       "Access-Control-Request-Method": "GET",
                                                       "Access-Control-Request-Headers": "Accept-Language"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Accept-Language" in response.headers["Access-Control-Allow-Headers"]


def test_no_cors_on_pages_or_writes(fixture_dir):
    app = create_app(Settings(data_dir=fixture_dir))

    @app.route("/api/_write_for_test", methods=["GET", "POST"])
    def _write():
        return "ok"

    client = app.test_client()
    assert "Access-Control-Allow-Origin" not in client.get("/").headers
    for response in (client.post("/api/_write_for_test"), client.get("/api/_write_for_test"),
                     client.options("/api/_write_for_test", headers={"Access-Control-Request-Method": "POST"})):
        assert "Access-Control-Allow-Origin" not in response.headers
    refused = client.post("/api/nearest")  # a write to a read endpoint is 405 and not offered cross-origin
    assert refused.status_code == 405 and "Access-Control-Allow-Origin" not in refused.headers
    anonymous = client.post("/api/stations")  # the register's write API: 401 without an account, never CORS
    assert anonymous.status_code == 401 and "Access-Control-Allow-Origin" not in anonymous.headers


# --- the export ------------------------------------------------------------------------------------------------

def _exported(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return response


@pytest.fixture(params=[export_mod.CHUNK_ROWS, 2], ids=["one-piece", "pieces-of-2"])
def chunk_rows(request, monkeypatch):
    monkeypatch.setattr(export_mod, "CHUNK_ROWS", request.param)
    return request.param


def test_geojson_export_is_the_station_set(client, fixture_stations, chunk_rows):
    response = _exported(client, "/api/export.geojson")
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="stations.geojson"'
    doc = json.loads(response.get_data(as_text=True))
    assert doc["type"] == "FeatureCollection" and "datum" not in doc
    got = {f["id"]: f["geometry"]["coordinates"] for f in doc["features"]}
    want = {sid: (p.x, p.y) for sid, p in zip(fixture_stations["id"], fixture_stations.geometry, strict=True)}
    assert list(got) == list(want)
    for sid, (lon, lat) in want.items():
        assert got[sid] == pytest.approx([lon, lat], abs=1e-7)
    first = doc["features"][0]["properties"]
    assert first["name"] == fixture_stations["name"].iloc[0] and first["amenities"]


def test_geojson_export_loads_back(client, tmp_path):
    path = tmp_path / "export.geojson"
    path.write_bytes(_exported(client, "/api/export.geojson").get_data())
    assert load_stations(path)["id"].tolist() == ["T-1", "T-2", "T-3", "T-4", "T-5"]


def test_csv_export_round_trips_through_import(client, fixture_stations, tmp_path, runner, chunk_rows):
    response = _exported(client, "/api/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # UTF-8 with BOM, as Excel needs
    table = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str)
    assert list(table.columns[:4]) == ["站点编号", "站点名称", "经度", "纬度"]
    assert table["站点编号"].tolist() == fixture_stations["id"].tolist()
    path, out = tmp_path / "export.csv", tmp_path / "imported.geojson"
    path.write_bytes(raw)
    result = runner.invoke(main, ["import", str(path), "--crs", "wgs84", "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = load_stations(out)
    assert back["id"].tolist() == fixture_stations["id"].tolist()
    assert back["name"].tolist() == fixture_stations["name"].tolist()
    for a, b in zip(back.geometry, fixture_stations.geometry, strict=True):
        assert (a.x, a.y) == pytest.approx((b.x, b.y), abs=1e-7)


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_gcj02_export_is_shifted_in_china(client, fixture_stations, fmt):
    response = _exported(client, f"/api/export.{fmt}?datum=gcj02")
    assert response.headers["Content-Disposition"] == f'attachment; filename="stations-gcj02.{fmt}"'
    if fmt == "geojson":
        doc = json.loads(response.get_data(as_text=True))
        assert doc["datum"] == "gcj02"
        coords = [f["geometry"]["coordinates"] for f in doc["features"]]
    else:
        table = pd.read_csv(io.BytesIO(response.get_data()), encoding="utf-8-sig")
        coords = table[["经度", "纬度"]].to_numpy().tolist()
    for (lon, lat), point in zip(coords, fixture_stations.geometry, strict=True):
        _, _, shift_m = WGS84.inv(point.x, point.y, lon, lat)
        assert 300 < shift_m < 600, shift_m


def test_export_of_one_district(client):
    by_code = _exported(client, "/api/export.csv?district=610111")
    assert by_code.headers["Content-Disposition"] == 'attachment; filename="stations-610111.csv"'
    by_name = _exported(client, "/api/export.csv?district=灞桥区")
    assert by_name.get_data() == by_code.get_data()
    assert_error(client.get("/api/export.geojson?district=440106"), 404, "not served")
    assert_error(client.get("/api/export.geojson?district="), 400, "'district'")
    assert_error(client.get("/api/export.geojson?datum=mars"), 400, "'datum'")
    assert client.get("/api/export.xml").status_code == 404


def test_export_of_an_empty_register(tmp_path):
    (tmp_path / "stations").mkdir()
    client = create_app(Settings(data_dir=tmp_path)).test_client()
    doc = json.loads(_exported(client, "/api/export.geojson").get_data(as_text=True))
    assert doc["features"] == []
    assert _exported(client, "/api/export.csv").get_data().startswith("\ufeff".encode())


def test_openapi_documents_the_export(client):
    doc = strict_json(client.get("/api/openapi.json"))
    for path in ("/api/export.geojson", "/api/export.csv"):
        names = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert set(names) == {"district", "datum"}
        assert not names["district"]["required"]
        assert names["datum"]["schema"]["enum"] == ["wgs84", "gcj02", "bd09"]


# --- gunicorn with deploy/gunicorn.conf.py ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.mark.slow
def test_gunicorn_serves_with_the_recipe(fixture_dir, tmp_path):
    pytest.importorskip("gunicorn")
    if not Path("/proc/self/stat").exists():
        pytest.skip("counting workers reads /proc")
    port = _free_port()
    env = {**os.environ, "STATIONMAP_DATA_DIR": str(fixture_dir), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "3", "STATIONMAP_PROXY_HOPS": "1"}
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                               "stationmap.web.wsgi:app"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            with contextlib.suppress(OSError):
                if _get(base + "/")[0] == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
        status, body = _get(base + "/api/nearest?lon=109.06&lat=34.27&k=2")
        assert status == 200
        assert [f["id"] for f in json.loads(body)["features"]] == ["T-1", "T-2"]
        assert _get(base + "/api/export.csv")[0] == 200
        deadline = time.monotonic() + 30
        while len(_children(server.pid)) != 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_children(server.pid)) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
        log.close()
    assert code == 0, (tmp_path / "gunicorn.log").read_text()
    text = (tmp_path / "gunicorn.log").read_text()
    assert '"GET /api/nearest?lon=109.06&lat=34.27&k=2 HTTP/1.1" 200' in text  # the access log
