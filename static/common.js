/* stationmap: helpers shared by the worker page (stationmap.js) and the planner (planner.js).
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

  window.smcommon = { el: el, clear: clear, translator: translator, apiUrl: apiUrl };
})();
