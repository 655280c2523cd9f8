/* stationmap: the worker's map page.
 *
 * The folium map calls window.stationmap.attach(map, configId). Stations come from the JSON API for the
 * current view (/api/view), the ranked list for a worker's needs from /api/nearest, details from
 * /api/stations/<id>. Every string that comes from data is written with textContent or as a DOM attribute,
 * never as HTML. Coordinates are [lon, lat] everywhere in this file except where Leaflet wants [lat, lon] (marked).
 * On phones the list is a bottom sheet over the map (collapsed / half / full); on wide screens a side list.
 * /?station=<id> (the printed QR codes) opens the page centred on that station with its detail open. Each detail
 * carries the workers' feedback form (POST /api/stations/<id>/feedback, no account): "here and open" in one tap,
 * a 1-5 rating, or a problem; it is sent at once or not at all (never queued for later).
 */
(function () {
  "use strict";

  var SHEET_STATES = ["collapsed", "half", "full"];
  var DAY_KEYS = ["day_su", "day_mo", "day_tu", "day_we", "day_th", "day_fr", "day_sa"];  // Date.getDay() order

  var state = {
    map: null, cfg: null, lang: "zh", position: null, positionDatum: "wgs84", selectedId: null,
    viewAbort: null, nearAbort: null, searchAbort: null, detailAbort: null, viewTimer: null, detailId: null,
    nearest: [], partial: [], nothingWithin: null, need: null, mode: "walk",
    day: null, time: "", lastBody: null,
    fb: null, fbPick: false
  };
  var layers = {};

  function $(id) { return document.getElementById(id); }

  var el = window.smcommon.el;
  var clear = window.smcommon.clear;
  var t = window.smcommon.translator(function () { return state; });

  function forEach(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }

  function vocab(name, key) {
    var entry = (state.cfg.strings[name] || {})[key];
    return entry ? (entry[state.lang] || entry.zh) : String(key);
  }

  function label(entry) { return entry ? (entry[state.lang] || entry.zh) : ""; }

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
    return /^(https:\/\/|geo:|tel:|maps:)/.test(text) ? text : null;
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

  /* ---- the moment: day chips and a time ---------------------------------------------------------- */

  // Today's date and weekday in China (UTC+8, no daylight saving), whatever the phone's time zone.
  function chinaToday() {
    var d = new Date(Date.now() + 8 * 3600 * 1000);
    return { y: d.getUTCFullYear(), m: d.getUTCMonth(), d: d.getUTCDate(), wd: d.getUTCDay() };
  }

  function chinaNowTime() {
    var d = new Date(Date.now() + 8 * 3600 * 1000);
    return String(d.getUTCHours()).padStart(2, "0") + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  }

  // state.day: null (now), or days from today (0 today, 1 tomorrow, ... 6).
  function momentParam() {
    if (state.day === null) { return "now"; }
    var today = chinaToday();
    var when = new Date(Date.UTC(today.y, today.m, today.d + state.day));
    var date = when.getUTCFullYear() + "-" + String(when.getUTCMonth() + 1).padStart(2, "0") + "-" +
      String(when.getUTCDate()).padStart(2, "0");
    return date + "T" + (state.time || "00:00") + ":00+08:00";
  }

  function dayWord(offset) {
    if (offset === 0) { return t("day_today"); }
    if (offset === 1) { return t("day_tomorrow"); }
    return t(DAY_KEYS[(chinaToday().wd + offset) % 7]);
  }

  function whenLabel() {
    return state.day === null ? t("when_now") : dayWord(state.day) + " " + state.time;
  }

  function renderDays() {
    var box = $("sm-days");
    clear(box);
    var today = chinaToday().wd;
    var chips = [[0, t("day_today")], [1, t("day_tomorrow")]];
    for (var i = 0; i < 7; i += 1) {  // Monday first, each the next such day (today's weekday is today)
      var wd = (i + 1) % 7;
      chips.push([(wd - today + 7) % 7, t(DAY_KEYS[wd]), DAY_KEYS[wd]]);
    }
    chips.forEach(function (chip) {
      var pressed = state.day !== null && state.day === chip[0];
      box.appendChild(el("button", {
        type: "button", className: "sm-chip", "aria-pressed": pressed ? "true" : "false",
        "data-day": String(chip[0]), "data-weekday": chip[2] || null, text: chip[1],
        onclick: function () { setMoment(chip[0], $("sm-time").value || state.time || chinaNowTime()); }
      }));
    });
    $("sm-when-label").textContent = whenLabel();
    $("sm-when-open").classList.toggle("sm-active", state.day !== null);
  }

  function setMoment(day, time) {
    state.day = day;
    state.time = day === null ? "" : time;
    $("sm-time").value = day === null ? chinaNowTime() : time;
    renderDays();
    filtersChanged();
  }

  /* ---- needs, mode, filters ------------------------------------------------------------------------ */

  function modeInfo(mode) { return (state.cfg.strings.modes || {})[mode] || {}; }

  function filterParams() {
    var data = new FormData($("sm-filter-form"));
    // "now" is left to the server: then a need's own hours apply (sanitation: open at 05:00) or opening only ranks
    var params = state.day === null ? {} : { open_at: momentParam() };
    var minStars = data.get("min_stars");
    if (minStars && minStars !== "0") { params.min_stars = minStars; }
    if (state.need) { params.need = state.need; }
    params.mode = state.mode;
    $("sm-filter-count").textContent = params.min_stars ? "1" : "";
    return params;
  }

  function setNeed(key) {
    state.need = state.need === key ? null : key;
    var need = state.need && state.cfg.strings.needs[state.need];
    if (need && need.mode) { state.mode = need.mode; }
    renderToggles();
    filtersChanged();
  }

  function setMode(key) {
    state.mode = key;
    renderToggles();
    if (state.position) { loadNearest(true); }
  }

  function renderToggles() {
    forEach(".sm-need", function (node) { node.setAttribute("aria-pressed", node.getAttribute("data-need") === state.need ? "true" : "false"); });
    forEach(".sm-mode", function (node) { node.setAttribute("aria-pressed", node.getAttribute("data-mode") === state.mode ? "true" : "false"); });
  }

  function filtersChanged() {
    scheduleView(0);
    if (state.position) { loadNearest(true); }
  }

  /* ---- the bottom sheet (phones) and the time/filter panel --------------------------------------- */

  // The sheet's height animates (.18 s); while it does it carries data-moving, so whatever measures it (the
  // end-to-end tests, which once read a card's place mid-rise on a busy machine) can wait for it to settle.
  function setSheet(which) {
    var sheet = $("sm-sheet");
    if (sheet.getAttribute("data-sheet") !== which && isPhone()) {
      sheet.setAttribute("data-moving", "");
      clearTimeout(state.sheetSettle);
      state.sheetSettle = setTimeout(function () { sheet.removeAttribute("data-moving"); }, 1000);  // no transitionend
    }
    sheet.setAttribute("data-sheet", which);
    $("sm-sheet-handle").setAttribute("aria-expanded", which === "collapsed" ? "false" : "true");
    setTimeout(function () { state.map.invalidateSize(); }, 0);
  }

  function sheetSettled(event) {
    if (event.target !== $("sm-sheet") || event.propertyName !== "height") { return; }
    clearTimeout(state.sheetSettle);
    $("sm-sheet").removeAttribute("data-moving");
  }

  function cycleSheet() {
    var now = $("sm-sheet").getAttribute("data-sheet");
    setSheet(SHEET_STATES[(SHEET_STATES.indexOf(now) + 1) % SHEET_STATES.length]);
  }

  function showAnswer() {
    if ($("sm-sheet").getAttribute("data-sheet") === "collapsed") { setSheet("half"); }
    $("sm-sheet-body").scrollTop = 0;
  }

  function isPhone() { return window.matchMedia("(max-width: 899px)").matches; }

  // The part of the map the sheet covers, so fitted results stay in the visible part.
  function sheetCover() {
    if (!isPhone()) { return 0; }
    var sheet = $("sm-sheet").getBoundingClientRect();
    var map = state.map.getContainer().getBoundingClientRect();
    return Math.max(0, Math.min(map.bottom, window.innerHeight) - sheet.top);
  }

  function openPanel(focusId) {
    var panel = $("sm-panel");
    panel.hidden = false;
    if (!state.time) { $("sm-time").value = chinaNowTime(); }
    renderDays();
    var target = $(focusId);
    if (target) { target.scrollIntoView({ block: "nearest" }); }
    $("sm-panel-done").focus({ preventScroll: true });
  }

  function closePanel() { $("sm-panel").hidden = true; $("sm-when-open").focus({ preventScroll: true }); }

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
      var text = item.count >= 10000 ? Math.round(item.count / 1000) + "k" : String(item.count);
      var icon = L.divIcon({
        className: "sm-cell-wrap",
        html: el("span", { className: "sm-cell", text: text }),
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
    var params = {};
    var moment = momentParam();
    var need = state.need && state.cfg.strings.needs[state.need];
    // the list of a need with its own hours (sanitation: open at 05:00 today) uses them when no time is chosen
    if (moment === "now" && need && need.open_at) { moment = need.open_at; }
    // pins show the same moment as the list: with a time chosen, only the stations open then
    if (moment !== "now") { params.open_at = moment; }
    var minStars = new FormData($("sm-filter-form")).get("min_stars");
    if (minStars && minStars !== "0") { params.min_stars = minStars; }
    // bounds are in the tiles' datum; a GCJ-02 shift (< 1 km) is covered by padding
    var pad = state.cfg.map_datum === "wgs84" ? 0 : 0.01;
    params.bbox = [west - pad, south - pad, east + pad, north + pad].map(function (v) { return v.toFixed(6); }).join(",");
    params.zoom = state.map.getZoom();
    params.map_datum = state.cfg.map_datum;
    getJson(apiUrl("/view", params), "viewAbort").then(function (body) {
      var filteredOpen = !!params.open_at;  // only stations open at that moment came back
      var items = body.items.map(function (item) { if (filteredOpen) { item.open = true; } return item; });
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

  /* ---- position and the ranked list ------------------------------------------------------------- */

  function setPosition(lonlat, datum) {
    state.position = lonlat;
    state.positionDatum = datum;
    loadNearest(true);
  }

  function drawPosition(mapLonLat) {
    layers.position.clearLayers();
    L.circleMarker(toLatLng(mapLonLat), { radius: 9, color: "#fff", weight: 3, fillColor: "#1a73e8", fillOpacity: 1 })
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
    $("sm-list").setAttribute("aria-busy", "true");
    getJson(apiUrl("/nearest", params), "nearAbort").then(function (body) {
      var origin = body.origin.map_lonlat || [body.origin.lon, body.origin.lat];
      drawPosition(origin);
      state.lastBody = body;
      state.nearest = body.features || [];
      state.partial = (body.partial || []).map(asFeature);
      state.nothingWithin = body.nothing_within_m || null;
      renderList();
      $("sm-list").removeAttribute("aria-busy");
      showAnswer();
      if (recentre) { fitResults(origin, state.nearest.length ? state.nearest : state.partial); }
    }).catch(function (err) {
      if (isAbort(err)) { return; }
      $("sm-list").removeAttribute("aria-busy");
      nearestOffline(err);
    });
  }

  // No network: the stations of the area last viewed, kept by the service worker (static/offline.js), nearest
  // first by straight-line distance; the banner says how old they are. Needs cannot be checked offline.
  function nearestOffline(err) {
    var failed = function () { $("sm-status").textContent = t("load_failed") + err.message; };
    if (!window.smoffline) { failed(); return; }
    window.smoffline.nearestFromCache(state.position[0], state.position[1], state.cfg.k).then(function (body) {
      if (!body || !(body.features || []).length) { failed(); return; }
      state.lastBody = body;
      state.nearest = body.features;
      state.partial = [];
      state.nothingWithin = null;
      renderList();
      showAnswer();
      $("sm-status").textContent = t("offline_list");
    }).catch(failed);
  }

  // Centre the map on a station. Leaflet ignores a setView while a zoom animation runs (a fit to the results that
  // a quick tap interrupts), so wait for that zoom to end first.
  function centreOn(where, zoom) {
    if (state.map._animatingZoom) {
      state.map.once("zoomend", function () { state.map.setView(where, zoom); });
      return;
    }
    state.map.setView(where, zoom);
  }

  // The map follows the results: the position and the listed stations, above the sheet on phones.
  function fitResults(origin, features) {
    var bounds = L.latLngBounds([toLatLng(origin)]);
    features.slice(0, 5).forEach(function (f) { bounds.extend(toLatLng(mapLonLat(f))); });
    state.map.fitBounds(bounds, { maxZoom: 16, paddingTopLeft: [30, 50], paddingBottomRight: [30, 30 + sheetCover()] });
  }

  // A partial match comes as a flat record; the list draws Features.
  function asFeature(item) {
    if (item.properties) { return item; }
    return { type: "Feature", properties: item, geometry: { type: "Point", coordinates: [item.lon, item.lat] } };
  }

  function mapLonLat(feature) {
    return feature.properties.map_lonlat || feature.geometry.coordinates;
  }

  function amenityChips(keys, limit, extraClass) {
    var list = el("ul", { className: "sm-amenities" });
    (keys || []).slice(0, limit || 99).forEach(function (key) {
      list.appendChild(el("li", { className: "sm-amenity sm-a-" + key + (extraClass ? " " + extraClass : ""), text: vocab("amenities", key) }));
    });
    if (limit && keys && keys.length > limit) { list.appendChild(el("li", { className: "sm-amenity sm-more", text: "+" + (keys.length - limit) })); }
    return list;
  }

  function bestHonour(p) {
    if (p.honour && typeof p.honour === "object") { return p.honour; }
    var order = { national: 3, provincial: 2, city: 1 };
    var best = null;
    (p.honours || []).forEach(function (h) { if (h && order[h.level] && (!best || order[h.level] > order[best.level])) { best = h; } });
    return best;
  }

  function travelText(p) {
    var mode = p.mode || state.mode;
    var minutes = p.travel_min !== undefined && p.travel_min !== null ? p.travel_min : p.walk_min;
    if (minutes === undefined || minutes === null) { return ""; }
    return t("travel_" + mode, { n: minutes });
  }

  function stationCard(feature, partial) {
    var p = feature.properties;
    var stateClass = p.open_now === true ? "sm-open" : p.open_now === false ? "sm-closed" : "sm-unknown";
    var honour = bestHonour(p);
    var top = el("span", { className: "sm-item-top" }, [
      el("span", { className: "sm-item-name", text: p.name }),
      honour && honour.level === "national" ? el("span", { className: "sm-honour-badge", text: t("most_beautiful") }) : null
    ]);
    var meta = el("span", { className: "sm-item-meta" }, [
      el("span", { className: "sm-item-dist", text: formatDistance(p.distance_m) }),
      el("span", { className: "sm-item-travel", text: travelText(p) }),
      el("span", { className: "sm-item-estimate", text: t("straight_line") })
    ]);
    var status = el("span", { className: "sm-item-state " + stateClass, text: p.state_text || t("unknown_state") });
    var toilet = p.toilet ? t("toilet_is", { what: vocab("toilet", p.toilet) }) : t("toilet_is", { what: t("toilet_unknown") });
    var facts = el("span", { className: "sm-item-facts" }, [
      el("span", { className: "sm-item-toilet sm-toilet-" + (p.toilet || "unknown"), text: toilet }),
      el("span", { className: "sm-item-stars", text: stars(p.stars), "aria-label": t("stars") + " " + (p.stars || 0) }),
      honour ? el("span", { className: "sm-item-honour", text: [vocab("honour_levels", honour.level), honour.title].filter(Boolean).join(" · ") }) : null
    ]);
    var matched = p.matched || (state.need ? [] : (p.amenities || []).slice(0, 4));
    var chips = amenityChips(matched, 6, "sm-has");
    (partial ? p.missing || [] : []).forEach(function (key) {
      chips.appendChild(el("li", { className: "sm-amenity sm-missing", text: t("missing_item", { what: vocab("need_groups", key) }) }));
    });
    var verified = p.last_verified ? el("span", { className: "sm-item-verified sm-verified-" + (p.last_verified_source || "union"), text: verifiedText(p, "card_") }) : null;
    var button = el("button", {
      type: "button", className: "sm-item", "data-station-id": p.id,
      onclick: function () { focusStation(feature); }
    }, [top, meta, status, facts, chips, verified]);
    return el("li", null, [button]);
  }

  function needLabel() {
    var need = state.need && state.cfg.strings.needs[state.need];
    var text = need ? label(need.label) : "";
    return state.lang === "en" ? text.toLowerCase() : text;
  }

  function renderList() {
    var list = $("sm-list");
    clear(list);
    list.setAttribute("data-need", state.need || "any");
    list.setAttribute("data-mode", state.mode);
    var features = state.nearest;
    var status;
    if (features.length) {
      status = state.need ? t("result_count_need", { n: features.length, need: needLabel() }) : t("result_count", { n: features.length });
    } else if (state.nothingWithin) {
      status = t("nothing_within", { km: (state.nothingWithin / 1000).toFixed(state.nothingWithin < 10000 ? 1 : 0), need: needLabel() || t("needs_any") });
    } else {
      status = t("nearby_none");
    }
    var required = state.lastBody && state.lastBody.open_required_at;
    if (required && features.length) { status += " · " + t("open_required", { time: String(required).slice(11, 16) }); }
    $("sm-status").textContent = status;
    $("sm-status").classList.toggle("sm-status-warn", !features.length);
    features.forEach(function (feature) { list.appendChild(stationCard(feature, false)); });
    var partialList = $("sm-partial-list");
    clear(partialList);
    state.partial.forEach(function (feature) { partialList.appendChild(stationCard(feature, true)); });
    $("sm-partial").hidden = !state.partial.length;
  }

  function focusStation(feature) {
    var p = feature.properties;
    state.selectedId = p.id;
    var where = toLatLng(mapLonLat(feature));
    centreOn(where, Math.max(state.map.getZoom(), 15));
    drawSelected(where);
    openDetail(p.id, false);
  }

  function drawSelected(latlng) {
    layers.selected.clearLayers();
    L.circleMarker(latlng, { radius: 26, color: "#d93025", weight: 4, fill: false, interactive: false }).addTo(layers.selected);
  }

  var GEO_ERRORS = { 1: "locate_denied", 2: "locate_unavailable", 3: "locate_timeout" };

  function locate() {
    var status = $("sm-status");
    showAnswer();
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
      // the browser's own message is in the browser's language, not the page's
      status.textContent = t("locate_failed", { reason: t(GEO_ERRORS[err && err.code] || "locate_unavailable") });
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  /* ---- station detail ----------------------------------------------------------------------------- */

  function row(name, value) {
    if (value === null || value === undefined || value === "") { return null; }
    var dd = typeof value === "string" ? el("dd", { text: value }) : el("dd", null, [value]);
    return el("div", { className: "sm-drow" }, [el("dt", { text: name }), dd]);
  }

  function openDetail(id, fromMarker) {
    state.detailId = id;
    var params = { lang: state.lang, map_datum: state.cfg.map_datum, mode: state.mode };
    if (state.day !== null) { params.at = momentParam(); }
    if (state.position && state.positionDatum === "wgs84") { params.lon = state.position[0].toFixed(7); params.lat = state.position[1].toFixed(7); }
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

  function navLinks(p) {
    var links = p.navigation || {};
    if (links[state.mode] && typeof links[state.mode] === "object") { links = links[state.mode]; }  // per travel mode
    var nav = el("div", { className: "sm-nav", role: "group", "aria-label": t("navigate") });
    [["amap", "nav_amap"], ["baidu", "nav_baidu"], ["apple", "nav_apple"], ["geo", "nav_geo"], ["osm", "nav_osm"]].forEach(function (pair) {
      var href = safeHref(links[pair[0]]);
      if (href) { nav.appendChild(el("a", { className: "sm-btn sm-nav-" + pair[0], href: href, target: "_blank", rel: "noopener noreferrer", text: t(pair[1]) })); }
    });
    return nav;
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
    body.appendChild(el("h3", { className: "sm-h3", text: t("navigate") + " · " + label((state.cfg.strings.modes[state.mode] || {}).label) }));
    body.appendChild(navLinks(p));

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
      (p.honours || []).length ? row(t("honours"), honours) : null,
      row(t("amenities"), amenityChips(p.amenities)),
      row(t("toilet"), p.toilet ? vocab("toilet", p.toilet) : null),
      row(t("kind"), p.kind ? vocab("kinds", p.kind) : null),
      row(t("host"), [p.host_type ? vocab("host_types", p.host_type) : null, p.host_org].filter(Boolean).join(" · ")),
      row(t("served_groups"), groups),
      row(t("area_capacity"), area),
      row(t("phone"), phone),
      row(t("complaint"), complaint),
      row(t("last_verified"), p.last_verified ? el("span", { className: "sm-verified", text: verifiedText(p, "verified_") }) : null)
    ].filter(Boolean));
    body.appendChild(feedbackSection(p));
    body.appendChild(list);
    panel.hidden = false;
    document.body.classList.add("sm-detail-open");
    $("sm-detail-close").focus({ preventScroll: true });
  }

  function closeDetail() {
    $("sm-detail").hidden = true;
    document.body.classList.remove("sm-detail-open");
    state.detailId = null;
    endPick();
  }

  // "last verified": the record's date (the union's clerks and editors) or a worker's "here and open", whichever is later
  function verifiedText(p, prefix) {
    var source = p.last_verified_source === "worker" ? "worker" : "union";
    return t("feedback_form." + prefix + source, { date: p.last_verified });
  }

  /* ---- workers' feedback on a station: here and open, a rating, a problem --------------------------- */

  var FB_KINDS = ["broken_facility", "closed_at_stated_hours", "wrong_location", "unsafe_or_dirty", "other"];
  var FB_FIELDS = ["kind", "amenity", "location", "text", "phone", "rating"];

  function ft(key, vars) { return t("feedback_form." + key, vars); }

  // The form's state for one station: kept across re-renders of the detail (a language switch redraws it).
  function feedbackState(id) {
    if (!state.fb || state.fb.id !== id) {
      if (layers.report) { layers.report.clearLayers(); }
      state.fb = { id: id, open: false, kind: null, amenity: null, location: null, text: "", phone: "", rating: null,
                   busy: false, message: null, errors: {} };
    }
    return state.fb;
  }

  function chinaDate(iso) {  // YYYY-MM-DD of a moment in China (UTC+8)
    var d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
    return d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0") + "-" + String(d.getUTCDate()).padStart(2, "0");
  }

  function chip(text, pressed, onclick, attrs) {
    var node = el("button", { type: "button", className: "sm-chip sm-fb-chip", "aria-pressed": pressed ? "true" : "false", text: text, onclick: onclick });
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  // The place next to a field where its problem is said (empty and hidden while there is none).
  function fieldError(fb, name) {
    var message = fb.errors[name];
    return el("p", { id: "sm-fb-" + name + "-error", className: "sm-fb-error", role: message ? "alert" : null,
                     "data-fb-error": message ? name : null, hidden: !message, text: message || "" });
  }

  function feedbackSection(p) {
    var fb = feedbackState(p.id);
    var box = el("section", { id: "sm-fb", className: "sm-fb", "aria-labelledby": "sm-fb-h" });
    box.appendChild(el("h3", { id: "sm-fb-h", className: "sm-h3", text: ft("title") }));
    box.appendChild(el("p", { className: "sm-hint sm-fb-hint", text: ft("confirm_hint") }));
    box.appendChild(el("button", {
      type: "button", id: "sm-fb-confirm", className: "sm-btn sm-btn-primary sm-fb-confirm", text: ft("confirm"),
      disabled: fb.busy, onclick: function () { sendFeedback(p, { kind: "confirm_open" }); }
    }));
    var stars = el("div", { className: "sm-fb-stars", role: "group", "aria-labelledby": "sm-fb-rate" });
    for (var n = 1; n <= 5; n += 1) {
      (function (value) {
        stars.appendChild(el("button", {
          type: "button", className: "sm-fb-star", "data-rating": String(value), "aria-pressed": fb.rating === value ? "true" : "false",
          "aria-label": ft("rate_n", { n: value }), text: "★",
          onclick: function () { fb.rating = fb.rating === value ? null : value; delete fb.errors.rating; redrawFeedback(p); }
        }));
      })(n);
    }
    for (var i = 0; i < 5; i += 1) { stars.childNodes[i].classList.toggle("sm-on", fb.rating !== null && i < fb.rating); }
    box.appendChild(el("p", { id: "sm-fb-rate", className: "sm-fb-label", text: ft("rate") }));
    box.appendChild(stars);
    box.appendChild(fieldError(fb, "rating"));
    box.appendChild(el("button", {
      type: "button", id: "sm-fb-report", className: "sm-btn sm-fb-toggle", "aria-expanded": fb.open ? "true" : "false",
      "aria-controls": "sm-fb-form", text: ft("report"),
      onclick: function () { fb.open = !fb.open; redrawFeedback(p); }
    }));
    if (fb.open) { box.appendChild(problemForm(p, fb)); }
    var message = fb.message;
    box.appendChild(el("p", {
      id: "sm-fb-status", className: "sm-fb-status" + (message ? " sm-fb-" + message.tone : ""), role: "status", "aria-live": "polite",
      text: message ? message.text : ""
    }));
    return box;
  }

  function problemForm(p, fb) {
    var form = el("form", { id: "sm-fb-form", className: "sm-fb-form", novalidate: true });
    form.addEventListener("submit", function (event) { event.preventDefault(); submitProblem(p, fb); });
    var kinds = el("div", { className: "sm-fb-kinds", role: "group", "aria-labelledby": "sm-fb-kind-h" });
    FB_KINDS.forEach(function (kind) {
      kinds.appendChild(chip(ft("kind_" + kind), fb.kind === kind, function () {
        fb.kind = kind; fb.errors = {}; redrawFeedback(p);
      }, { "data-kind": kind }));
    });
    form.appendChild(el("p", { id: "sm-fb-kind-h", className: "sm-fb-label", text: ft("kind_label") }));
    form.appendChild(kinds);
    form.appendChild(fieldError(fb, "kind"));
    if (fb.kind === "broken_facility") {
      form.appendChild(el("p", { id: "sm-fb-amenity-h", className: "sm-fb-label", text: ft("amenity_label") }));
      var listed = p.amenities || [];
      if (!listed.length) { form.appendChild(el("p", { className: "sm-hint", text: ft("no_amenities") })); }
      var amenities = el("div", { className: "sm-fb-amenities", role: "group", "aria-labelledby": "sm-fb-amenity-h" });
      listed.forEach(function (key) {
        amenities.appendChild(chip(vocab("amenities", key), fb.amenity === key, function () {
          fb.amenity = key; delete fb.errors.amenity; redrawFeedback(p);
        }, { "data-amenity": key }));
      });
      form.appendChild(amenities);
      form.appendChild(fieldError(fb, "amenity"));
    }
    if (fb.kind === "wrong_location") {
      form.appendChild(el("button", {
        type: "button", id: "sm-fb-pick", className: "sm-btn", text: ft(fb.location ? "pick_again" : "pick"),
        onclick: function () { startPick(p); }
      }));
      if (fb.location) {
        form.appendChild(el("p", { className: "sm-fb-picked", text: ft("picked", { lon: fb.location.lon.toFixed(6), lat: fb.location.lat.toFixed(6) }) }));
      }
      form.appendChild(fieldError(fb, "location"));
    }
    var textArea = el("textarea", { id: "sm-fb-text", name: "text", rows: "3", "aria-describedby": fb.errors.text ? "sm-fb-text-error" : null });
    textArea.value = fb.text;
    textArea.addEventListener("input", function () { fb.text = textArea.value; });
    form.appendChild(el("label", { className: "sm-fb-label", "for": "sm-fb-text", text: ft(fb.kind === "other" ? "text_label_required" : "text_label") }));
    form.appendChild(textArea);
    form.appendChild(fieldError(fb, "text"));
    var phone = el("input", {
      id: "sm-fb-phone", name: "phone", type: "tel", inputmode: "numeric", autocomplete: "tel",
      "aria-describedby": "sm-fb-phone-hint" + (fb.errors.phone ? " sm-fb-phone-error" : "")
    });
    phone.value = fb.phone;
    phone.addEventListener("input", function () { fb.phone = phone.value; });
    form.appendChild(el("label", { className: "sm-fb-label", "for": "sm-fb-phone", text: ft("phone_label") }));
    form.appendChild(phone);
    form.appendChild(el("p", { id: "sm-fb-phone-hint", className: "sm-hint sm-fb-private", text: ft("phone_hint") }));
    form.appendChild(fieldError(fb, "phone"));
    form.appendChild(el("div", { className: "sm-row sm-fb-actions" }, [
      el("button", { type: "submit", id: "sm-fb-send", className: "sm-btn sm-btn-primary", text: ft(fb.busy ? "sending" : "send"), disabled: fb.busy }),
      el("button", { type: "button", className: "sm-btn sm-btn-ghost", text: ft("cancel"), onclick: function () {
        fb.open = false; fb.errors = {}; redrawFeedback(p);
      } })
    ]));
    return form;
  }

  function redrawFeedback(p, focusId) {
    var old = $("sm-fb");
    if (!old || $("sm-detail").getAttribute("data-station-id") !== p.id) { return; }
    var active = focusId || (document.activeElement && document.activeElement.id);
    var fresh = feedbackSection(p);
    old.parentNode.replaceChild(fresh, old);
    var target = active && $(active);
    if (target) { target.focus({ preventScroll: true }); }
  }

  // The problem form's own checks, before anything is sent; the server checks again (and its 400 lands here too).
  function checkProblem(p, fb) {
    var errors = {};
    if (!fb.kind) { errors.kind = ft("err_kind"); }
    if (fb.kind === "broken_facility" && !fb.amenity) { errors.amenity = ft("err_amenity"); }
    if (fb.kind === "wrong_location" && !fb.location) { errors.location = ft("err_location"); }
    if (fb.kind === "other" && !fb.text.trim()) { errors.text = ft("err_text"); }
    return errors;
  }

  function submitProblem(p, fb) {
    fb.errors = checkProblem(p, fb);
    if (Object.keys(fb.errors).length) {
      fb.message = null;
      redrawFeedback(p);
      var first = document.querySelector("#sm-fb [data-fb-error]");
      if (first) { first.scrollIntoView({ block: "center" }); }
      return;
    }
    var body = { kind: fb.kind };
    if (fb.kind === "broken_facility") { body.amenity = fb.amenity; }
    if (fb.kind === "wrong_location") { body.location = fb.location; }
    if (fb.text.trim()) { body.text = fb.text; }
    sendFeedback(p, body);
  }

  // The server's 400 names each problem ("text has 501 characters; at most 500 are kept"); show a translated
  // word next to the field it names, with the limit the server stated.
  function serverErrors(message) {
    var errors = {};
    var text = String(message || "");
    var pieces = text.indexOf("refused: ") >= 0 ? text.slice(text.indexOf("refused: ") + 9).split("; ") : [text];
    var problems = [];
    pieces.forEach(function (piece) {  // "text has 501 characters; at most 500 are kept" is one problem
      var named = /^(kind|amenity|location|text|phone|rating|unknown)\b/.test(piece) || /feedback kind/.test(piece);
      if (named || !problems.length) { problems.push(piece); } else { problems[problems.length - 1] += "; " + piece; }
    });
    problems.forEach(function (problem) {
      var limit = (/at most (\d+)/.exec(problem) || [])[1] || "?";
      var field = /needs a short text/.test(problem) ? "text" : /needs a location/.test(problem) ? "location"
        : FB_FIELDS.filter(function (name) { return problem.indexOf(name) === 0; })[0]
        || (/feedback kind/.test(problem) ? "kind" : "other");
      if (field === "text") { errors.text = /control characters/.test(problem) ? ft("err_text_control") : /at most/.test(problem) ? ft("err_text_long", { n: limit }) : ft("err_text"); }
      else if (field === "phone") { errors.phone = ft("err_phone", { n: limit }); }
      else if (field === "amenity") { errors.amenity = ft("err_amenity"); }
      else if (field === "location") { errors.location = ft("err_location"); }
      else if (field === "rating") { errors.rating = ft("err_rating"); }
      else if (field === "kind") { errors.kind = ft("err_kind"); }
      else { errors.other = ft("err_other"); }
    });
    return errors;
  }

  function sendFeedback(p, body) {
    var fb = feedbackState(p.id);
    if (fb.busy) { return; }
    var phone = fb.phone.replace(/[\s-]/g, "");
    if (fb.open && phone) { body.phone = phone; }
    if (fb.rating !== null) { body.rating = fb.rating; }
    fb.message = null;
    if (navigator.onLine === false) {  // said plainly, never queued for later
      fb.message = { tone: "warn", text: ft("offline") };
      redrawFeedback(p);
      showOutcome(false);
      return;
    }
    fb.busy = true;
    fb.message = { tone: "info", text: ft("sending") };
    redrawFeedback(p);
    var url = apiUrl("/stations/" + encodeURIComponent(p.id) + "/feedback", {});
    fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body), credentials: "omit", cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        fb.busy = false;
        if (response.status === 201) {
          fb.errors = {};
          if (body.kind === "confirm_open") {
            var today = chinaDate(answer.created_at || new Date().toISOString());
            fb.message = { tone: "ok", text: ft("thanks_confirm", { date: today }) };
            p.last_verified = today;
            p.last_verified_source = "worker";
            var dd = document.querySelector("#sm-detail .sm-verified");
            if (dd) { dd.textContent = verifiedText(p, "verified_"); }
          } else {
            var due = new Date(new Date(answer.deadline).getTime() - 1000).toISOString();  // the end of a working day
            fb.message = { tone: "ok", text: ft("thanks_report", { id: answer.id, date: chinaDate(due) }) };
            fb.open = false; fb.kind = null; fb.amenity = null; fb.location = null; fb.text = ""; fb.phone = "";
            layers.report.clearLayers();
          }
          fb.rating = null;
        } else if (response.status === 429) {
          var seconds = Number(response.headers.get("Retry-After")) || 60;
          fb.message = { tone: "warn", text: ft("too_many", { n: Math.max(1, Math.ceil(seconds / 60)) }) };
        } else if (response.status === 400 || response.status === 422) {
          fb.errors = serverErrors(answer.error);
          if (fb.errors.other || (!fb.open && Object.keys(fb.errors).length)) { fb.message = { tone: "warn", text: ft("err_other") }; }
        } else if (response.status === 404) {
          fb.message = { tone: "warn", text: ft("station_unknown", { id: p.id }) };
        } else {
          fb.message = { tone: "warn", text: ft("failed") };
        }
        redrawFeedback(p);
        showOutcome(response.status === 400 || response.status === 422);
      });
    }, function () {  // no answer at all: offline, or the server is unreachable
      fb.busy = false;
      fb.message = { tone: "warn", text: navigator.onLine === false ? ft("offline") : ft("failed") };
      redrawFeedback(p);
      showOutcome(false);
    });
  }

  // The answer is said where the worker looks: a refusal at the first problem next to its field, else the message.
  function showOutcome(refused) {
    var target = (refused && document.querySelector("#sm-fb [data-fb-error]")) || $("sm-fb-status");
    if (target && target.textContent) { target.scrollIntoView({ block: "nearest" }); }
  }

  // "Wrong location": the detail steps aside and the next tap on the map is where the station really is, in the
  // tiles' datum (GCJ-02 on Amap tiles), which the report names.
  function startPick(p) {
    state.fbPick = p;
    $("sm-detail").hidden = true;
    $("sm-fb-pickbar").hidden = false;
    $("sm-fb-pick-cancel").focus({ preventScroll: true });
  }

  function endPick() {
    if (!state.fbPick) { return; }
    state.fbPick = false;
    $("sm-fb-pickbar").hidden = true;
  }

  function picked(latlng) {
    var p = state.fbPick;
    endPick();
    var fb = feedbackState(p.id);
    fb.location = { lon: Number(latlng.lng.toFixed(7)), lat: Number(latlng.lat.toFixed(7)), datum: state.cfg.map_datum };
    delete fb.errors.location;
    layers.report.clearLayers();
    L.circleMarker(latlng, { radius: 10, color: "#fff", weight: 3, fillColor: "#8a3b00", fillOpacity: 1, interactive: false }).addTo(layers.report);
    $("sm-detail").hidden = false;
    redrawFeedback(p, "sm-fb-pick");
    var button = $("sm-fb-pick");
    if (button) { button.scrollIntoView({ block: "center" }); }
  }

  function cancelPick() {
    endPick();
    $("sm-detail").hidden = false;
    var button = $("sm-fb-pick");
    if (button) { button.focus({ preventScroll: true }); }
  }

  // /?station=<id>: centred on the station with its detail open (the URL the printed QR codes carry)
  function openFromLink(id) {
    var params = { lang: state.lang, map_datum: state.cfg.map_datum, mode: state.mode };
    fetch(apiUrl("/stations/" + encodeURIComponent(id), params)).then(function (response) {
      if (response.status === 404) { return null; }
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return body;
      });
    }).then(function (feature) {
      if (!feature) {
        showAnswer();
        $("sm-status").textContent = ft("station_unknown", { id: id });
        $("sm-status").classList.add("sm-status-warn");
        return;
      }
      state.detailId = id;
      state.selectedId = id;
      var where = toLatLng(mapLonLat(feature));
      centreOn(where, 17);
      drawSelected(where);
      renderDetail(feature);
    }).catch(function (err) {
      showAnswer();
      $("sm-status").textContent = t("load_failed") + err.message;
    });
  }

  /* ---- search: names, addresses and needs (充电, 热饭, 厕所 ...), nearest first ------------------------ */

  function searchOrigin() {
    if (state.position) { return { lon: state.position[0].toFixed(7), lat: state.position[1].toFixed(7), datum: state.positionDatum }; }
    var c = state.map.getCenter();
    return { lon: c.lng.toFixed(7), lat: c.lat.toFixed(7), datum: state.cfg.map_datum };
  }

  function search(query) {
    var box = $("sm-search-results");
    clear(box);
    if (!query) { return; }
    showAnswer();
    box.appendChild(el("p", { className: "sm-status", text: t("loading") }));
    var params = searchOrigin();
    params.q = query;
    params.limit = 20;
    params.lang = state.lang;
    params.map_datum = state.cfg.map_datum;
    getJson(apiUrl("/stations", params), "searchAbort").then(function (body) {
      clear(box);
      var head = el("div", { className: "sm-search-head" }, [
        el("h2", { className: "sm-h3", text: t("search_results") + " (" + body.numberMatched + ")" }),
        el("button", { type: "button", className: "sm-btn sm-btn-ghost", text: t("close"), onclick: function () { clear(box); } })
      ]);
      box.appendChild(head);
      if (!body.features.length) { box.appendChild(el("p", { className: "sm-status", text: t("search_none") })); return; }
      var list = el("ul", { className: "sm-list sm-list-search" });
      body.features.forEach(function (feature) {
        var p = feature.properties;
        var stateClass = p.open_now === true ? "sm-open" : p.open_now === false ? "sm-closed" : "sm-unknown";
        list.appendChild(el("li", null, [el("button", {
          type: "button", className: "sm-item", "data-station-id": p.id,
          onclick: function () {
            clear(box);
            state.selectedId = p.id;
            var where = toLatLng(mapLonLat(feature));  // the tiles' datum: GCJ-02 on Amap tiles
            centreOn(where, 16);
            drawSelected(where);
            openDetail(p.id, false);
          }
        }, [
          el("span", { className: "sm-item-name", text: p.name }),
          el("span", { className: "sm-item-meta" }, [
            typeof p.distance_m === "number" ? el("span", { className: "sm-item-dist", text: formatDistance(p.distance_m) }) : null,
            p.state_text ? el("span", { className: "sm-item-state " + stateClass, text: p.state_text }) : null
          ]),
          el("span", { className: "sm-item-meta", text: p.address || "" })
        ])]));
      });
      box.appendChild(list);
      var bounds = L.latLngBounds(body.features.map(function (f) { return toLatLng(mapLonLat(f)); }));
      state.map.fitBounds(bounds, { maxZoom: 16, paddingTopLeft: [30, 50], paddingBottomRight: [30, 30 + sheetCover()] });
    }).catch(function (err) {
      if (!isAbort(err)) { clear(box); box.appendChild(el("p", { className: "sm-status", text: t("load_failed") + err.message })); }
    });
  }

  /* ---- language ----------------------------------------------------------------------------------- */

  function applyLanguage() {
    window.smcommon.relabel(state, t);
    forEach(".sm-need[data-need]", function (node) {
      var need = state.cfg.strings.needs[node.getAttribute("data-need")];
      node.textContent = label(need.short || need.label);
      node.setAttribute("title", label(need.label));
    });
    forEach(".sm-mode[data-mode]", function (node) { node.textContent = label(state.cfg.strings.modes[node.getAttribute("data-mode")].label); });
    forEach("[data-report-lang]", function (node) {
      var link = new URL(node.getAttribute("href"), window.location.href);
      link.searchParams.set("lang", state.lang);
      node.setAttribute("href", link.pathname + link.search);
    });
    renderDays();
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
    state.mode = state.cfg.default_mode || "walk";
    layers.points = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 48, spiderfyOnMaxZoom: true, chunkedLoading: true });
    layers.cells = L.layerGroup();
    layers.position = L.layerGroup();
    layers.selected = L.layerGroup();
    layers.report = L.layerGroup();
    [layers.points, layers.cells, layers.selected, layers.position, layers.report].forEach(function (layer) { layer.addTo(map); });

    if (state.cfg.bounds) {
      var b = state.cfg.bounds;  // [west, south, east, north]
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [24, 24], maxZoom: 14 });
    }
    map.on("moveend", function () { scheduleView(); });
    map.on("click", function (event) {
      if (state.fbPick) { picked(event.latlng); return; }  // where a wrongly placed station really is
      setPosition([event.latlng.lng, event.latlng.lat], state.cfg.map_datum);
    });
    $("sm-fb-pick-cancel").addEventListener("click", cancelPick);

    $("sm-locate").addEventListener("click", locate);
    $("sm-lang").addEventListener("click", switchLanguage);
    $("sm-detail-close").addEventListener("click", closeDetail);
    $("sm-sheet-handle").addEventListener("click", cycleSheet);
    $("sm-sheet").addEventListener("transitionend", sheetSettled);
    $("sm-when-open").addEventListener("click", function () { openPanel("sm-when"); });
    $("sm-filters-open").addEventListener("click", function () { openPanel("sm-more-filters"); });
    $("sm-panel-done").addEventListener("click", closePanel);
    $("sm-when-now").addEventListener("click", function () { setMoment(null, ""); });
    forEach(".sm-need", function (node) { node.addEventListener("click", function () { setNeed(node.getAttribute("data-need")); }); });
    forEach(".sm-mode", function (node) { node.addEventListener("click", function () { setMode(node.getAttribute("data-mode")); }); });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      if (state.fbPick) { cancelPick(); return; }
      if (!$("sm-panel").hidden) { closePanel(); } else if (!$("sm-detail").hidden) { closeDetail(); }
    });
    $("sm-search").addEventListener("submit", function (event) { event.preventDefault(); search($("sm-q").value.trim()); });
    var form = $("sm-filter-form");
    $("sm-time").addEventListener("change", function () {
      var value = $("sm-time").value;
      if (value) { setMoment(state.day === null ? 0 : state.day, value); }
    });
    form.addEventListener("change", function (event) { if (event.target && event.target.name === "min_stars") { filtersChanged(); } });
    form.addEventListener("reset", function () { setTimeout(function () { setMoment(null, ""); }, 0); });
    $("sm-time").value = chinaNowTime();
    renderToggles();
    filterParams();
    applyLanguage();
    scheduleView(0);
    setTimeout(function () { map.invalidateSize(); }, 0);
    var linked = new URL(window.location.href).searchParams.get("station");
    if (linked) { openFromLink(linked.trim()); }
  }

  window.stationmap = { attach: attach, setPosition: setPosition, state: state };
})();
