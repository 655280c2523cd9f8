"""The folium map (no CDN, vendored assets, no station data in the HTML) and navigation links."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from stationmap import geo
from stationmap.config import BUNDLED_STATIC_DIR
from stationmap.errors import BadRequestError
from stationmap.mapping import (
    LEAFLET_VERSION,
    MARKERCLUSTER_VERSION,
    build_map,
    navigation_links,
    render_map_parts,
    tile_provider,
    vendored_assets,
)


def _render(provider: str = "osm", **kwargs) -> str:
    m = build_map(center_lon=109.06, center_lat=34.27, zoom=12, provider=tile_provider(provider, **kwargs),
                  static_url="/static")
    return m.get_root().render()


def test_map_links_only_vendored_assets():
    html = _render()
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in html
    assert "/static/stationmap.js" in html
    for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna.bootstrapcdn.com"):
        assert cdn not in html
    # every script/link URL is local
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/static/") for u in urls)


def test_vendored_files_exist_and_match_folium_versions():
    import folium
    from folium.plugins import MarkerCluster

    js, css = vendored_assets("/static")
    for _name, url in js + css:
        assert (BUNDLED_STATIC_DIR.parent / url.removeprefix("/")).is_file(), url
    assert f"leaflet@{LEAFLET_VERSION}" in dict(folium.Map.default_js)["leaflet"]
    assert f"/{MARKERCLUSTER_VERSION}/" in dict(MarkerCluster.default_js)["markerclusterjs"]
    versions = (BUNDLED_STATIC_DIR / "vendor" / "VERSIONS.txt").read_text()
    assert f"leaflet {LEAFLET_VERSION}" in versions
    assert f"leaflet.markercluster {MARKERCLUSTER_VERSION}" in versions
    assert (BUNDLED_STATIC_DIR / "vendor" / "leaflet" / "images" / "marker-icon.png").is_file()


def test_map_centre_is_lat_lon_for_folium():
    assert "[34.27, 109.06]" in _render()


def test_amap_tiles_centre_is_converted_to_gcj02():
    lon, lat = geo.wgs84_to_gcj02(109.06, 34.27)
    html = _render("amap")
    assert "autonavi.com" in html
    assert f"[{lat}, {lon}]" in html


def test_station_layer_hands_map_to_script():
    m = build_map(center_lon=109.06, center_lat=34.27, zoom=12, provider=tile_provider("osm"), static_url="/s")
    parts = render_map_parts(m)
    assert f"window.stationmap.attach({parts.map_name}, \"stationmap-config\")" in parts.script
    assert parts.map_name in parts.html
    assert "<script src=\"/s/vendor/leaflet/leaflet.js\"></script>" in parts.header


def test_tile_provider_validation():
    with pytest.raises(BadRequestError, match="tile_provider must be one of"):
        tile_provider("google")
    with pytest.raises(BadRequestError, match="Tianditu key"):
        tile_provider("tianditu")
    provider = tile_provider("tianditu", tianditu_key="abc&d")
    assert "tk=abc%26d" in provider.url and "tk=abc%26d" in provider.overlay_url


def test_amap_link_is_gcj02_longitude_first():
    links = navigation_links(109.06, 34.27, name="纺织公园爱心驿站")
    query = parse_qs(urlsplit(links.amap).query)
    lon_s, lat_s, name = query["to"][0].split(",")
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(109.06, 34.27)
    assert float(lon_s) == pytest.approx(gcj_lon, abs=1e-6)
    assert float(lat_s) == pytest.approx(gcj_lat, abs=1e-6)
    assert name == "纺织公园爱心驿站"
    # the GCJ-02 shift at Xi'an is a few hundred meters
    _, _, shift = geo.GEOD.inv(109.06, 34.27, gcj_lon, gcj_lat)
    assert 100 < shift < 1000
    assert query["mode"] == ["walk"] and query["coordinate"] == ["gaode"]


def test_baidu_link_is_bd09_latitude_first():
    links = navigation_links(109.06, 34.27, name="站")
    query = parse_qs(urlsplit(links.baidu).query)
    lat_s, lon_s = query["location"][0].split(",")
    bd_lon, bd_lat = geo.wgs84_to_bd09(109.06, 34.27)
    assert float(lat_s) == pytest.approx(bd_lat, abs=1e-6)
    assert float(lon_s) == pytest.approx(bd_lon, abs=1e-6)
    assert query["coord_type"] == ["bd09ll"]


def test_neutral_links_are_wgs84():
    links = navigation_links(109.06, 34.27, name="A&B (x)")
    assert links.geo.startswith("geo:34.270000,109.060000?q=34.270000,109.060000(")
    assert unquote(links.geo.split("(", 1)[1][:-1]) == "A&B (x)"
    assert "mlat=34.270000&mlon=109.060000" in links.osm


def test_links_encode_hostile_names():
    hostile = "<img src=x onerror=alert(1)>&to=1,2"
    links = navigation_links(109.06, 34.27, name=hostile)
    for url in (links.amap, links.baidu, links.geo):
        assert "<" not in url and ">" not in url and " " not in url
    assert parse_qs(urlsplit(links.amap).query)["to"][0].endswith(hostile)


def test_links_outside_china_are_not_shifted():
    links = navigation_links(24.94, 60.17, name="Helsinki")
    assert "to=24.940000,60.170000," in links.amap


def test_both_pages_load_the_shared_helpers_before_their_script():
    from stationmap.mapping import planner_assets

    for js, _ in (vendored_assets("/static"), planner_assets("/static")):
        names = [name for name, _ in js]
        assert names.index("smcommon") == names.index(names[-1]) - 1  # common.js right before the page script
    assert (BUNDLED_STATIC_DIR / "common.js").is_file()
