/* stationmap: the editing page (/edit) for admins and district editors.
 *
 * The folium map calls window.stationeditor.attach(map, configId). Stations come from the read API (/api/view,
 * /api/stations/<id>), changes go to the write API (POST/PATCH/DELETE /api/stations, reopen, revert) with the
 * station's version in If-Match and the session's CSRF token in X-CSRF-Token. Every string that comes from data
 * is written with textContent (smcommon.el), never as HTML.
 * Coordinates are [lon, lat] everywhere in this file except where Leaflet wants [lat, lon] (marked).
 */
(function () {
  "use strict";

  var FIELDS = ["name", "address", "opening_hours", "amenities", "toilet", "stars", "served_groups", "host_type",
                "phone", "status"];
  var LISTS = { amenities: "amenities", served_groups: "served_groups" };  // field -> vocabulary in cfg.strings
  var SELECTS = { toilet: "toilet", host_type: "host_types", status: "statuses" };
  var RECENT_LIMIT = 10;

  var state = {
    map: null, cfg: null, lang: "zh", me: undefined, pending: 1, viewSeq: 0,  // pending starts at 1, as the body says, until the account is known
    // the open form: {mode: "new"|"edit", id, version, original: properties, feature}
    form: null, newMarker: null, move: null, recentBefore: null
  };
  var layers = {};

  function $(id) { return document.getElementById(id); }
  var el = window.smcommon.el;
  var clear = window.smcommon.clear;
  var t = window.smcommon.translator(function () { return state; });

  function toLatLng(lonlat) { return L.latLng(lonlat[1], lonlat[0]); }  // Leaflet wants [lat, lon]
  function label(vocab, key) { return window.smcommon.vocabLabel(state, vocab, key); }
  function busy(delta) { window.smcommon.busy(state, delta); }

  /* ---- API ---------------------------------------------------------------------------------------- */

  // resolves to {ok, status, body}; never rejects on an HTTP error; options.version becomes If-Match
  var api = window.smcommon.accountApi(state);

  /* ---- messages ----------------------------------------------------------------------------------- */

  function say(text) {
    var box = $("ed-status");
    box.textContent = text;
    box.hidden = !text;
    if (text) { $("ed-error").hidden = true; box.scrollIntoView({ block: "nearest" }); }
  }

  // An answer that is not ok: the page-language explanation first, then the server's words as they came.
  function showFailure(answer, stationId) {
    var box = $("ed-error");
    clear(box);
    var status = answer.status;
    var lead = status === 403 ? t("edit.forbidden")
      : status === 401 ? t("edit.unauthorized")
      : status === 404 && stationId ? t("edit.not_found", { id: stationId })
      : t("edit.failed", { status: status || "–" });
    box.appendChild(el("p", { className: "ed-error-lead", text: lead, "data-status": String(status) }));
    var message = answer.body && answer.body.error;
    if (message) { box.appendChild(el("p", { className: "ed-server", text: message })); }
    if (status === 401) {
      box.appendChild(el("a", { className: "sm-btn", href: loginUrl(), text: t("edit.sign_in") }));
      state.me = null; renderAccount();
    }
    box.hidden = false;
    $("ed-status").hidden = true;
    box.scrollIntoView({ block: "nearest" });
  }

  function hideMessages() {
    $("ed-status").hidden = true; $("ed-error").hidden = true;
  }

  function loginUrl() { return state.lang === "en" ? "/login?next=" + encodeURIComponent("/edit?lang=en") + "&lang=en" : "/login?next=/edit"; }

  /* ---- account ------------------------------------------------------------------------------------ */

  function canEdit() { return !!(state.me && (state.me.role === "admin" || state.me.role === "editor")); }

  function loadMe() {
    return api("GET", "/me").then(function (answer) {
      state.me = answer.ok && answer.body && answer.body.user ? answer.body : null;
      renderAccount();
      loadView();
      if (state.me) { loadRecent(true); }
    });
  }

  function renderAccount() {
    if (state.me === undefined) { return; }  // not known yet
    $("ed-account-loading").hidden = true;
    var me = state.me;
    $("ed-signed-out").hidden = !!me;
    $("ed-signed-in").hidden = !me;
    $("ed-login").href = loginUrl();
    document.body.classList.toggle("ed-can-edit", canEdit());
    document.body.setAttribute("data-user", me ? me.user : "");
    Array.prototype.forEach.call(document.querySelectorAll(".ed-editonly"), function (node) { node.disabled = !canEdit(); });
    $("ed-recent-box").hidden = !me;
    if (!me) { return; }
    var role = ["admin", "editor", "viewer"].indexOf(me.role) >= 0 ? t("edit.role_" + me.role) : me.role;
    $("ed-user").textContent = t("edit.signed_in", { name: me.user, role: role });
    var districts = (me.districts || []).map(districtLabel);
    $("ed-districts").textContent = me.role === "admin" ? t("edit.districts_of", { list: t("edit.all_districts") })
      : me.role === "viewer" ? t("edit.viewer_note")
      : t("edit.districts_of", { list: districts.join(t("edit.list_sep")) });
    drawOutlines();
  }

  // An editor starts on their own districts; everyone else on every station served.
  function fitOwnDistricts() {
    if (!state.me || state.me.role !== "editor") { return; }
    var boxes = state.cfg.districts.filter(function (d) { return (state.me.districts || []).indexOf(d.adcode) >= 0; });
    if (!boxes.length) { return; }
    var bounds = L.latLngBounds(boxes.map(function (d) { return [[d.bbox[1], d.bbox[0]], [d.bbox[3], d.bbox[2]]]; })
      .reduce(function (all, pair) { return all.concat(pair); }, []));  // Leaflet wants [lat, lon]
    state.map.fitBounds(bounds, { padding: [12, 12] });
  }

  function districtLabel(code) {
    var d = state.cfg.districts.filter(function (x) { return x.adcode === code; })[0];
    return d ? d.label + " " + code : code;
  }

  function logout() {
    api("POST", "/logout", { body: {} }).then(function () {
      state.me = null; renderAccount(); closeForm(); loadView();
    });
  }

  /* ---- map layers --------------------------------------------------------------------------------- */

  function loadOutlines() {
    api("GET", "/districts", { params: { map_datum: state.cfg.map_datum } }).then(function (answer) {
      if (answer.ok) { state.outlines = answer.body; drawOutlines(); }
    });
  }

  function drawOutlines() {
    layers.outlines.clearLayers();
    if (!state.outlines) { return; }
    var mine = state.me && state.me.role === "editor" ? state.me.districts || [] : null;
    state.outlines.features.forEach(function (f) {
      var own = mine ? mine.indexOf(String(f.id)) >= 0 : !!state.me;
      layers.outlines.addLayer(L.geoJSON(f, { interactive: false, style: own
        ? { color: "#0550ae", weight: 2.5, fill: true, fillOpacity: 0.04, dashArray: "6 4" }
        : { color: "#57606a", weight: 1, fill: false, dashArray: "2 4" } }));
    });
  }

  // The stations in view, from /api/view in the tiles' datum (its bbox is WGS-84: pad it for the datum shift).
  function loadView() {
    var seq = ++state.viewSeq;
    var b = state.map.getBounds();
    var pad = 0.01;
    var bbox = [b.getWest() - pad, b.getSouth() - pad, b.getEast() + pad, b.getNorth() + pad].map(function (v) { return v.toFixed(5); });
    api("GET", "/view", { params: { bbox: bbox.join(","), zoom: state.map.getZoom(), map_datum: state.cfg.map_datum } }).then(function (answer) {
      if (seq !== state.viewSeq) { return; }
      if (!answer.ok) { showFailure(answer); return; }
      drawView(answer.body);
    });
  }

  function pinIcon(stars, selected) {
    var inner = el("span", { className: "sm-pin sm-s" + stars + (selected ? " ed-selected" : "") },
      [el("span", { className: "sm-pin-stars", text: stars ? stars + "★" : "–" })]);
    return L.divIcon({ className: "sm-pin-wrap", html: inner, iconSize: [44, 44], iconAnchor: [22, 27] });
  }

  function drawView(body) {
    layers.stations.clearLayers();
    var zoom = $("ed-zoom");
    zoom.hidden = body.mode !== "clusters";
    if (body.mode === "clusters") {
      zoom.textContent = t("edit.zoom_in", { n: body.total });
      body.items.forEach(function (item) {
        var marker = L.marker(toLatLng([item.lon, item.lat]), {
          icon: L.divIcon({ className: "ed-cluster-wrap", html: el("span", { className: "ed-cluster", text: String(item.count) }), iconSize: [36, 36], iconAnchor: [18, 18] })
        });
        marker.on("click", function () { state.map.setView(toLatLng([item.lon, item.lat]), state.map.getZoom() + 2); });
        layers.stations.addLayer(marker);
      });
      return;
    }
    body.items.forEach(function (item) { layers.stations.addLayer(stationMarker(item)); });
  }

  function stationMarker(item) {
    var selected = state.form && state.form.id === item.id;
    var marker = L.marker(toLatLng([item.lon, item.lat]), {
      icon: pinIcon(Number(item.stars) || 0, selected), title: String(item.name || item.id), keyboard: true,
      draggable: canEdit(), autoPan: true
    });
    marker.stationId = item.id;
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) { node.setAttribute("data-station", String(item.id)); }
    });
    marker.bindTooltip(function () { return el("strong", { text: item.name || item.id }); }, { direction: "top", offset: [0, -16] });
    marker.on("click", function () { openStation(item.id); });
    marker.on("dragstart", function () { marker.closeTooltip(); });
    marker.on("dragend", function () { askMove(marker, item); });
    return marker;
  }

  /* ---- moving a station by dragging its marker ---------------------------------------------------- */

  function askMove(marker, item) {
    if (state.move) { state.move.marker.setLatLng(state.move.from); }
    state.move = { marker: marker, item: item, from: toLatLng([item.lon, item.lat]) };
    $("ed-move-text").textContent = t("edit.move_confirm", { name: item.name || item.id });
    $("ed-move").hidden = false;
    $("ed-move-yes").focus();
  }

  function cancelMove() {
    if (state.move) { state.move.marker.setLatLng(state.move.from); }
    state.move = null;
    $("ed-move").hidden = true;
  }

  function confirmMove() {
    var move = state.move;
    if (!move) { return; }
    $("ed-move").hidden = true;
    state.move = null;
    var at = move.marker.getLatLng();
    var lonlat = [Number(at.lng.toFixed(7)), Number(at.lat.toFixed(7))];
    var id = move.item.id;
    var known = state.form && state.form.id === id ? Promise.resolve(state.form.version) : api("GET", "/stations/" + encodeURIComponent(id)).then(function (answer) {
      if (!answer.ok) { throw answer; }
      return answer.body.version;
    });
    known.then(function (version) {
      return api("PATCH", "/stations/" + encodeURIComponent(id), {
        version: version, params: { datum: state.cfg.map_datum },  // a dragged position is in the tiles' datum
        body: { geometry: { type: "Point", coordinates: lonlat }, comment: $("ed-comment").value || null }
      });
    }).then(function (answer) {
      if (!answer.ok) { throw answer; }
      say(t("edit.moved_done", { id: id }));
      loadView(); loadRecent(true);
      if (state.form && state.form.id === id) { fillForm(answer.body); loadHistory(id); }
    }).catch(function (answer) {
      move.marker.setLatLng(move.from);
      if (answer && answer.status === 412 && state.form && state.form.id === id) { showConflict(answer.body); return; }
      showFailure(answer && answer.status !== undefined ? answer : { status: 0, body: null }, id);
    });
  }

  /* ---- the form ----------------------------------------------------------------------------------- */

  function buildChoices() {
    Object.keys(LISTS).forEach(function (field) {
      var box = $("ed-f-" + field);
      clear(box);
      Object.keys(state.cfg.strings[LISTS[field]]).forEach(function (key) {
        box.appendChild(el("label", { className: "ed-check" }, [
          el("input", { type: "checkbox", name: field, value: key }),
          el("span", { "data-vocab": LISTS[field], "data-key": key, text: label(LISTS[field], key) })]));
      });
    });
    Object.keys(SELECTS).forEach(function (field) {
      var select = $("ed-f-" + field);
      clear(select);
      if (field !== "status") { select.appendChild(el("option", { value: "", "data-i18n": "edit.unset", text: t("edit.unset") })); }
      Object.keys(state.cfg.strings[SELECTS[field]]).forEach(function (key) {
        select.appendChild(el("option", { value: key, "data-vocab": SELECTS[field], "data-key": key, text: label(SELECTS[field], key) }));
      });
    });
  }

  function readField(field) {
    if (LISTS[field]) {
      return Array.prototype.filter.call(document.querySelectorAll("#ed-f-" + field + " input"), function (box) { return box.checked; })
        .map(function (box) { return box.value; });
    }
    var raw = $("ed-f-" + field).value.trim();
    if (field === "stars") { return raw === "" ? null : /^-?\d+$/.test(raw) ? Number(raw) : raw; }
    return raw === "" ? null : raw;
  }

  function writeField(field, value) {
    if (LISTS[field]) {
      var chosen = Array.isArray(value) ? value.map(String) : [];
      Array.prototype.forEach.call(document.querySelectorAll("#ed-f-" + field + " input"), function (box) { box.checked = chosen.indexOf(box.value) >= 0; });
      return;
    }
    var node = $("ed-f-" + field);
    var text = value === null || value === undefined ? "" : String(value);
    if (node.tagName === "SELECT" && text && !Array.prototype.some.call(node.options, function (o) { return o.value === text; })) {
      node.appendChild(el("option", { value: text, text: text }));  // a value outside the vocabulary stays visible
    }
    node.value = field === "status" && !text ? "open" : text;
  }

  function same(a, b) {
    if (Array.isArray(a) || Array.isArray(b)) {
      var x = (a || []).slice().map(String).sort(), y = (b || []).slice().map(String).sort();
      return x.length === y.length && x.every(function (v, i) { return v === y[i]; });
    }
    return (a === undefined || a === null || a === "" ? null : String(a)) === (b === undefined || b === null || b === "" ? null : String(b));
  }

  function changedProperties() {
    var original = state.form.original || {};
    var changes = {};
    FIELDS.forEach(function (field) {
      var value = readField(field);
      if (LISTS[field] && !value.length && !original[field]) { return; }
      if (!same(value, original[field])) { changes[field] = LISTS[field] && !value.length ? null : value; }
    });
    return changes;
  }

  function clearProblems() {
    $("ed-problems").hidden = true; clear($("ed-problems"));
    $("ed-conflict").hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll(".ed-field-problem"), function (node) { node.parentNode.removeChild(node); });
    Array.prototype.forEach.call(document.querySelectorAll(".ed-invalid"), function (node) { node.classList.remove("ed-invalid"); });
  }

  function openForm(mode) {
    $("ed-form").hidden = false;
    clearProblems(); hideMessages();
    $("ed-coords").hidden = mode !== "new";
    $("ed-position").hidden = mode === "new";
    $("ed-comment").value = "";
    state.map.getContainer().classList.toggle("ed-placing", mode === "new");
  }

  function newStation(lonlat, datum) {
    if (!canEdit()) { return; }
    state.form = { mode: "new", id: null, version: null, original: {} };
    openForm("new");
    $("ed-history-box").hidden = true;
    $("ed-form-title").textContent = t("edit.form_new");
    FIELDS.forEach(function (field) { writeField(field, null); });
    $("ed-close").hidden = true; $("ed-reopen").hidden = true; $("ed-closed-note").hidden = true;
    if (lonlat) { setNewPosition(lonlat, datum); } else { $("ed-lon").value = ""; $("ed-lat").value = ""; $("ed-datum").value = state.cfg.map_datum; }
    redrawSelection();
    $("ed-f-name").focus({ preventScroll: true });
    if (window.innerWidth < 900) { $("ed-form").scrollIntoView({ block: "start" }); }
  }

  function setNewPosition(lonlat, datum) {
    $("ed-lon").value = lonlat[0].toFixed(7);
    $("ed-lat").value = lonlat[1].toFixed(7);
    $("ed-datum").value = datum;
    placeNewMarker(lonlat);
  }

  function placeNewMarker(lonlat) {
    if (state.newMarker) { layers.draft.removeLayer(state.newMarker); state.newMarker = null; }
    if (!lonlat) { return; }
    state.newMarker = L.marker(toLatLng(lonlat), {
      icon: L.divIcon({ className: "ed-cluster-wrap", html: el("span", { className: "ed-new", text: "+" }), iconSize: [30, 30], iconAnchor: [15, 15] }),
      draggable: true, zIndexOffset: 800, title: t("edit.form_new")
    });
    state.newMarker.on("dragend", function () {
      var at = state.newMarker.getLatLng();
      $("ed-lon").value = at.lng.toFixed(7); $("ed-lat").value = at.lat.toFixed(7); $("ed-datum").value = state.cfg.map_datum;
    });
    layers.draft.addLayer(state.newMarker);
  }

  function typedPosition() {
    var lon = Number($("ed-lon").value.trim()), lat = Number($("ed-lat").value.trim());
    if ($("ed-lon").value.trim() === "" || $("ed-lat").value.trim() === "" || !isFinite(lon) || !isFinite(lat)) { return null; }
    return [lon, lat];
  }

  function showTyped() {
    var lonlat = typedPosition();
    if (!lonlat) { say(t("edit.need_position")); return; }
    // only the tiles' own datum can be drawn without conversion; others are shown after saving
    if ($("ed-datum").value === state.cfg.map_datum) { placeNewMarker(lonlat); }
    state.map.setView(toLatLng(lonlat), Math.max(state.map.getZoom(), 15));
  }

  function openStation(id) {
    id = String(id || "").trim();
    if (!id) { return Promise.resolve(); }
    if (state.form && state.form.mode === "edit" && state.form.id !== id && Object.keys(changedProperties()).length) {
      say(t("edit.close_needs_save")); return Promise.resolve();
    }
    return api("GET", "/stations/" + encodeURIComponent(id), { params: { map_datum: state.cfg.map_datum, lang: state.lang } }).then(function (answer) {
      if (!answer.ok) { showFailure(answer, id); return; }
      state.form = { mode: "edit", id: id, version: null, original: {} };
      openForm("edit");
      placeNewMarker(null);
      fillForm(answer.body);
      loadHistory(id);
      var at = answer.body.properties.map_lonlat || answer.body.geometry.coordinates;
      if (!state.map.getBounds().contains(toLatLng(at)) || state.map.getZoom() < 13) { state.map.setView(toLatLng(at), Math.max(state.map.getZoom(), 15)); }
      if (window.innerWidth < 900) { $("ed-form").scrollIntoView({ block: "start" }); }
    });
  }

  function fillForm(feature) {
    var props = feature.properties || {};
    var id = String(props.id || feature.id || state.form.id);
    var original = {};
    FIELDS.forEach(function (field) { original[field] = props[field] === undefined ? null : props[field]; });
    state.form = { mode: "edit", id: id, version: feature.version, original: original, feature: feature };
    FIELDS.forEach(function (field) { writeField(field, original[field]); });
    $("ed-form-title").textContent = t("edit.form_edit", { id: id, v: feature.version });
    $("ed-form").setAttribute("data-version", String(feature.version));
    var c = feature.geometry && feature.geometry.coordinates;
    $("ed-position").textContent = t("edit.position") + ": " + (c ? t("edit.position_value", { lon: c[0].toFixed(6), lat: c[1].toFixed(6) }) : "–");
    var closed = props.status === "closed";
    $("ed-close").hidden = closed; $("ed-reopen").hidden = !closed; $("ed-closed-note").hidden = !closed;
    redrawSelection();
  }

  function redrawSelection() {
    layers.stations.eachLayer(function (marker) {
      if (marker.stationId === undefined) { return; }
      var node = marker.getElement && marker.getElement();
      var pin = node && node.querySelector(".sm-pin");
      if (pin) { pin.classList.toggle("ed-selected", !!(state.form && state.form.id === marker.stationId)); }
    });
  }

  function closeForm() {
    state.form = null;
    $("ed-form").hidden = true; $("ed-history-box").hidden = true;
    clearProblems();
    placeNewMarker(null);
    state.map.getContainer().classList.remove("ed-placing");
    redrawSelection();
  }

  function fieldLabel(field) {
    var key = "edit.f_" + field;
    return state.cfg.strings.ui[key] ? t(key) : field;
  }

  // A 422: each problem next to its field (the server's words as they came) under a heading in the page language.
  function showProblems(problems) {
    clearProblems(); hideMessages();
    var box = $("ed-problems");
    box.appendChild(el("p", { className: "ed-problems-lead", text: t("edit.problems_heading") }));
    var others = el("ul");
    (problems || []).forEach(function (p) {
      var words = (p.severity ? p.severity + ": " : "") + p.field + " = " + p.value + ": " + p.expected;
      var holder = document.querySelector("#ed-form [data-field='" + String(p.field).replace(/[^a-z_]/g, "") + "']:not([hidden])");
      if (holder && String(p.field).match(/^[a-z_]+$/)) {
        holder.classList.add("ed-invalid");
        holder.appendChild(el("span", { className: "ed-field-problem", "data-problem": p.field, text: words }));
      } else {
        others.appendChild(el("li", { "data-problem": p.field, text: fieldLabel(p.field) + " — " + words }));
      }
    });
    if (others.childNodes.length) { box.appendChild(el("p", { text: t("edit.problem_other") })); box.appendChild(others); }
    box.hidden = false;
    var first = document.querySelector(".ed-invalid");
    (first || box).scrollIntoView({ block: "center" });
  }

  function showConflict(body) {
    clearProblems();
    var current = body && body.current;
    $("ed-conflict-text").textContent = t("edit.conflict", { v: current ? current.version : "?" });
    var list = $("ed-conflict-values");
    clear(list);
    if (current) {
      FIELDS.forEach(function (field) {
        var value = current.properties[field];
        var text = value === undefined || value === null || value === "" ? t("edit.unset")
          : Array.isArray(value) ? value.map(function (v) { return label(LISTS[field] || "", v); }).join(t("edit.list_sep"))
          : SELECTS[field] ? label(SELECTS[field], value) : String(value);
        list.appendChild(el("dt", { text: fieldLabel(field) }));
        list.appendChild(el("dd", { text: text, "data-current": field }));
      });
    }
    state.conflict = current || null;
    $("ed-conflict").hidden = false;
    $("ed-conflict").scrollIntoView({ block: "center" });
  }

  function reloadCurrent() {
    var id = state.form && state.form.id;
    $("ed-conflict").hidden = true;
    if (id) { state.form.original = {}; openStation(id); }
  }

  // What came back from a write: refresh the form, the history, the map and the recent edits.
  function afterWrite(answer, message) {
    var id = answer.body.properties.id || answer.body.id;
    say(message.replace("{v}", answer.body.version));
    state.form = { mode: "edit", id: id, version: answer.body.version, original: {} };
    openForm("edit");
    placeNewMarker(null);
    fillForm(answer.body);
    say(message.replace("{v}", answer.body.version));
    loadHistory(id); loadView(); loadRecent(true);
  }

  function handleWriteFailure(answer) {
    if (answer.status === 422 && answer.body && answer.body.problems) { showProblems(answer.body.problems); return; }
    if (answer.status === 412) { showConflict(answer.body); return; }
    showFailure(answer, state.form && state.form.id);
  }

  function save(event) {
    event.preventDefault();
    if (!state.form || !canEdit()) { return; }
    clearProblems(); hideMessages();
    var comment = $("ed-comment").value.trim() || null;
    if (state.form.mode === "new") {
      var lonlat = typedPosition();
      if (!lonlat) { say(t("edit.need_position")); $("ed-lon").focus(); return; }
      var props = {};
      FIELDS.forEach(function (field) {
        var value = readField(field);
        if (value !== null && !(Array.isArray(value) && !value.length)) { props[field] = value; }
      });
      say(t("edit.working"));
      api("POST", "/stations", { params: { datum: $("ed-datum").value }, body: {
        type: "Feature", geometry: { type: "Point", coordinates: lonlat }, properties: props, comment: comment
      } }).then(function (answer) {
        if (!answer.ok) { handleWriteFailure(answer); return; }
        afterWrite(answer, t("edit.added", { id: answer.body.properties.id }));
      });
      return;
    }
    var changes = changedProperties();
    if (!Object.keys(changes).length) { say(t("edit.no_changes")); return; }
    var id = state.form.id;
    say(t("edit.working"));
    api("PATCH", "/stations/" + encodeURIComponent(id), { version: state.form.version, body: { properties: changes, comment: comment } }).then(function (answer) {
      if (!answer.ok) { handleWriteFailure(answer); return; }
      afterWrite(answer, t("edit.saved", { id: id, v: "{v}" }));
    });
  }

  function closeOrReopen(reopen) {
    if (!state.form || state.form.mode !== "edit" || !canEdit()) { return; }
    clearProblems(); hideMessages();
    var id = state.form.id;
    var comment = $("ed-comment").value.trim() || null;
    var request = reopen
      ? api("POST", "/stations/" + encodeURIComponent(id) + "/reopen", { version: state.form.version, body: { comment: comment } })
      : api("DELETE", "/stations/" + encodeURIComponent(id), { version: state.form.version, params: { comment: comment } });
    say(t("edit.working"));
    request.then(function (answer) {
      if (!answer.ok) { handleWriteFailure(answer); return; }
      afterWrite(answer, t(reopen ? "edit.reopened_done" : "edit.closed_done", { id: id }));
    });
  }

  /* ---- history and recent edits ------------------------------------------------------------------- */

  function actionLabel(action) {
    var key = "edit.action_" + action;
    return state.cfg.strings.ui[key] ? t(key) : String(action);
  }

  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return String(iso || ""); }
    return d.toLocaleString(state.lang === "en" ? "en-GB" : "zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  function changedFieldNames(edit) {
    var before = (edit.before && edit.before.properties) || {}, after = (edit.after && edit.after.properties) || {};
    var names = [];
    Object.keys(Object.assign({}, before, after)).forEach(function (key) {
      if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) { names.push(fieldLabel(key)); }
    });
    if (edit.before && edit.after && JSON.stringify(edit.before.geometry) !== JSON.stringify(edit.after.geometry)) { names.push(t("edit.f_geometry")); }
    return names;
  }

  function editLine(edit, withStation) {
    var parts = [];
    if (withStation) {
      parts.push(el("button", { type: "button", className: "ed-link", "data-open": edit.station_id, text: edit.station_id,
        onclick: function () { openStation(edit.station_id); } }));
      var name = edit.after && edit.after.properties && edit.after.properties.name;
      if (name) { parts.push(el("span", { className: "ed-edit-name", text: " " + name })); }
      parts.push(el("br"));
    }
    parts.push(el("span", { text: t("edit.edit_line", { edit: edit.edit_id, action: actionLabel(edit.action), v: edit.version, user: edit.user || "–", when: when(edit.recorded_at) }) }));
    var names = edit.action === "modify" || edit.action === "revert" ? changedFieldNames(edit) : [];
    if (names.length) { parts.push(el("div", { className: "ed-muted", text: t("edit.changed_fields", { list: names.join(t("edit.list_sep")) }) })); }
    if (edit.comment) { parts.push(el("div", { className: "ed-comment-text", text: "“" + edit.comment + "”" })); }
    return parts;
  }

  function loadHistory(id) {
    return api("GET", "/stations/" + encodeURIComponent(id) + "/history").then(function (answer) {
      if (!state.form || state.form.id !== id) { return; }
      var list = $("ed-history");
      clear(list);
      $("ed-history-box").hidden = false;
      if (!answer.ok) { list.appendChild(el("li", { text: answer.body && answer.body.error ? answer.body.error : String(answer.status) })); return; }
      var edits = answer.body.edits.slice().reverse();  // newest first
      if (!edits.length) { list.appendChild(el("li", { className: "ed-muted", text: t("edit.history_empty") })); }
      edits.forEach(function (edit) {
        var item = el("li", { "data-edit": String(edit.edit_id), "data-action": edit.action }, editLine(edit, false));
        if (edit.action !== "add") {
          item.appendChild(el("button", { type: "button", className: "sm-btn ed-revert ed-editonly", text: t("edit.revert"),
            "aria-label": t("edit.revert_label", { edit: edit.edit_id }), disabled: !canEdit(),
            onclick: function () { revert(edit); } }));
        }
        list.appendChild(item);
      });
    });
  }

  function revert(edit) {
    if (!state.form || !canEdit()) { return; }
    clearProblems(); hideMessages();
    var comment = $("ed-comment").value.trim() || null;
    say(t("edit.working"));
    api("POST", "/edits/" + encodeURIComponent(edit.edit_id) + "/revert", { version: state.form.version, body: { comment: comment } }).then(function (answer) {
      if (!answer.ok) { handleWriteFailure(answer); return; }
      afterWrite(answer, t("edit.reverted_done", { edit: edit.edit_id, id: edit.station_id, v: "{v}" }));
    });
  }

  function loadRecent(fresh) {
    if (!state.me) { return Promise.resolve(); }
    if (fresh) { state.recentBefore = null; }
    var params = { limit: RECENT_LIMIT };
    if (state.recentBefore) { params.before = state.recentBefore; }
    return api("GET", "/edits", { params: params }).then(function (answer) {
      var list = $("ed-recent");
      if (fresh) { clear(list); }
      if (!answer.ok) { list.appendChild(el("li", { text: answer.body && answer.body.error ? answer.body.error : String(answer.status) })); return; }
      answer.body.edits.forEach(function (edit) {
        list.appendChild(el("li", { "data-edit": String(edit.edit_id), "data-station": edit.station_id }, editLine(edit, true)));
      });
      var edits = answer.body.edits;
      state.recentBefore = edits.length ? edits[edits.length - 1].edit_id : null;
      $("ed-recent-more").hidden = !answer.body.next;
      if (fresh && !edits.length) { list.appendChild(el("li", { className: "ed-muted", text: t("edit.history_empty") })); }
    });
  }

  /* ---- language ----------------------------------------------------------------------------------- */

  function applyLanguage() {
    window.smcommon.relabel(state, t, ["ed-planner-link", "ed-queue-link"]);  // links open in this language
    Array.prototype.forEach.call(document.querySelectorAll("[data-vocab]"), function (node) { node.textContent = label(node.getAttribute("data-vocab"), node.getAttribute("data-key")); });
    renderAccount();
    if (state.form && state.form.mode === "edit" && state.form.feature) {
      $("ed-form-title").textContent = t("edit.form_edit", { id: state.form.id, v: state.form.version });
      loadHistory(state.form.id);
    } else if (state.form) { $("ed-form-title").textContent = t("edit.form_new"); }
    if (state.me) { loadRecent(true); }
  }

  function switchLanguage() {
    state.lang = state.lang === "en" ? "zh" : "en";
    var url = new URL(window.location.href);
    url.searchParams.set("lang", state.lang);
    window.history.replaceState(null, "", url.toString());
    applyLanguage();
  }

  /* ---- wiring ------------------------------------------------------------------------------------- */

  function attach(map, configId) {
    state.map = map;
    state.cfg = JSON.parse($(configId).textContent);
    state.lang = state.cfg.lang;
    ["outlines", "stations", "draft"].forEach(function (name) { layers[name] = L.featureGroup().addTo(map); });
    buildChoices();

    map.on("click", function (event) {
      if (!canEdit() || (state.form && state.form.mode === "edit")) { return; }
      var lonlat = [event.latlng.lng, event.latlng.lat];  // in the tiles' datum
      if (state.form && state.form.mode === "new") { setNewPosition(lonlat, state.cfg.map_datum); } else { newStation(lonlat, state.cfg.map_datum); }
    });
    map.on("moveend", loadView);
    $("ed-form").addEventListener("submit", save);
    $("ed-cancel").addEventListener("click", function () {
      if (state.form && state.form.mode === "edit") { var id = state.form.id; state.form.original = {}; clearProblems(); openStation(id); } else { closeForm(); }
    });
    $("ed-form-x").addEventListener("click", closeForm);
    $("ed-close").addEventListener("click", function () { closeOrReopen(false); });
    $("ed-reopen").addEventListener("click", function () { closeOrReopen(true); });
    $("ed-reload").addEventListener("click", reloadCurrent);
    $("ed-show").addEventListener("click", showTyped);
    $("ed-new").addEventListener("click", function () { newStation(null, state.cfg.map_datum); });
    $("ed-open-form").addEventListener("submit", function (event) { event.preventDefault(); openStation($("ed-open-id").value); });
    $("ed-move-yes").addEventListener("click", confirmMove);
    $("ed-move-no").addEventListener("click", cancelMove);
    $("ed-logout").addEventListener("click", logout);
    $("ed-lang").addEventListener("click", switchLanguage);
    $("ed-recent-refresh").addEventListener("click", function () { loadRecent(true); });
    $("ed-recent-more").addEventListener("click", function () { loadRecent(false); });

    applyLanguage();
    var b = state.cfg.bounds;  // [west, south, east, north] in the tiles' datum
    setTimeout(function () {
      map.invalidateSize();
      if (b) { map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [12, 12] }); }  // Leaflet wants [lat, lon]
      loadOutlines();
      loadMe().then(function () {
        fitOwnDistricts();
        var wanted = new URL(window.location.href).searchParams.get("station");
        return wanted ? openStation(wanted) : null;
      }).then(function () { busy(-1); });  // the body starts with data-pending=1 until the account is known
    }, 0);
  }

  window.stationeditor = { attach: attach, state: state, layers: layers, openStation: openStation };
})();
