/* stationmap: the planner's page (/planner).
 *
 * The folium map calls window.stationplanner.attach(map, configId). Every figure and layer comes from the JSON
 * API: /api/districts (outlines), /api/coverage, /api/service-areas, /api/gaps, /api/sites, /api/stations and
 * /api/what-if. Every string that comes from data is written with textContent, never as HTML.
 * Coordinates are [lon, lat] everywhere in this file except where Leaflet wants [lat, lon] (marked).
 */
(function () {
  "use strict";

  var state = {
    map: null, cfg: null, lang: "zh", district: null, radius: 1000, at: "", k: 5, seq: 0,
    bodies: {}, outlines: null, stations: [], whatif: { on: false, add: [], remove: {} }, whatifTimer: null,
    pending: 0
  };
  var layers = {};
  var MAX_RETRIES = 6;

  function $(id) { return document.getElementById(id); }

  var el = window.smcommon.el;
  var clear = window.smcommon.clear;
  var t = window.smcommon.translator(function () { return state; });


  function toLatLng(lonlat) { return L.latLng(lonlat[1], lonlat[0]); }  // Leaflet wants [lat, lon]

  function fmt(n, digits) {
    if (n === null || n === undefined || !isFinite(n)) { return "–"; }
    return Number(n).toLocaleString(state.lang === "en" ? "en" : "zh-CN",
      { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function pct(n) { return n === null || n === undefined ? "–" : fmt(n, 1) + "%"; }
  function km2(m2) { return t("km2", { n: fmt(m2 / 1e6, m2 < 1e7 ? 2 : 1) }); }
  function signed(n, digits, unit) {
    if (n === null || n === undefined || !isFinite(n)) { return "–"; }
    return (n > 0 ? "+" : n < 0 ? "−" : "±") + fmt(Math.abs(n), digits) + (unit || "");
  }
  function distance(m) { return m < 1000 ? fmt(m, 0) + (state.lang === "en" ? " m" : " 米") : fmt(m / 1000, 1) + (state.lang === "en" ? " km" : " 公里"); }

  /* ---- API ---------------------------------------------------------------------------------------- */

  function apiUrl(path, params) { return window.smcommon.apiUrl(state.cfg.api, path, params); }

  // GET JSON; a 503 (still computing) is retried after Retry-After seconds, so long jobs never hang the page.
  function getJson(url, tries) {
    tries = tries || 0;
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (response.status === 503 && tries < MAX_RETRIES) {
        var wait = Math.min(10, Number(response.headers.get("Retry-After")) || 3) * 1000;
        return new Promise(function (resolve) { setTimeout(resolve, wait); }).then(function () { return getJson(url, tries + 1); });
      }
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body && body.error ? body.error : String(response.status)); }
        return body;
      });
    });
  }

  // map_datum: answers come in the tiles' datum (GCJ-02 on Amap tiles), so shapes land where the tiles draw them
  function common() { return { district: state.district, radius_m: state.radius, at: state.at, map_datum: state.cfg.map_datum }; }

  function busy(delta) {
    state.pending += delta;
    $("pl-busy").hidden = state.pending <= 0;
    document.body.setAttribute("data-pending", String(Math.max(0, state.pending)));
  }

  function track(promise, seq, render) {
    busy(1);
    return promise.then(function (body) {
      if (seq === state.seq) { render(body); }
    }).catch(function (err) {
      if (seq === state.seq) { showError(err); }
    }).then(function () { busy(-1); });
  }

  function showError(err) {
    var box = $("pl-error");
    box.textContent = t("load_failed") + (err && err.message ? err.message : t("error_generic"));
    box.hidden = false;
  }

  /* ---- loading ------------------------------------------------------------------------------------ */

  function loadAll(fit) {
    var seq = ++state.seq;
    $("pl-error").hidden = true;
    state.bodies = {};
    ["service", "overlap", "gaps", "sites"].forEach(function (name) { layers[name].clearLayers(); });
    renderCoverage(); renderGaps(); renderSites(); renderWhatIf();
    drawOutline(fit);
    var base = common();
    track(getJson(apiUrl("/coverage", base)), seq, function (body) { state.bodies.coverage = body; renderCoverage(); });
    track(getJson(apiUrl("/service-areas", base)), seq, function (body) { state.bodies.areas = body; drawAreas(); });
    track(getJson(apiUrl("/gaps", base)), seq, function (body) { state.bodies.gaps = body; drawGaps(); renderGaps(); });
    track(getJson(apiUrl("/sites", Object.assign({ k: state.k }, base))), seq, function (body) {
      state.bodies.sites = body; drawSites(); renderSites();
    });
    if (state.whatif.add.length || Object.keys(state.whatif.remove).length) { scheduleWhatIf(0); }
  }

  function loadStations() {
    var seq = state.seq;
    var collected = [];
    function page(url, n) {
      return getJson(url).then(function (body) {
        collected = collected.concat(body.features);
        var next = (body.links || []).filter(function (l) { return l.rel === "next"; })[0];
        if (next && n < 20) { return page(next.href, n + 1); }
        return collected;
      });
    }
    track(page(apiUrl("/stations", { district_code: state.district, limit: 200, map_datum: state.cfg.map_datum }), 0), seq, function (features) {
      state.stations = features; drawStations();
    });
  }

  function loadOutlines() {
    return getJson(apiUrl("/districts", { map_datum: state.cfg.map_datum })).then(function (body) { state.outlines = body; drawOutline(false); });
  }

  /* ---- layers ------------------------------------------------------------------------------------- */

  // GeoJSON from the API is lon/lat; L.geoJSON flips it for Leaflet itself.
  function drawOutline(fit) {
    layers.outline.clearLayers();
    var info = state.cfg.districts.filter(function (d) { return d.adcode === state.district; })[0];
    if (fit && info) {
      var b = info.bbox;  // [west, south, east, north]
      state.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [12, 12] });  // Leaflet wants [lat, lon]
    }
    if (!state.outlines) { return; }
    state.outlines.features.forEach(function (f) {
      if (f.id === state.district) {
        layers.outline.addLayer(L.geoJSON(f, { interactive: false, style: { color: "#1f2328", weight: 2.5, fill: false, dashArray: "6 4" } }));
      }
    });
  }

  function drawAreas() {
    var body = state.bodies.areas;
    layers.service.clearLayers(); layers.overlap.clearLayers();
    if (!body) { return; }
    body.features.forEach(function (f) {
      if (!f.geometry) { return; }
      if (f.properties.level === "covered") {
        layers.service.addLayer(L.geoJSON(f, { interactive: false, style: { color: "#1a7f37", weight: 1, fillColor: "#2da44e", fillOpacity: 0.25 } }));
      } else if (f.properties.level === "overlap") {
        layers.overlap.addLayer(L.geoJSON(f, { interactive: false, style: { color: "#0550ae", weight: 1, fillColor: "#0969da", fillOpacity: 0.3 } }));
      }
    });
  }

  function gapShade(props, maxValue, byDemand) {
    var value = byDemand ? props.demand : props.area_m2;
    var share = maxValue > 0 ? Math.sqrt(value / maxValue) : 0;
    return 0.15 + 0.45 * share;
  }

  function drawGaps() {
    var body = state.bodies.gaps;
    layers.gaps.clearLayers();
    if (!body) { return; }
    var byDemand = body.features.some(function (f) { return f.properties.demand > 0; });
    var maxValue = Math.max.apply(null, [0].concat(body.features.map(function (f) { return byDemand ? f.properties.demand : f.properties.area_m2; })));
    body.features.forEach(function (f) {
      var layer = L.geoJSON(f, { style: { color: "#a40e26", weight: 1, fillColor: "#cf222e", fillOpacity: gapShade(f.properties, maxValue, byDemand) } });
      layer.bindTooltip(function () { return gapLabel(f.properties); }, { sticky: true });
      layers.gaps.addLayer(layer);
    });
  }

  function gapLabel(props) {
    return el("span", {}, [el("strong", { text: t("gap_n", { n: props.rank }) }), el("br"),
      document.createTextNode(t("gap_area") + ": " + km2(props.area_m2)), el("br"),
      document.createTextNode(t("nearest_station") + ": " + distance(props.nearest_station_m))]);
  }

  function pinIcon(feature, removed) {
    var stars = Number(feature.properties.stars) || 0;
    var classes = "sm-pin sm-s" + stars + " sm-open" + (removed ? " pl-removed" : "");
    var inner = el("span", { className: classes }, [el("span", { className: "sm-pin-stars", text: stars ? stars + "★" : "–" })]);
    return L.divIcon({ className: "sm-pin-wrap", html: inner, iconSize: [44, 44], iconAnchor: [22, 27] });
  }

  function drawStations() {
    layers.stations.clearLayers();
    state.stations.forEach(function (feature) {
      var id = String(feature.properties.id);
      var removed = !!state.whatif.remove[id];
      var marker = L.marker(toLatLng(feature.properties.map_lonlat || feature.geometry.coordinates), {
        icon: pinIcon(feature, removed), title: String(feature.properties.name || id), keyboard: true
      });
      marker.bindTooltip(function () {
        var box = el("span", {}, [el("strong", { text: feature.properties.name || id })]);
        if (removed) { box.appendChild(el("br")); box.appendChild(document.createTextNode(t("removed_station"))); }
        return box;
      }, { direction: "top", offset: [0, -16] });
      marker.on("click", function (event) {
        if (!state.whatif.on) { return; }
        L.DomEvent.stop(event);
        if (state.whatif.remove[id]) { delete state.whatif.remove[id]; } else { state.whatif.remove[id] = true; }
        drawStations(); scheduleWhatIf();
      });
      layers.stations.addLayer(marker);
    });
  }

  function siteIcon(rank) {
    return L.divIcon({ className: "pl-site-wrap", html: el("span", { className: "pl-site", text: String(rank) }), iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  function sitePopup(props) {
    var sites = state.bodies.sites;
    return el("div", { className: "pl-popup" }, [
      el("strong", { text: t("site_n", { n: props.rank }) }),
      el("div", { text: t("site_gain") + ": " + km2(props.gain) }),
      el("div", { text: t("site_cumulative") + ": " + pct(props.cumulative_pct) }),
      el("div", { className: "sm-hint", text: sites ? methodText(sites.summary) : "" })
    ]);
  }

  function drawSites() {
    var body = state.bodies.sites;
    layers.sites.clearLayers();
    if (!body) { return; }
    body.features.forEach(function (f) {
      var marker = L.marker(toLatLng(f.geometry.coordinates), { icon: siteIcon(f.properties.rank), title: t("site_n", { n: f.properties.rank }), zIndexOffset: 500 });
      marker.bindPopup(function () { return sitePopup(f.properties); });
      layers.sites.addLayer(marker);
    });
  }

  function drawWhatIf() {
    layers.whatif.clearLayers();
    state.whatif.add.forEach(function (lonlat, index) {
      var circle = L.circle(toLatLng(lonlat), { radius: state.radius, color: "#8250df", weight: 1.5, dashArray: "4 4", fillOpacity: 0.08, interactive: false });
      var marker = L.marker(toLatLng(lonlat), { icon: L.divIcon({ className: "pl-site-wrap", html: el("span", { className: "pl-new", text: "+" }), iconSize: [28, 28], iconAnchor: [14, 14] }), title: t("hypothetical"), zIndexOffset: 600 });
      marker.bindTooltip(t("hypothetical"));
      marker.on("click", function (event) {
        L.DomEvent.stop(event);
        if (!state.whatif.on) { return; }
        state.whatif.add.splice(index, 1); drawWhatIf(); scheduleWhatIf();
      });
      layers.whatif.addLayer(circle); layers.whatif.addLayer(marker);
    });
  }

  /* ---- side panel --------------------------------------------------------------------------------- */

  function figure(list, key, value, id) {
    list.appendChild(el("dt", { text: t(key) }));
    list.appendChild(el("dd", { text: value, "data-figure": id }));
  }

  function renderCoverage() {
    var list = $("pl-coverage");
    clear(list);
    var body = state.bodies.coverage;
    if (!body) { list.appendChild(el("dd", { text: t("computing") })); return; }
    var c = body.coverage;
    figure(list, "area_covered", pct(c.pct_area_covered), "pct_area_covered");
    figure(list, "area_covered_twice", pct(c.pct_area_covered_twice), "pct_area_covered_twice");
    figure(list, "stations_used", c.n_used + " / " + c.n_stations, "n_used");
    figure(list, "at_time", body.query.at ? body.query.at.slice(11, 16) : t("at_any"), "at");
    figure(list, "district_area", km2(c.region_area_m2), "region_area_m2");
    figure(list, "radius", t("radius_option", { n: fmt(c.radius_m, 0) }), "radius_m");
  }

  function renderGaps() {
    var tbody = $("pl-gaps");
    clear(tbody);
    $("pl-slivers").textContent = "";
    var body = state.bodies.gaps;
    if (!body) { return; }
    if (!body.features.length) { tbody.appendChild(el("tr", {}, [el("td", { colspan: 3, text: t("no_gaps") })])); }
    body.features.slice(0, 20).forEach(function (f) {
      var p = f.properties;
      var row = el("tr", { tabindex: 0, className: "pl-row", onclick: function () { focusFeature(f); },
                            onkeydown: function (e) { if (e.key === "Enter") { focusFeature(f); } } }, [
        el("td", { text: p.rank }), el("td", { text: km2(p.area_m2) }),
        el("td", { text: (p.nearest_station_id || "–") + " · " + distance(p.nearest_station_m) })]);
      tbody.appendChild(row);
    });
    var s = body.summary;
    if (s.n_slivers) { $("pl-slivers").textContent = t("slivers", { n: s.n_slivers, a: fmt(s.min_area_m2, 0) }); }
  }

  function focusFeature(f) {
    var layer = L.geoJSON(f);
    state.map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 15 });
  }

  function methodText(summary) {
    if (summary.ties_broken_by) { return t("method_deepest"); }  // no demand data: never "optimal"
    if (summary.method === "ilp" && summary.optimal) { return t("method_optimal"); }
    var gap = fmt(summary.gap_pct, 1);
    return summary.method === "ilp" ? t("method_ilp", { gap: gap }) : t("method_greedy", { gap: gap });
  }

  function renderSites() {
    var tbody = $("pl-sites");
    clear(tbody);
    $("pl-method").textContent = "";
    var body = state.bodies.sites;
    if (!body) { return; }
    var from = body.demand_from;  // the demand the server was started with, if any
    $("pl-method").textContent = methodText(body.summary) +
      (from ? " · " + t("demand_from_" + from.kind, { file: from.file }) : "");
    body.features.forEach(function (f) {
      var p = f.properties;
      tbody.appendChild(el("tr", { tabindex: 0, className: "pl-row", onclick: function () { state.map.setView(toLatLng(f.geometry.coordinates), 14); } }, [
        el("td", {}, [el("span", { className: "pl-site pl-site-inline", text: String(p.rank) })]),
        el("td", { text: km2(p.gain) }), el("td", { text: pct(p.cumulative_pct) })]));
    });
  }

  function renderWhatIf() {
    var box = $("pl-whatif");
    clear(box);
    var nAdd = state.whatif.add.length, nRemove = Object.keys(state.whatif.remove).length;
    $("pl-whatif-clear").hidden = !(nAdd || nRemove);
    if (!nAdd && !nRemove) { return; }
    box.appendChild(el("p", { text: t("whatif_counts", { a: nAdd, r: nRemove }) }));
    var body = state.bodies.whatif;
    if (!body) { box.appendChild(el("p", { className: "sm-hint", text: t("computing") })); return; }
    var table = el("table", { className: "pl-table" }, [el("thead", {}, [el("tr", {}, [
      el("th", {}), el("th", { text: t("before") }), el("th", { text: t("after") }), el("th", { text: t("difference") })])])]);
    var tbody = el("tbody");
    [["area_covered", "pct_area_covered"], ["area_covered_twice", "pct_area_covered_twice"]].forEach(function (pair) {
      var d = body.delta[pair[1]];
      tbody.appendChild(el("tr", {}, [el("th", { text: t(pair[0]) }), el("td", { text: pct(body.before[pair[1]]) }),
        el("td", { text: pct(body.after[pair[1]]), "data-figure": "after-" + pair[1] }),
        el("td", { className: d > 0 ? "pl-up" : d < 0 ? "pl-down" : "", text: signed(d, 1, state.lang === "en" ? " pp" : " 个百分点") })]));
    });
    table.appendChild(tbody);
    box.appendChild(table);
  }

  /* ---- what-if ------------------------------------------------------------------------------------ */

  function scheduleWhatIf(delay) {
    clearTimeout(state.whatifTimer);
    state.bodies.whatif = null;
    renderWhatIf();
    var ids = Object.keys(state.whatif.remove);
    if (!state.whatif.add.length && !ids.length) { return; }
    state.whatifTimer = setTimeout(function () {
      var params = Object.assign({
        add: state.whatif.add.map(function (p) { return p[0].toFixed(6) + "," + p[1].toFixed(6); }).join(";"),
        remove: ids.join(","),
        datum: state.cfg.map_datum  // taps are in the tiles' datum
      }, common());
      track(getJson(apiUrl("/what-if", params)), state.seq, function (body) { state.bodies.whatif = body; renderWhatIf(); });
    }, delay === undefined ? 350 : delay);
  }

  function toggleWhatIf() {
    state.whatif.on = !state.whatif.on;
    var button = $("pl-whatif-toggle");
    button.setAttribute("aria-pressed", String(state.whatif.on));
    button.setAttribute("data-i18n", state.whatif.on ? "whatif_off" : "whatif_on");
    button.textContent = t(state.whatif.on ? "whatif_off" : "whatif_on");
    $("pl-whatif-hint").hidden = !state.whatif.on;
    state.map.getContainer().classList.toggle("pl-adding", state.whatif.on);
  }

  function clearWhatIf() {
    state.whatif.add = []; state.whatif.remove = {};
    drawWhatIf(); drawStations(); scheduleWhatIf();
  }

  /* ---- language ----------------------------------------------------------------------------------- */

  function applyLanguage() {
    window.smcommon.relabel(state, t, ["pl-worker-link"]);
    Array.prototype.forEach.call(document.querySelectorAll("[data-radius]"), function (node) { node.textContent = t("radius_option", { n: node.getAttribute("data-radius") }); });
    qrLink();
    renderCoverage(); renderGaps(); renderSites(); renderWhatIf();
  }

  function qrLink() {  // the chosen district's QR sheet, in the page's language
    var qr = $("pl-qr");
    if (!qr || !state.district) { return; }
    qr.href = qr.getAttribute("data-href").replace("ADCODE", encodeURIComponent(state.district)) + "?lang=" + state.lang;
  }

  function switchLanguage() {
    state.lang = state.lang === "en" ? "zh" : "en";
    var url = new URL(window.location.href);
    url.searchParams.set("lang", state.lang);
    window.history.replaceState(null, "", url.toString());
    applyLanguage();
  }

  /* ---- wiring ------------------------------------------------------------------------------------- */

  function readForm() {
    state.district = $("pl-district").value;
    state.radius = Number($("pl-radius").value);
    state.at = $("pl-at").value;
    var k = Math.round(Number($("pl-k").value));
    state.k = Math.max(1, Math.min(state.cfg.k_max, isFinite(k) && k > 0 ? k : state.cfg.k));
    $("pl-k").value = state.k;
  }

  function attach(map, configId) {
    state.map = map;
    state.cfg = JSON.parse($(configId).textContent);
    state.lang = state.cfg.lang;
    ["outline", "service", "overlap", "gaps", "stations", "sites", "whatif"].forEach(function (name) {
      layers[name] = L.featureGroup().addTo(map);
    });
    readForm();

    $("pl-layers").addEventListener("change", function (event) {
      var layer = layers[event.target.value];
      if (!layer) { return; }
      if (event.target.checked) { map.addLayer(layer); } else { map.removeLayer(layer); }
    });
    $("pl-form").addEventListener("change", function (event) {
      var districtChanged = event.target.id === "pl-district";
      readForm();
      if (districtChanged) {
        state.whatif.add = []; state.whatif.remove = {}; drawWhatIf();
        var url = new URL(window.location.href);
        url.searchParams.set("district", state.district);
        window.history.replaceState(null, "", url.toString());
        loadAll(true); loadStations(); qrLink();
      } else {
        drawWhatIf(); loadAll(false);
      }
    });
    $("pl-form").addEventListener("submit", function (event) { event.preventDefault(); });
    map.on("click", function (event) {
      if (!state.whatif.on || state.whatif.add.length >= 50) { return; }
      state.whatif.add.push([event.latlng.lng, event.latlng.lat]);
      drawWhatIf(); scheduleWhatIf();
    });
    $("pl-whatif-toggle").addEventListener("click", toggleWhatIf);
    $("pl-whatif-clear").addEventListener("click", clearWhatIf);
    $("pl-lang").addEventListener("click", switchLanguage);

    if (window.innerWidth < 600) { $("pl-layers-box").open = false; }  // keep the map visible on phones
    applyLanguage();
    loadOutlines();
    loadAll(false);
    loadStations();
    setTimeout(function () { map.invalidateSize(); drawOutline(true); }, 0);  // fit once the map has its size
  }

  window.stationplanner = { attach: attach, state: state, layers: layers };
})();
