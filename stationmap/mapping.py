"""Folium maps and navigation links: the only module that imports folium.

The worker's map is a folium ``Map`` whose Leaflet, plugin and CSS links point at the copies vendored under
``static/vendor/`` (``tools/vendor_static.sh``), never at a CDN. Stations are not embedded in the HTML: a small
element of our own (`AppLayer`) hands the map to ``static/stationmap.js``, which asks the JSON API for the
stations in the current view. Station text therefore never passes through folium's unescaped popup HTML; the
browser script writes it with ``textContent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlencode

import folium
from branca.element import Figure, MacroElement
from jinja2 import Template

from stationmap import geo
from stationmap.errors import BadRequestError

__all__ = [
    "TILE_PROVIDERS",
    "AppLayer",
    "MapParts",
    "NavigationLinks",
    "TileProvider",
    "build_editor_map",
    "build_map",
    "build_planner_map",
    "editor_assets",
    "navigation_links",
    "planner_assets",
    "render_map_parts",
    "tile_provider",
    "vendored_assets",
]

#: Versions folium 0.20.0 links to; ``tools/vendor_static.sh`` vendors exactly these.
LEAFLET_VERSION = "1.9.3"
MARKERCLUSTER_VERSION = "1.1.0"


@dataclass(frozen=True)
class TileProvider:
    """
    A base-map tile source.

    Attributes
    ----------
    key
        Setting value: ``osm``, ``amap`` or ``tianditu``.
    url
        Leaflet URL template.
    attribution
        HTML attribution (fixed text, no user data).
    datum
        Datum the tiles are drawn in: markers are converted to it before display.
    subdomains
        Values of ``{s}``.
    max_zoom
        Deepest zoom the provider serves.
    overlay_url
        Optional label layer drawn on top (Tianditu's annotations).
    """

    key: str
    url: str
    attribution: str
    datum: str = "wgs84"
    subdomains: str = "abc"
    max_zoom: int = 19
    overlay_url: str = ""


TILE_PROVIDERS: dict[str, TileProvider] = {
    "osm": TileProvider(
        key="osm",
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        subdomains="abc",
        max_zoom=19,
    ),
    "amap": TileProvider(
        key="amap",
        url="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        attribution="&copy; 高德地图 AutoNavi",
        datum="gcj02",
        subdomains="1234",
        max_zoom=18,
    ),
    "tianditu": TileProvider(
        key="tianditu",
        # CGCS2000, which agrees with WGS-84 to a few centimetres: no conversion
        url=("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
             "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"),
        overlay_url=("https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                     "&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                     "&TILECOL={x}&tk={key}"),
        attribution="&copy; 天地图 Tianditu",
        subdomains="01234567",
        max_zoom=18,
    ),
}


def tile_provider(name: str, *, tianditu_key: str = "") -> TileProvider:
    """
    Return the tile provider for a setting value, with its key filled in.

    Parameters
    ----------
    name
        ``osm``, ``amap`` or ``tianditu``.
    tianditu_key
        Tianditu API key; required for ``tianditu``.

    Raises
    ------
    BadRequestError
        If `name` is unknown, or ``tianditu`` is chosen without a key.
    """
    key = str(name).strip().lower()
    if key not in TILE_PROVIDERS:
        msg = f"tile_provider must be one of {', '.join(TILE_PROVIDERS)}, got {name!r}"
        raise BadRequestError(msg)
    provider = TILE_PROVIDERS[key]
    if key == "tianditu":
        if not tianditu_key.strip():
            msg = "tile_provider 'tianditu' needs a Tianditu key (--tianditu-key or STATIONMAP_TIANDITU_KEY)"
            raise BadRequestError(msg)
        token = quote(tianditu_key.strip(), safe="")
        provider = TileProvider(key=key, url=provider.url.replace("{key}", token),
                                overlay_url=provider.overlay_url.replace("{key}", token),
                                attribution=provider.attribution, datum=provider.datum,
                                subdomains=provider.subdomains, max_zoom=provider.max_zoom)
    return provider


def vendored_assets(static_url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """
    Return the (name, url) lists of JavaScript and CSS the map page loads, all under `static_url`.

    Parameters
    ----------
    static_url
        URL prefix of the ``static/`` folder, e.g. ``/static``.

    Returns
    -------
    js, css
        In load order: Leaflet, Leaflet.markercluster, then the shared helpers (``common.js``), the app's own script
        and style sheet.
    """
    base = static_url.rstrip("/")
    js = [
        ("leaflet", f"{base}/vendor/leaflet/leaflet.js"),
        ("leaflet_markercluster", f"{base}/vendor/leaflet.markercluster/leaflet.markercluster.js"),
        ("smcommon", f"{base}/common.js"),
        ("stationmap", f"{base}/stationmap.js"),
    ]
    css = [
        ("leaflet_css", f"{base}/vendor/leaflet/leaflet.css"),
        ("markercluster_css", f"{base}/vendor/leaflet.markercluster/MarkerCluster.css"),
        ("markercluster_default_css", f"{base}/vendor/leaflet.markercluster/MarkerCluster.Default.css"),
        ("stationmap_css", f"{base}/stationmap.css"),
    ]
    return js, css


class AppLayer(MacroElement):
    """
    Hand the folium map to one of our page scripts, which loads its layers from the JSON API.

    Parameters
    ----------
    app
        Global name of the page script: ``stationmap`` (``static/stationmap.js``) or ``stationplanner``
        (``static/planner.js``).
    config_id
        Id of the ``<script type="application/json">`` element holding the page's configuration.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.{{ this.app }}.attach({{ this._parent.get_name() }}, {{ this.config_id|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, *, app: str, config_id: str) -> None:
        if not app.isidentifier():  # written into the script as a name, so it must be one
            msg = f"AppLayer app must be a JavaScript identifier, got {app!r}."
            raise ValueError(msg)
        super().__init__()
        self._name = "AppLayer"
        self.app = app
        self.config_id = config_id


def _base_map(*, center_lon: float, center_lat: float, zoom: int, provider: TileProvider,
              assets: tuple[list[tuple[str, str]], list[tuple[str, str]]], layer: AppLayer,
              world_copy_jump: bool) -> folium.Map:
    """Build a folium map with our tiles, only the given (vendored) assets, and `layer`."""
    lon, lat = geo.convert_coords(center_lon, center_lat, src="wgs84", dst=provider.datum)
    m = folium.Map(
        location=(lat, lon),  # folium wants (lat, lon)
        zoom_start=zoom,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_control=True,
        max_zoom=provider.max_zoom,
        world_copy_jump=world_copy_jump,
    )
    m.default_js, m.default_css = assets  # instance attributes replace folium's CDN lists
    folium.TileLayer(tiles=provider.url, attr=provider.attribution, subdomains=provider.subdomains,
                     max_zoom=provider.max_zoom, name=provider.key, control=False).add_to(m)
    if provider.overlay_url:
        folium.TileLayer(tiles=provider.overlay_url, attr=provider.attribution, subdomains=provider.subdomains,
                         max_zoom=provider.max_zoom, name=f"{provider.key}_labels", overlay=True,
                         control=False).add_to(m)
    layer.add_to(m)
    return m


def build_map(*, center_lon: float, center_lat: float, zoom: int, provider: TileProvider, static_url: str,
              config_id: str = "stationmap-config") -> folium.Map:
    """
    Build the worker's map: tiles, vendored assets, and the element that loads stations from the API.

    Parameters
    ----------
    center_lon, center_lat
        Initial centre, WGS-84 degrees (converted to the tiles' datum here).
    zoom
        Initial zoom level.
    provider
        Base-map tiles (see `tile_provider`).
    static_url
        URL prefix of the ``static/`` folder.
    config_id
        Id of the page's JSON configuration element.

    Returns
    -------
    m
        A folium map with no CDN links.
    """
    return _base_map(center_lon=center_lon, center_lat=center_lat, zoom=zoom, provider=provider,
                     assets=vendored_assets(static_url), layer=AppLayer(app="stationmap", config_id=config_id),
                     world_copy_jump=True)


def planner_assets(static_url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """
    Return the (name, url) lists of JavaScript and CSS the planner page loads, all under `static_url`.

    Parameters
    ----------
    static_url
        URL prefix of the ``static/`` folder, e.g. ``/static``.

    Returns
    -------
    js, css
        In load order: Leaflet, the shared helpers (``common.js``), then ``planner.js``; Leaflet's CSS,
        ``stationmap.css`` (shared look and station pins) and ``planner.css``.
    """
    base = static_url.rstrip("/")
    js = [("leaflet", f"{base}/vendor/leaflet/leaflet.js"), ("smcommon", f"{base}/common.js"),
          ("planner", f"{base}/planner.js")]
    css = [("leaflet_css", f"{base}/vendor/leaflet/leaflet.css"), ("stationmap_css", f"{base}/stationmap.css"),
           ("planner_css", f"{base}/planner.css")]
    return js, css


def build_planner_map(*, center_lon: float, center_lat: float, zoom: int, provider: TileProvider, static_url: str,
                      config_id: str = "planner-config") -> folium.Map:
    """
    Build the planner's map: tiles, vendored Leaflet, and the element that draws the planner layers.

    Parameters
    ----------
    center_lon, center_lat
        Initial centre, WGS-84 degrees (converted to the tiles' datum here).
    zoom
        Initial zoom level.
    provider
        Base-map tiles (see `tile_provider`).
    static_url
        URL prefix of the ``static/`` folder.
    config_id
        Id of the page's JSON configuration element.

    Returns
    -------
    m
        A folium map with no CDN links and no data embedded: layers come from the JSON API.
    """
    return _base_map(center_lon=center_lon, center_lat=center_lat, zoom=zoom, provider=provider,
                     assets=planner_assets(static_url), layer=AppLayer(app="stationplanner", config_id=config_id),
                     world_copy_jump=False)


def editor_assets(static_url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """
    Return the (name, url) lists of JavaScript and CSS the editing page (``/edit``) loads, all under `static_url`.

    Returns
    -------
    js, css
        Leaflet, ``common.js`` and ``editor.js``; Leaflet's CSS, ``stationmap.css`` and ``editor.css``.
    """
    base = static_url.rstrip("/")
    js = [("leaflet", f"{base}/vendor/leaflet/leaflet.js"), ("smcommon", f"{base}/common.js"),
          ("editor", f"{base}/editor.js")]
    css = [("leaflet_css", f"{base}/vendor/leaflet/leaflet.css"), ("stationmap_css", f"{base}/stationmap.css"),
           ("editor_css", f"{base}/editor.css")]
    return js, css


def build_editor_map(*, center_lon: float, center_lat: float, zoom: int, provider: TileProvider, static_url: str,
                     config_id: str = "editor-config") -> folium.Map:
    """
    Build the editing page's map: tiles, vendored Leaflet, and the element that hands it to ``static/editor.js``.

    Parameters
    ----------
    center_lon, center_lat
        Initial centre, WGS-84 degrees (converted to the tiles' datum here).
    zoom
        Initial zoom level.
    provider
        Base-map tiles (see `tile_provider`).
    static_url
        URL prefix of the ``static/`` folder.
    config_id
        Id of the page's JSON configuration element.
    """
    return _base_map(center_lon=center_lon, center_lat=center_lat, zoom=zoom, provider=provider,
                     assets=editor_assets(static_url), layer=AppLayer(app="stationeditor", config_id=config_id),
                     world_copy_jump=False)


@dataclass(frozen=True)
class MapParts:
    """
    A rendered folium map split into the pieces our own page template places.

    Attributes
    ----------
    header
        ``<head>`` content: script and style links, map CSS.
    html
        The map's ``<div>``.
    script
        The JavaScript that creates the map (without ``<script>`` tags).
    map_name
        The map's JavaScript variable and element id.
    """

    header: str
    html: str
    script: str
    map_name: str


def render_map_parts(m: folium.Map) -> MapParts:
    """
    Render `m` into header, body and script pieces for a page template.

    Parameters
    ----------
    m
        A folium map (typically from `build_map`).

    Returns
    -------
    parts
        Rendered pieces; they hold no data from station records.
    """
    # folium.Map always sits in a branca Figure (it adds itself to one); branca annotates get_root as Element
    figure = cast(Figure, m.get_root())
    figure.render()  # renders children, which register their links and scripts on the figure
    return MapParts(header=figure.header.render(), html=figure.html.render(), script=figure.script.render(),
                    map_name=m.get_name())


@dataclass(frozen=True)
class NavigationLinks:
    """
    Links that open a station in a navigation app.

    Attributes
    ----------
    amap
        Amap (高德) navigation in the travel mode (``mode`` walk / ride / car); GCJ-02, longitude first.
    baidu
        Baidu map marker with its "go there" button (no mode); BD-09 (``coord_type=bd09ll``), latitude first.
    geo
        RFC 5870 ``geo:`` URI (WGS-84), opened by the phone's default map app.
    osm
        OpenStreetMap, WGS-84.
    apple
        Apple Maps directions (``daddr`` latitude first, ``dirflg`` w / d); GCJ-02 in China, WGS-84 elsewhere.
    baidu_route
        Baidu directions in the travel mode (``mode`` walking / riding / driving); BD-09, latitude first.
    """

    amap: str
    baidu: str
    geo: str
    osm: str
    apple: str = ""
    baidu_route: str = ""

    def to_dict(self) -> dict[str, str]:
        """The links by app: ``amap``, ``baidu``, ``baidu_route``, ``apple``, ``geo``, ``osm``."""
        return {"amap": self.amap, "baidu": self.baidu, "baidu_route": self.baidu_route, "apple": self.apple,
                "geo": self.geo, "osm": self.osm}


def _quote_keep_commas(value: str | bytes, safe: str | bytes = "", encoding: str | None = None,
                       errors: str | None = None) -> str:
    """Percent-encode a query value but keep the commas that separate coordinates, as the apps document them."""
    if isinstance(value, bytes):  # urlencode passes bytes values without encoding/errors
        return quote(value, safe=",")
    return quote(value, safe=",", encoding=encoding, errors=errors)


def navigation_links(lon: float, lat: float, *, name: str, mode: str = "walk",
                     origin: tuple[float, float] | None = None) -> NavigationLinks:
    """
    Build navigation links to a station for a travel mode, converting its coordinates to each app's datum.

    Parameters
    ----------
    lon, lat
        The station, WGS-84 degrees.
    name
        Station name, shown by the app as the destination (URL-encoded here).
    mode
        ``walk``, ``ebike`` or ``drive`` (`stationmap.needs.MODES`): Amap's ``mode`` walk / ride / car, Baidu's
        walking / riding / driving, Apple's ``dirflg`` w / d (Apple has no cycling flag).
    origin
        The worker's position (lon, lat), WGS-84 degrees, as the start of Baidu's directions; without it the
        route starts from the phone's own position.

    Returns
    -------
    links
        Amap (GCJ-02), Baidu marker and directions (BD-09), Apple Maps, ``geo:`` and OpenStreetMap (WGS-84)
        links.

    Notes
    -----
    Apple Maps gets GCJ-02 coordinates: inside China its map is Amap's GCJ-02 data and coordinates given in a URL
    are placed on it as they are, so WGS-84 would put the pin 300-600 m off; outside China
    `stationmap.geo.wgs84_to_gcj02` returns WGS-84 unchanged, which is what Apple wants there.

    Raises
    ------
    BadRequestError
        If `mode` is not a travel mode.
    """
    from stationmap.needs import get_mode  # the vocabulary of modes, a domain module below this one

    travel = get_mode(mode)
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(lon, lat)
    bd_lon, bd_lat = geo.wgs84_to_bd09(lon, lat)
    amap = "https://uri.amap.com/navigation?" + urlencode(
        {"to": f"{gcj_lon:.6f},{gcj_lat:.6f},{name}", "mode": travel.amap, "coordinate": "gaode",
         "callnative": "1", "src": "stationmap"}, quote_via=_quote_keep_commas)
    baidu = "https://api.map.baidu.com/marker?" + urlencode(
        # Baidu's URI API puts latitude first
        {"location": f"{bd_lat:.6f},{bd_lon:.6f}", "title": name, "content": name, "output": "html",
         "coord_type": "bd09ll", "src": "webapp.stationmap"}, quote_via=_quote_keep_commas)
    route: dict[str, str] = {}
    if origin is not None:  # without one, Baidu starts from the phone's position
        o_lon, o_lat = geo.wgs84_to_bd09(*origin)
        route["origin"] = f"latlng:{o_lat:.6f},{o_lon:.6f}|name:起点"
    route.update({"destination": f"latlng:{bd_lat:.6f},{bd_lon:.6f}|name:{name}", "mode": travel.baidu,
                  "coord_type": "bd09ll", "output": "html", "src": "webapp.stationmap"})
    baidu_route = "https://api.map.baidu.com/direction?" + urlencode(route, quote_via=_quote_keep_commas)
    apple = "https://maps.apple.com/?" + urlencode(
        {"daddr": f"{gcj_lat:.6f},{gcj_lon:.6f}", "dirflg": travel.apple, "q": name}, quote_via=_quote_keep_commas)
    # RFC 5870 and OSM's URL both put latitude first
    geo_uri = f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(name, safe='')})"
    osm = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
    return NavigationLinks(amap=amap, baidu=baidu, geo=geo_uri, osm=osm, apple=apple, baidu_route=baidu_route)
