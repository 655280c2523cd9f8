/* stationmap: the editors' queue of workers' reports (/feedback).
 *
 * Reports come from GET /api/feedback (the signed-in editor's districts, newest first); state changes go to
 * POST /api/feedback/<id>/state with the state the editor saw (expected_state) and the session's CSRF token in
 * X-CSRF-Token. Resolving a broken facility can remove the amenity from the station, and resolving a wrong
 * location can move the station, in the same call (edit + if_match: the station's version, read just before).
 * Every string that comes from data (names, workers' text, notes, server messages) is written with textContent
 * (smcommon.el), never as HTML. Coordinates are [lon, lat], WGS-84.
 */
(function () {
  "use strict";

  var PAGE = 50;
  var OPEN = { "new": true, acknowledged: true };
  var cfg = JSON.parse(document.getElementById("queue-config").textContent);
  var state = { cfg: cfg, lang: cfg.lang, me: undefined, pending: 1, reports: [], before: null, panel: null };
  var el = window.smcommon.el;
  var clear = window.smcommon.clear;
  var t = window.smcommon.translator(function () { return state; });

  function $(id) { return document.getElementById(id); }
  function label(vocab, key) { return window.smcommon.vocabLabel(state, vocab, key); }
  function busy(delta) { window.smcommon.busy(state, delta); }
  var api = window.smcommon.accountApi(state);  // resolves to {ok, status, body}; never rejects on an HTTP error

  /* ---- messages ----------------------------------------------------------------------------------- */

  function say(text) {
    var box = $("fq-status");
    box.textContent = text;
    box.hidden = !text;
    if (text) { $("fq-error").hidden = true; }
  }

  // A refusal in the page's words; then, unless those say it all (409, 412), the server's own message (as text).
  function showFailure(answer, report) {
    var box = $("fq-error");
    clear(box);
    var status = answer.status;
    var lead = status === 409 ? t("queue.conflict", { id: report.id })
      : status === 412 ? t("queue.stale", { station: report.station_id })
      : status === 422 ? t("queue.invalid")
      : status === 403 ? t("queue.forbidden")
      : status === 401 ? t("queue.unauthorized")
      : t("queue.failed", { status: status || "–" });
    box.appendChild(el("p", { className: "fq-error-lead", text: lead, "data-status": String(status) }));
    var message = answer.body && answer.body.error;
    if (message && status !== 409 && status !== 412) { box.appendChild(el("p", { className: "fq-server", text: message })); }
    if (status === 401) { box.appendChild(el("a", { className: "sm-btn", href: loginUrl(), text: t("queue.sign_in") })); }
    box.hidden = false;
    $("fq-status").hidden = true;
    box.scrollIntoView({ block: "nearest" });
  }

  function loginUrl() {
    return state.lang === "en" ? "/login?next=" + encodeURIComponent("/feedback?lang=en") + "&lang=en" : "/login?next=/feedback";
  }

  /* ---- account ------------------------------------------------------------------------------------ */

  function canHandle() { return !!(state.me && (state.me.role === "admin" || state.me.role === "editor")); }

  function loadMe() {
    return api("GET", "/me").then(function (answer) {
      state.me = answer.ok && answer.body && answer.body.user ? answer.body : null;
      renderAccount();
      fillDistricts();
      if (canHandle()) { loadQueue(true); }
      busy(-1);  // the account is known: the page's first request is done
    });
  }

  function districtLabel(code) {
    var name = state.cfg.districts[code];
    return name ? name + " " + code : code;
  }

  function renderAccount() {
    if (state.me === undefined) { return; }
    var me = state.me;
    $("fq-account-loading").hidden = true;
    $("fq-signed-out").hidden = !!me;
    $("fq-signed-in").hidden = !me;
    $("fq-login").href = loginUrl();
    $("fq-viewer").hidden = !me || canHandle();
    $("fq-filters").hidden = !canHandle();
    document.body.setAttribute("data-user", me ? me.user : "");
    if (!me) { clear($("fq-list")); $("fq-count").hidden = true; $("fq-more").hidden = true; return; }
    var role = ["admin", "editor", "viewer"].indexOf(me.role) >= 0 ? t("queue.role_" + me.role) : me.role;
    $("fq-user").textContent = t("queue.signed_in", { name: me.user, role: role });
    $("fq-districts").textContent = me.role === "admin" ? t("queue.districts_of", { list: t("queue.all_districts") })
      : me.role === "editor" ? t("queue.districts_of", { list: (me.districts || []).map(districtLabel).join(t("queue.list_sep")) })
      : "";
  }

  function fillDistricts() {
    var select = $("fq-district");
    var chosen = select.value;
    clear(select);
    if (!canHandle()) { return; }
    var codes = state.me.role === "admin" ? Object.keys(state.cfg.districts).sort() : (state.me.districts || []);
    select.appendChild(el("option", { value: "", text: t("queue.district_all") }));
    codes.forEach(function (code) { select.appendChild(el("option", { value: code, text: districtLabel(code) })); });
    select.value = chosen;
    if (select.value !== chosen) { select.value = ""; }
    var states = $("fq-state");
    var stateChosen = states.value;
    clear(states);
    states.appendChild(el("option", { value: "", text: t("queue.state_all") }));
    Object.keys(state.cfg.strings.states).forEach(function (key) {
      states.appendChild(el("option", { value: key, text: label("states", key) }));
    });
    states.value = stateChosen || "";
  }

  function logout() {
    api("POST", "/logout", { body: {} }).then(function () {
      state.me = null; state.reports = []; renderAccount(); say("");
    });
  }

  /* ---- the queue ---------------------------------------------------------------------------------- */

  function loadQueue(fresh) {
    if (!canHandle()) { return Promise.resolve(); }
    var params = { district: $("fq-district").value, state: $("fq-state").value, limit: PAGE,
                   before: fresh ? null : state.before };
    return api("GET", "/feedback", { params: params }).then(function (answer) {
      if (!answer.ok) { showFailure(answer, {}); return; }
      var reports = answer.body.reports || [];
      state.reports = fresh ? reports : state.reports.concat(reports);
      state.before = reports.length ? reports[reports.length - 1].id : null;
      $("fq-more").hidden = !answer.body.next;
      renderList();
    });
  }

  function visible() {
    var only = $("fq-overdue-only").checked;
    var wanted = $("fq-state").value;
    return state.reports.filter(function (r) { return (!only || r.overdue) && (!wanted || r.state === wanted); });
  }

  function renderList() {
    var list = $("fq-list");
    clear(list);
    var shown = visible();
    shown.forEach(function (report) { list.appendChild(card(report)); });
    if (!shown.length) { list.appendChild(el("li", { className: "fq-empty fq-muted", text: t("queue.empty") })); }
    var overdue = shown.filter(function (r) { return r.overdue; }).length;
    $("fq-count").textContent = t("queue.count", { n: shown.length, overdue: overdue });
    $("fq-count").hidden = false;
  }

  // "12-03 00:00" from an ISO time in China time (+08:00, as the API gives every time).
  function shortTime(iso) { return iso ? iso.slice(5, 16).replace("T", " ") : ""; }

  function span(ms) {
    var minutes = Math.max(1, Math.round(Math.abs(ms) / 60000));
    if (minutes < 60) { return t("queue.t_minutes", { n: minutes }); }
    var hours = Math.round(minutes / 60);
    if (hours < 48) { return t("queue.t_hours", { n: hours }); }
    return t("queue.t_days", { n: Math.round(hours / 24) });
  }

  function card(report) {
    var now = Date.now();
    var item = el("li", { className: "fq-card" + (report.overdue ? " fq-is-overdue" : ""), "data-id": String(report.id),
                          "data-state": report.state, "data-overdue": report.overdue ? "1" : "0" });
    var head = el("div", { className: "fq-head" }, [
      el("span", { className: "fq-id", text: "#" + report.id }),
      el("span", { className: "fq-station" }, [
        el("strong", { className: "fq-name", text: report.station_name || report.station_id }),
        el("span", { className: "fq-muted fq-sid", text: " " + report.station_id })
      ]),
      report.overdue ? el("span", { className: "fq-badge fq-badge-overdue", text: t("queue.overdue") }) : null,
      el("span", { className: "fq-badge fq-state-" + report.state, text: label("states", report.state) })
    ]);
    item.appendChild(head);
    var what = [el("span", { className: "fq-kind", text: label("kinds", report.kind) })];
    if (report.amenity) { what.push(el("span", { className: "fq-amenity", text: t("queue.amenity", { name: label("amenities", report.amenity) }) })); }
    if (report.rating) {
      what.push(el("span", { className: "fq-rating", text: "★★★★★".slice(0, report.rating) + "☆☆☆☆☆".slice(0, 5 - report.rating)
                                                          + " " + t("queue.rating", { n: report.rating }) }));
    }
    item.appendChild(el("p", { className: "fq-what" }, what));
    item.appendChild(el("p", { className: report.text ? "fq-text" : "fq-text fq-muted", text: report.text || t("queue.no_text") }));
    var created = Date.parse(report.created_at);
    var deadline = Date.parse(report.deadline);
    var when = [el("span", { text: t("queue.age", { t: span(now - created) }) }),
                el("span", { className: report.overdue ? "fq-late" : "", text: t("queue.deadline", { when: shortTime(report.deadline) })
                             + (report.overdue ? " · " + t("queue.overdue_by", { t: span(now - deadline) }) : "") })];
    if (report.phone) {
      when.push(el("span", { className: "fq-phone" }, [t("queue.phone"), el("a", { href: "tel:" + report.phone, text: report.phone })]));
    }
    item.appendChild(el("p", { className: "fq-when fq-muted" }, when));
    if (report.state_changed_by) {
      item.appendChild(el("p", { className: "fq-handled fq-muted", text: t("queue.handled", {
        state: label("states", report.state), who: report.state_changed_by, when: shortTime(report.state_changed_at) }) }));
    }
    if (report.note) { item.appendChild(el("p", { className: "fq-note-text", text: report.note })); }
    if (report.edit_id) { item.appendChild(el("p", { className: "fq-muted", text: t("queue.edited", { id: report.edit_id }) })); }
    if (OPEN[report.state]) {
      var actions = el("div", { className: "fq-actions" });
      if (report.state === "new") {
        actions.appendChild(el("button", { type: "button", className: "sm-btn fq-ack", text: t("queue.acknowledge"),
                                           onclick: function () { send(report, "acknowledged", ""); } }));
      }
      actions.appendChild(el("button", { type: "button", className: "sm-btn fq-primary fq-resolve", text: t("queue.resolve"),
                                         onclick: function () { openPanel(item, report, "resolved"); } }));
      actions.appendChild(el("button", { type: "button", className: "sm-btn fq-danger fq-reject", text: t("queue.reject"),
                                         onclick: function () { openPanel(item, report, "rejected"); } }));
      item.appendChild(actions);
    }
    return item;
  }

  /* ---- resolve / reject --------------------------------------------------------------------------- */

  function openPanel(item, report, target) {
    var old = document.querySelector(".fq-panel");
    if (old) { old.parentNode.removeChild(old); }
    var note = el("textarea", { className: "fq-note", rows: "2", maxlength: "500", placeholder: t("queue.note_placeholder") });
    var problem = el("p", { className: "fq-problem", role: "alert", hidden: true });
    var panel = el("div", { className: "fq-panel", "data-for": target }, [
      el("label", { className: "fq-field" }, [el("span", { className: "fq-label", text: t("queue.note") }), note]),
      problem
    ]);
    var buttons = el("div", { className: "fq-actions" });
    var cancel = el("button", { type: "button", className: "sm-btn fq-cancel", text: t("queue.cancel"),
                                onclick: function () { panel.parentNode.removeChild(panel); } });
    if (target === "rejected") {
      buttons.appendChild(el("button", { type: "button", className: "sm-btn fq-danger fq-reject-do", text: t("queue.reject_do"),
        onclick: function () {
          if (!note.value.trim()) { problem.textContent = t("queue.note_required"); problem.hidden = false; note.focus(); return; }
          send(report, "rejected", note.value);
        } }));
    } else {
      var special = el("div", { className: "fq-special" });
      panel.appendChild(special);
      var offer = (report.kind === "broken_facility" && report.amenity) || (report.kind === "wrong_location" && report.location);
      if (report.kind === "broken_facility" && report.amenity) { offerRemoval(special, report, note); }
      if (report.kind === "wrong_location" && report.location) { offerMove(special, report, note); }
      buttons.appendChild(el("button", { type: "button", className: "sm-btn fq-resolve-do" + (offer ? "" : " fq-primary"), text: t("queue.resolve_plain"),
                                         onclick: function () { send(report, "resolved", note.value); } }));
    }
    buttons.appendChild(cancel);
    panel.appendChild(buttons);
    item.appendChild(panel);
    note.focus();
  }

  function readStation(report) {
    return api("GET", "/stations/" + encodeURIComponent(report.station_id));
  }

  function offerRemoval(box, report, note) {
    var name = label("amenities", report.amenity);
    box.appendChild(el("p", { className: "fq-muted", text: t("queue.station_loading") }));
    readStation(report).then(function (answer) {
      clear(box);
      if (!answer.ok) { showFailure(answer, report); return; }
      var amenities = (answer.body.properties && answer.body.properties.amenities) || [];
      if (amenities.indexOf(report.amenity) < 0) {
        box.appendChild(el("p", { className: "fq-muted", text: t("queue.amenity_gone", { name: name }) }));
        return;
      }
      var kept = amenities.filter(function (a) { return a !== report.amenity; });
      box.appendChild(el("button", { type: "button", className: "sm-btn fq-primary fq-remove-amenity",
        text: t("queue.remove_amenity", { name: name }),
        onclick: function () {
          send(report, "resolved", note.value, { properties: { amenities: kept } }, answer.body.version);
        } }));
    });
  }

  function metresApart(a, b) {  // great circle, metres; a and b are [lon, lat]
    var rad = Math.PI / 180;
    var h = Math.pow(Math.sin((b[1] - a[1]) * rad / 2), 2)
      + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.pow(Math.sin((b[0] - a[0]) * rad / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
  }

  // Both points on a small north-up sketch, to scale with each other: red where the station is, blue where the
  // worker says it is.
  function sketch(now, reported) {
    var ns = "http://www.w3.org/2000/svg";
    function node(tag, attrs, text) {
      var n = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
      if (text !== undefined) { n.textContent = text; }
      return n;
    }
    var width = 280, height = 150;
    var dx = (reported[0] - now[0]) * Math.cos(now[1] * Math.PI / 180) * 111320;
    var dy = (reported[1] - now[1]) * 110574;
    var scale = Math.min(100 / Math.max(Math.abs(dx), 1e-9), 50 / Math.max(Math.abs(dy), 1e-9), 1e6);
    var ax = width / 2 - dx * scale / 2, ay = height / 2 + dy * scale / 2;
    var bx = width / 2 + dx * scale / 2, by = height / 2 - dy * scale / 2;
    var svg = node("svg", { viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", "class": "fq-sketch",
                            "aria-label": t("queue.points_label") });
    svg.appendChild(node("line", { x1: ax, y1: ay, x2: bx, y2: by, stroke: "#57606a", "stroke-width": 2, "stroke-dasharray": "5 4" }));
    svg.appendChild(node("circle", { cx: ax, cy: ay, r: 8, fill: "#c8102e", "class": "fq-point-now" }));
    svg.appendChild(node("circle", { cx: bx, cy: by, r: 8, fill: "#0969da", "class": "fq-point-reported" }));
    svg.appendChild(node("text", { x: 8, y: 18, "font-size": 13, fill: "#57606a" }, t("queue.north") + " ↑"));
    return svg;
  }

  function offerMove(box, report, note) {
    box.appendChild(el("p", { className: "fq-muted", text: t("queue.station_loading") }));
    readStation(report).then(function (answer) {
      clear(box);
      if (!answer.ok) { showFailure(answer, report); return; }
      var now = answer.body.geometry.coordinates.slice(0, 2);
      var there = [report.location.lon, report.location.lat];
      var fmt = function (p) { return p[0].toFixed(6) + ", " + p[1].toFixed(6); };
      box.appendChild(sketch(now, there));
      box.appendChild(el("dl", { className: "fq-points" }, [
        el("dt", { className: "fq-dot-now", text: t("queue.point_now") }), el("dd", { text: fmt(now) }),
        el("dt", { className: "fq-dot-reported", text: t("queue.point_reported") }), el("dd", { text: fmt(there) })
      ]));
      box.appendChild(el("p", { className: "fq-apart", text: t("queue.points_apart", { m: Math.round(metresApart(now, there)) }) }));
      box.appendChild(el("button", { type: "button", className: "sm-btn fq-primary fq-move", text: t("queue.move_here"),
        onclick: function () {
          send(report, "resolved", note.value, { geometry: { type: "Point", coordinates: there } }, answer.body.version);
        } }));
    });
  }

  function send(report, target, note, edit, version) {
    var body = { state: target, note: note || "", expected_state: report.state };
    if (edit) { body.edit = edit; body.if_match = version; }
    return api("POST", "/feedback/" + report.id + "/state", { body: body }).then(function (answer) {
      if (answer.ok) {
        var moved = answer.body;
        moved.station_name = report.station_name;
        state.reports = state.reports.map(function (r) { return r.id === moved.id ? moved : r; });
        renderList();
        say(t("queue.done_" + moved.state, { id: moved.id }));
        return;
      }
      showFailure(answer, report);
      if (answer.status === 409) { loadQueue(true); }
      if (answer.status === 412) { renderList(); }  // the offer was based on the old version: open it again
    });
  }

  /* ---- language ----------------------------------------------------------------------------------- */

  function applyLanguage() {
    window.smcommon.relabel(state, t, ["fq-edit-link"]);
    renderAccount();
    fillDistricts();
    if (canHandle()) { renderList(); }
    say("");
    $("fq-error").hidden = true;
  }

  function switchLanguage() {
    state.lang = state.lang === "en" ? "zh" : "en";
    var url = new URL(window.location.href);
    url.searchParams.set("lang", state.lang);
    window.history.replaceState(null, "", url.toString());
    applyLanguage();
  }

  $("fq-lang").addEventListener("click", switchLanguage);
  $("fq-logout").addEventListener("click", logout);
  $("fq-district").addEventListener("change", function () { loadQueue(true); });
  $("fq-state").addEventListener("change", function () { loadQueue(true); });
  $("fq-overdue-only").addEventListener("change", renderList);
  $("fq-refresh").addEventListener("click", function () { say(""); loadQueue(true); });
  $("fq-more").addEventListener("click", function () { loadQueue(false); });
  $("fq-filters").addEventListener("submit", function (event) { event.preventDefault(); });
  window.stationqueue = { state: state };
  loadMe();
}());
