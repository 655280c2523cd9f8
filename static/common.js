/* stationmap: helpers shared by the worker page (stationmap.js), the planner (planner.js), the editing page
 * (editor.js) and the feedback queue (queue.js): elements, strings, language switches and API calls.
 *
 * Every string that comes from data reaches the page through el(..., { text }) or a text node, never as HTML.
 */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { node.textContent = String(value); }
      else if (key === "className") { node.className = value; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), value); }
      else { node.setAttribute(key, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // t(key, vars): the UI string in the page's current language, with {name} placeholders filled in.
  function translator(getState) {
    return function t(key, vars) {
      var state = getState();
      var entry = state.cfg.strings.ui[key];
      var text = entry ? (entry[state.lang] || entry.zh) : key;
      Object.keys(vars || {}).forEach(function (name) { text = text.split("{" + name + "}").join(String(vars[name])); });
      return text;
    };
  }

  // The API URL for path with params; arrays become repeated parameters, empty values are left out.
  function apiUrl(base, path, params) {
    var query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (key) {
      var value = params[key];
      if (Array.isArray(value)) { value.forEach(function (v) { query.append(key, v); }); }
      else if (value !== null && value !== undefined && value !== "") { query.append(key, value); }
    });
    var qs = query.toString();
    return base + path + (qs ? "?" + qs : "");
  }

  // One JSON request (the editing and queue pages' writes and reads): resolves to {ok, status, body} and never
  // rejects, on an HTTP error or a network failure alike (status 0); a body that is not JSON becomes {error}.
  function sendJson(url, method, headers, body) {
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (err) { parsed = { error: text.slice(0, 200) }; }
        return { ok: response.ok, status: response.status, body: parsed };
      });
    }, function (err) {
      return { ok: false, status: 0, body: { error: err && err.message ? err.message : "network" } };
    });
  }

  // state.pending counts requests in flight; the body's data-pending says it (the end-to-end tests wait on it).
  function busy(state, delta) {
    state.pending += delta;
    document.body.setAttribute("data-pending", String(Math.max(0, state.pending)));
  }

  // The signed-in pages' API calls (editing, queue): {ok, status, body}, never rejecting; a write carries the
  // session's CSRF token, and options.version becomes If-Match.
  function accountApi(state) {
    return function api(method, path, options) {
      options = options || {};
      var headers = { Accept: "application/json" };
      if (method !== "GET") {
        if (state.me && state.me.csrf_token) { headers["X-CSRF-Token"] = state.me.csrf_token; }
        if (options.body !== undefined) { headers["Content-Type"] = "application/json"; }
      }
      if (options.version !== undefined && options.version !== null) { headers["If-Match"] = '"' + options.version + '"'; }
      busy(state, 1);
      return sendJson(apiUrl(state.cfg.api, path, options.params), method, headers, options.body)
        .then(function (answer) { busy(state, -1); return answer; });
    };
  }

  // The label of `key` in the vocabulary `vocab` of the page's strings, in the page's language.
  function vocabLabel(state, vocab, key) {
    var entry = (state.cfg.strings[vocab] || {})[key];
    return entry ? (entry[state.lang] || entry.zh) : String(key);
  }

  // Re-label what the page's HTML marks (data-i18n text, aria-label, placeholder; the data notices) in
  // state.lang, and point each of linkIds at its page in the same language.
  function relabel(state, t, linkIds) {
    document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
    var each = function (selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); };
    each("[data-i18n]", function (node) { node.textContent = t(node.getAttribute("data-i18n")); });
    each("[data-i18n-aria]", function (node) { node.setAttribute("aria-label", t(node.getAttribute("data-i18n-aria"))); });
    each("[data-i18n-placeholder]", function (node) { node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder"))); });
    each("[data-notice]", function (node) {
      var notice = (state.cfg.notices || [])[Number(node.getAttribute("data-notice"))];
      if (notice) { node.textContent = notice[state.lang] || notice.zh; }
    });
    (linkIds || []).forEach(function (id) {
      var link = document.getElementById(id);
      if (link) { link.href = link.pathname + "?lang=" + state.lang; }
    });
  }

  window.smcommon = { el: el, clear: clear, translator: translator, apiUrl: apiUrl, sendJson: sendJson, busy: busy,
                      accountApi: accountApi, vocabLabel: vocabLabel, relabel: relabel };
})();
