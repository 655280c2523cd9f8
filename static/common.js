/* stationmap: helpers shared by the worker page (stationmap.js), the planner (planner.js), the editing page
 * (editor.js) and the feedback queue (queue.js).
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

  window.smcommon = { el: el, clear: clear, translator: translator, apiUrl: apiUrl, sendJson: sendJson };
})();
