/* stationmap: the worker's map page.
 *
 * The folium map calls window.stationmap.attach(map, configId). Stations come from the JSON API for the
 * current view (/api/view), the nearest list from /api/nearest, details from /api/stations/<id>.
 * Every string that comes from data is written with textContent or as a DOM attribute, never as HTML.
 * Coordinates are [lon, lat] everywhere in this file except where Leaflet wants [lat, lon] (marked).
 */
(function () {
  "use strict";

  var state = {
    map: null, cfg: null, lang: "zh", position: null, positionDatum: "wgs84", selectedId: null,
    viewAbort: null, nearAbort: null, viewTimer: null, detailId: null, nearest: [], searchQuery: ""
  };
  var layers = {};

  function $(id) { return document.getElementById(id); }

  var el = window.smcommon.el;
  var clear = window.smcommon.clear;
  var t = window.smcommon.translator(function () { return state; });


  function vocab(name, key) {
    var entry = (state.cfg.strings[name] || {})[key];
    return entry ? (entry[state.lang] || entry.zh) : String(key);
  }

  function formatDistance(meters) {
    if (meters < 1000) { return t("distance_m", { n: Math.round(meters) }); }
    return t("distance_km", { n: (meters / 1000).toFixed(meters < 10000 ? 1 : 0) });
  }

  function stars(n) {
    var count = Math.max(0, Math.min(5, Number(n) || 0));
    return count ? "★".repeat(count) + "☆".repeat(5 - count) : t("stars_unrated");
  }

  function safeHref(url) {
    var text = String(url || "");
    return /^(https:\/\/|geo:|tel:)/.test(text) ? text : null;
  }

  function apiUrl(path, params) { return window.smcommon.apiUrl(state.cfg.api, path, params); }

  function getJson(url, abortKey) {
    var options = {};
    if (abortKey) {
      if (state[abortKey]) { state[abortKey].abort(); }
      state[abortKey] = new AbortController();
      options.signal = state[abortKey].signal;
    }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body && body.error ? body.error : String(response.status)); }
        return body;
      });
    });
  }

  function isAbort(err) { return err && err.name === "AbortError"; }

  /* ---- filters ------------------------------------------------------------------------------------ */

  function filterParams() {
    var form = $("sm-filter-form");
    var data = new FormData(form);
    var params = {};
    var amenities = data.getAll("amenity");
    if (amenities.length) { params.amenity = amenities.join(","); }
    var open = data.get("open");
    if (open === "now") { params.open_at = "now"; }
    else if (open === "at" && data.get("time")) { params.open_at = data.get("time"); }
    var minStars = data.get("min_stars");
    if (minStars && minStars !== "0") { params.min_stars = minStars; }
    var toilet = data.get("toilet");
    if (toilet === "onsite_nearby") { params.toilet = "onsite,nearby"; }
    else if (toilet === "onsite") { params.toilet = "onsite"; }
    var count = amenities.length + (params.open_at ? 1 : 0) + (params.min_stars ? 1 : 0) + (params.toilet ? 1 : 0);
    $("sm-filter-count").textContent = count ? String(count) : "";
    return params;
  }

  function applyPreset(key) {
    var preset = state.cfg.strings.presets[key];
    var form = $("sm-filter-form");
    Array.prototype.forEach.call(form.querySelectorAll("input[name=amenity]"), function (box) {
      box.checked = !!preset && preset.amenities.indexOf(box.value) >= 0;
    });
    if (!preset) { return; }
    form.querySelector("select[name=toilet]").value = preset.toilet || "";
    Array.prototype.forEach.call(form.querySelectorAll("input[name=open]"), function (radio) {
      radio.checked = radio.value === (preset.open || "");
    });
    if (preset.time) { form.querySelector("input[name=time]").value = preset.time; }
  }

  function filtersChanged() {
    scheduleView(0);
    if (state.position) { loadNearest(); }
  }

  /* ---- map view: markers and clusters ----------------------------------------------------------- */

  function toLatLng(lonlat) { return L.latLng(lonlat[1], lonlat[0]); }  // Leaflet wants [lat, lon]

  function pinIcon(item) {
    var classes = "sm-pin sm-s" + item.stars + (item.open ? " sm-open" : " sm-closed");
    if (item.honour) { classes += " sm-honour-" + item.honour; }
    if (item.id === state.selectedId) { classes += " sm-selected"; }
    var inner = el("span", { className: classes }, [el("span", { className: "sm-pin-stars", text: item.stars ? item.stars + "★" : "–" })]);
    if (item.honour === "national") { inner.appendChild(el("span", { className: "sm-pin-badge", text: t("most_beautiful") })); }
    // a 44 px tap target; the tag's pointer tip sits on the station
    return L.divIcon({ className: "sm-pin-wrap", html: inner, iconSize: [44, 44], iconAnchor: [22, 27] });
  }

  function tooltipContent(item) {
    var box = el("span", { className: "sm-tip" }, [el("strong", { text: item.name })]);
    box.appendChild(el("br"));
    box.appendChild(document.createTextNode(stars(item.stars) + " · " + (item.open ? t("legend_open") : t("legend_closed"))));
    return box;
  }

  function drawPoints(items) {
    layers.points.clearLayers();
    layers.cells.clearLayers();
    var markers = items.map(function (item) {
      var marker = L.marker(toLatLng([item.lon, item.lat]), {
        icon: pinIcon(item), title: item.name, alt: item.name, keyboard: true, riseOnHover: true
      });
      marker.bindTooltip(tooltipContent(item), { direction: "top", offset: [0, -16] });
      marker.on("click", function () { openDetail(item.id, true); });
      marker.stationId = item.id;
      return marker;
    });
    layers.points.addLayers(markers);
  }

  function drawCells(items) {
    layers.points.clearLayers();
    layers.cells.clearLayers();
    items.forEach(function (item) {
      var size = item.count < 100 ? 40 : item.count < 1000 ? 48 : 56;
      var label = item.count >= 10000 ? Math.round(item.count / 1000) + "k" : String(item.count);
      var icon = L.divIcon({
        className: "sm-cell-wrap",
        html: el("span", { className: "sm-cell", text: label }),
        iconSize: [size, size], iconAnchor: [size / 2, size / 2]
      });
      var marker = L.marker(toLatLng([item.lon, item.lat]), { icon: icon, title: t("stations_in_view", { n: item.count }), keyboard: true });
      marker.on("click", function () { state.map.setView(marker.getLatLng(), Math.min(state.map.getZoom() + 3, 18)); });
      layers.cells.addLayer(marker);
    });
  }

  function scheduleView(delay) {
    clearTimeout(state.viewTimer);
    state.viewTimer = setTimeout(loadView, delay === undefined ? 150 : delay);
  }

  function loadView() {
    var b = state.map.getBounds();
    var west = Math.max(-180, b.getWest()), east = Math.min(180, b.getEast());
    var south = Math.max(-90, b.getSouth()), north = Math.min(90, b.getNorth());
    var params = filterParams();
    // bounds are in the tiles' datum; a GCJ-02 shift (< 1 km) is covered by padding
    var pad = state.cfg.map_datum === "wgs84" ? 0 : 0.01;
    params.bbox = [west - pad, south - pad, east + pad, north + pad].map(function (v) { return v.toFixed(6); }).join(",");
    params.zoom = state.map.getZoom();
    params.map_datum = state.cfg.map_datum;
    getJson(apiUrl("/view", params), "viewAbort").then(function (body) {
      var items = body.items.map(function (item) {
        return item;
      });
      if (body.mode === "points") {
        drawPoints(items);
        $("sm-viewinfo").textContent = t("stations_in_view", { n: body.total });
      } else {
        drawCells(items);
        $("sm-viewinfo").textContent = t("stations_in_view", { n: body.total }) + " · " + t("zoom_in_hint");
      }
    }).catch(function (err) {
      if (!isAbort(err)) { $("sm-viewinfo").textContent = t("load_failed") + err.message; }
    });
  }

  /* ---- position and nearest ----------------------------------------------------------------------- */

  function setPosition(lonlat, datum) {
    state.position = lonlat;
    state.positionDatum = datum;
    loadNearest(true);
  }

  function drawPosition(mapLonLat) {
    layers.position.clearLayers();
    var here = toLatLng(mapLonLat);
    L.circleMarker(here, { radius: 9, color: "#fff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1 })
      .bindTooltip(t("your_position")).addTo(layers.position);
  }

  function loadNearest(recentre) {
    if (!state.position) { return; }
    var params = filterParams();
    params.lon = state.position[0].toFixed(7);
    params.lat = state.position[1].toFixed(7);
    params.datum = state.positionDatum;
    params.k = state.cfg.k;
    params.lang = state.lang;
    params.map_datum = state.cfg.map_datum;
    $("sm-status").textContent = t("loading");
    getJson(apiUrl("/nearest", params), "nearAbort").then(function (body) {
      var origin = body.origin.map_lonlat || [body.origin.lon, body.origin.lat];
      drawPosition(origin);
      state.nearest = body.features;
      renderList();
      if (recentre) {
        var bounds = L.latLngBounds([toLatLng(origin)]);
        body.features.slice(0, 3).forEach(function (f) { bounds.extend(toLatLng(mapLonLat(f))); });
        state.map.fitBounds(bounds.pad(0.2), { maxZoom: 16 });
      }
    }).catch(function (err) {
      if (!isAbort(err)) { $("sm-status").textContent = t("load_failed") + err.message; }
    });
  }

  function mapLonLat(feature) {
    return feature.properties.map_lonlat || feature.geometry.coordinates;
  }

  function amenityChips(keys, limit) {
    var list = el("ul", { className: "sm-amenities" });
    (keys || []).slice(0, limit || 99).forEach(function (key) {
      list.appendChild(el("li", { className: "sm-amenity sm-a-" + key, text: vocab("amenities", key) }));
    });
    if (limit && keys && keys.length > limit) { list.appendChild(el("li", { className: "sm-amenity sm-more", text: "+" + (keys.length - limit) })); }
    return list;
  }

  function bestHonour(honours) {
    var order = { national: 3, provincial: 2, city: 1 };
    var best = null;
    (honours || []).forEach(function (h) { if (h && order[h.level] && (!best || order[h.level] > order[best.level])) { best = h; } });
    return best;
  }

  function renderList() {
    var list = $("sm-list");
    clear(list);
    var features = state.nearest;
    $("sm-status").textContent = features.length ? t("result_count", { n: features.length }) : t("nearby_none");
    features.forEach(function (feature) {
      var p = feature.properties;
      var stateClass = p.open_now === true ? "sm-open" : p.open_now === false ? "sm-closed" : "sm-unknown";
      var honour = bestHonour(p.honours);
      var top = el("span", { className: "sm-item-top" }, [
        el("span", { className: "sm-item-name", text: p.name }),
        honour && honour.level === "national" ? el("span", { className: "sm-honour-badge", text: t("most_beautiful") }) : null
      ]);
      var meta = el("span", { className: "sm-item-meta" }, [
        el("span", { className: "sm-item-dist", text: formatDistance(p.distance_m) }),
        el("span", { className: "sm-item-walk", text: t("walk_min", { n: p.walk_min }) }),
        el("span", { className: "sm-item-stars", text: stars(p.stars), "aria-label": t("stars") + " " + (p.stars || 0) })
      ]);
      var status = el("span", { className: "sm-item-state " + stateClass, text: p.state_text });
      var button = el("button", {
        type: "button", className: "sm-item", "data-station-id": p.id,
        onclick: function () { focusStation(feature); }
      }, [top, meta, status, amenityChips(p.amenities, 6)]);
      list.appendChild(el("li", null, [button]));
    });
  }

  function focusStation(feature) {
    var p = feature.properties;
    state.selectedId = p.id;
    var where = toLatLng(mapLonLat(feature));
    state.map.setView(where, Math.max(state.map.getZoom(), 16));
    drawSelected(where);
    openDetail(p.id, false);
  }

  function drawSelected(latlng) {
    layers.selected.clearLayers();
    L.circleMarker(latlng, { radius: 26, color: "#d93025", weight: 4, fill: false, interactive: false }).addTo(layers.selected);
  }

  function locate() {
    var status = $("sm-status");
    if (!("geolocation" in navigator)) {
      status.textContent = t("locate_failed", { reason: t("locate_unsupported") });
      return;
    }
    if (!window.isSecureContext) {
      status.textContent = t("locate_failed", { reason: t("locate_https") });
      return;
    }
    status.textContent = t("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPosition([pos.coords.longitude, pos.coords.latitude], "wgs84");
    }, function (err) {
      status.textContent = t("locate_failed", { reason: err.message || String(err.code) });
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  /* ---- station detail ----------------------------------------------------------------------------- */

  function row(label, value) {
    if (value === null || value === undefined || value === "") { return null; }
    var dd = typeof value === "string" ? el("dd", { text: value }) : el("dd", null, [value]);
    return el("div", { className: "sm-drow" }, [el("dt", { text: label }), dd]);
  }

  function openDetail(id, fromMarker) {
    state.detailId = id;
    var params = { lang: state.lang, map_datum: state.cfg.map_datum };
    getJson(apiUrl("/stations/" + encodeURIComponent(id), params), "detailAbort").then(function (feature) {
      if (fromMarker) {
        state.selectedId = id;
        drawSelected(toLatLng(mapLonLat(feature)));
      }
      renderDetail(feature);
    }).catch(function (err) {
      if (!isAbort(err)) { $("sm-status").textContent = t("load_failed") + err.message; }
    });
  }

  function renderDetail(feature) {
    var p = feature.properties;
    var panel = $("sm-detail");
    panel.setAttribute("data-station-id", p.id);
    $("sm-detail-name").textContent = p.name;
    var body = $("sm-detail-body");
    clear(body);
    if (p.demo) {
      body.appendChild(el("p", { className: "sm-demo sm-demo-inline", role: "note" }, [
        el("strong", { text: t("demo_notice_title") + " " }), state.cfg.strings.demo_notice[state.lang]
      ]));
    }
    if (p.name_en && state.lang === "en") { body.appendChild(el("p", { className: "sm-detail-en", text: p.name_en })); }
    var stateClass = p.open_now === true ? "sm-open" : p.open_now === false ? "sm-closed" : "sm-unknown";
    body.appendChild(el("p", { className: "sm-detail-state " + stateClass, text: p.state_text }));

    var nav = el("div", { className: "sm-nav", role: "group", "aria-label": t("navigate") });
    [["amap", "nav_amap"], ["baidu", "nav_baidu"], ["geo", "nav_geo"], ["osm", "nav_osm"]].forEach(function (pair) {
      var href = safeHref(p.navigation && p.navigation[pair[0]]);
      if (href) { nav.appendChild(el("a", { className: "sm-btn sm-nav-" + pair[0], href: href, target: "_blank", rel: "noopener noreferrer", text: t(pair[1]) })); }
    });
    body.appendChild(el("h3", { className: "sm-h3", text: t("navigate") }));
    body.appendChild(nav);

    var honours = el("ul", { className: "sm-honours" });
    (p.honours || []).forEach(function (h) {
      honours.appendChild(el("li", { text: [h.year, vocab("honour_levels", h.level), h.title].filter(Boolean).join(" · ") }));
    });
    var phone = p.phone ? el("a", { href: "tel:" + String(p.phone).replace(/[^0-9+]/g, ""), text: p.phone }) : null;
    var complaint = el("a", { href: "tel:" + state.cfg.strings.complaint_line, text: state.cfg.strings.complaint_line });
    var groups = (p.served_groups || []).map(function (g) { return vocab("served_groups", g); }).join(state.lang === "zh" ? "、" : ", ");
    var area = [p.area_m2 ? p.area_m2 + " m²" : null, p.capacity ? String(p.capacity) : null].filter(Boolean).join(" / ");
    var list = el("dl", { className: "sm-dl" }, [
      row(t("address"), p.address),
      row(t("hours"), p.hours_text || p.opening_hours),
      row(t("stars"), stars(p.stars)),
      p.rating ? row(t("rating"), p.rating.headline) : null,
      (p.honours || []).length ? row(t("honours"), honours) : null,
      row(t("amenities"), amenityChips(p.amenities)),
      row(t("toilet"), p.toilet ? vocab("toilet", p.toilet) : null),
      row(t("kind"), p.kind ? vocab("kinds", p.kind) : null),
      row(t("host"), [p.host_type ? vocab("host_types", p.host_type) : null, p.host_org].filter(Boolean).join(" · ")),
      row(t("served_groups"), groups),
      row(t("area_capacity"), area),
      row(t("phone"), phone),
      row(t("complaint"), complaint),
      row(t("last_verified"), p.last_verified)
    ].filter(Boolean));
    body.appendChild(list);
    panel.hidden = false;
    document.body.classList.add("sm-detail-open");
    $("sm-detail-close").focus({ preventScroll: true });
  }

  function closeDetail() {
    $("sm-detail").hidden = true;
    document.body.classList.remove("sm-detail-open");
    state.detailId = null;
  }

  /* ---- search ------------------------------------------------------------------------------------- */

  function search(query) {
    var box = $("sm-search-results");
    clear(box);
    state.searchQuery = query;
    if (!query) { return; }
    box.appendChild(el("p", { className: "sm-status", text: t("loading") }));
    getJson(apiUrl("/stations", { q: query, limit: 20 }), "searchAbort").then(function (body) {
      clear(box);
      if (!body.features.length) { box.appendChild(el("p", { className: "sm-status", text: t("search_none") })); return; }
      box.appendChild(el("h2", { className: "sm-h3", text: t("search_results") + " (" + body.numberMatched + ")" }));
      var list = el("ul", { className: "sm-list sm-list-search" });
      body.features.forEach(function (feature) {
        var p = feature.properties;
        list.appendChild(el("li", null, [el("button", {
          type: "button", className: "sm-item", "data-station-id": p.id,
          onclick: function () {
            state.selectedId = p.id;
            var where = toLatLng(feature.geometry.coordinates);
            state.map.setView(where, 16);
            openDetail(p.id, true);
          }
        }, [el("span", { className: "sm-item-name", text: p.name }), el("span", { className: "sm-item-meta", text: p.address || "" })])]));
      });
      box.appendChild(list);
    }).catch(function (err) {
      if (!isAbort(err)) { clear(box); box.appendChild(el("p", { className: "sm-status", text: t("load_failed") + err.message })); }
    });
  }

  /* ---- language ----------------------------------------------------------------------------------- */

  function applyLanguage() {
    document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) { node.textContent = t(node.getAttribute("data-i18n")); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-aria]"), function (node) { node.setAttribute("aria-label", t(node.getAttribute("data-i18n-aria"))); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (node) { node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder"))); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-amenity]"), function (node) { node.textContent = vocab("amenities", node.getAttribute("data-i18n-amenity")); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-preset]"), function (node) {
      node.textContent = state.cfg.strings.presets[node.getAttribute("data-i18n-preset")].label[state.lang];
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-report-lang]"), function (node) {
      var link = new URL(node.getAttribute("href"), window.location.href);
      link.searchParams.set("lang", state.lang);
      node.setAttribute("href", link.pathname + link.search);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-notice]"), function (node) {
      node.textContent = state.cfg.notices[Number(node.getAttribute("data-notice"))][state.lang];
    });
    var url = new URL(window.location.href);
    url.searchParams.set("lang", state.lang);
    window.history.replaceState(null, "", url.toString());
  }

  function switchLanguage() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    applyLanguage();
    if (state.position) { loadNearest(false); } else { $("sm-status").textContent = t("nearby_empty"); }
    if (state.detailId) { openDetail(state.detailId, false); }
    scheduleView(0);
  }

  /* ---- wiring ------------------------------------------------------------------------------------- */

  function attach(map, configId) {
    state.map = map;
    state.cfg = JSON.parse($(configId).textContent);
    state.lang = state.cfg.lang;
    layers.points = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 48, spiderfyOnMaxZoom: true, chunkedLoading: true });
    layers.cells = L.layerGroup();
    layers.position = L.layerGroup();
    layers.selected = L.layerGroup();
    [layers.points, layers.cells, layers.selected, layers.position].forEach(function (layer) { layer.addTo(map); });

    if (state.cfg.bounds) {
      var b = state.cfg.bounds;  // [west, south, east, north]
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [24, 24], maxZoom: 14 });
    }
    map.on("moveend", function () { scheduleView(); });
    map.on("click", function (event) {
      setPosition([event.latlng.lng, event.latlng.lat], state.cfg.map_datum);
    });

    $("sm-locate").addEventListener("click", locate);
    $("sm-lang").addEventListener("click", switchLanguage);
    $("sm-detail-close").addEventListener("click", closeDetail);
    document.addEventListener("keydown", function (event) { if (event.key === "Escape" && !$("sm-detail").hidden) { closeDetail(); } });
    $("sm-search").addEventListener("submit", function (event) { event.preventDefault(); search($("sm-q").value.trim()); });
    var form = $("sm-filter-form");
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "preset") { applyPreset(event.target.value); }
      filtersChanged();
    });
    form.addEventListener("reset", function () { setTimeout(filtersChanged, 0); });
    filterParams();
    applyLanguage();
    scheduleView(0);
    setTimeout(function () { map.invalidateSize(); }, 0);
  }

  window.stationmap = { attach: attach, setPosition: setPosition };
})();
