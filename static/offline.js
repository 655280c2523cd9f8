/* stationmap: the worker's page without a network (issue 12, "works where workers are").
 *
 * Registers the service worker (<root>/sw.js; static/sw.js says what it caches), shows a banner with the data's
 * age while the page runs on cached answers ("离线：数据更新于 …" / "Offline: data from …"), and answers
 * "nearest" from the stations of the area last viewed, which the worker keeps from /api/view.
 *
 * For the page script, when a fetch of /api/nearest fails (offline, or the server unreachable):
 *
 *   window.smoffline.nearestFromCache(lon, lat, k) -> Promise<FeatureCollection | null>
 *       The k cached stations nearest to (lon, lat), nearest first, by haversine distance on a sphere of
 *       radius 6,371,008.8 m. lon/lat are in the map's datum (config `map_datum`), as /api/view items are.
 *       The answer is shaped like /api/nearest's: {type: "FeatureCollection", offline: true,
 *       fetched_at: ISO time or null, origin: {lon, lat}, numberReturned, features: [{type: "Feature", id,
 *       geometry: {type: "Point", coordinates: [lon, lat]}, properties: {id, name, stars, honour,
 *       open_now (as of fetched_at), rank (1-based), distance_m (rounded to 0.1 m), walk_min (75 m/min, at
 *       least 1)}}]}. Resolves null when nothing is cached (no Cache API, or no /api/view answer in points mode).
 *   window.smoffline.cachedStations() -> Promise<Array<{id, name, lon, lat, stars, open, honour}>>
 *       Every station of the cached /api/view answers in points mode, one per id (the newest answer wins).
 *   window.smoffline.dataAge() -> Promise<Date | null>
 *       When the newest cached API answer was fetched.
 *   window.smoffline.showBanner() / window.smoffline.hideBanner()
 *       The banner (#sm-offline) also shows by itself when the browser goes offline or the worker answers
 *       from its cache, and hides when a fresh answer arrives.
 */
(function () {
  "use strict";

  var DATA_CACHE = "stationmap-data-";
  var STAMP = "X-Stationmap-Fetched-At";
  var EARTH_RADIUS_M = 6371008.8;
  var WALK_M_PER_MIN = 75;
  var STRINGS = {
    offline_data_from: { zh: "离线：数据更新于 {time}", en: "Offline: data from {time}" },
    offline_no_data: { zh: "离线：没有已保存的数据", en: "Offline: no saved data" }
  };
  var script = document.currentScript;
  var shown = false;
  var lastFetchedAt = null;

  function lang() {
    return /^en\b/i.test(document.documentElement.lang || "") ? "en" : "zh";
  }

  function text(key, vars) {
    var entry = null;
    try {  // the page's own strings, if it has these keys
      var config = JSON.parse(document.getElementById("stationmap-config").textContent);
      entry = config.strings.ui[key] || null;
    } catch (err) { entry = null; }
    entry = entry || STRINGS[key];
    var result = entry[lang()] || entry.zh;
    Object.keys(vars || {}).forEach(function (name) { result = result.split("{" + name + "}").join(vars[name]); });
    return result;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatTime(date) {  // local time, as the worker's phone shows it
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function dataCaches() {
    if (!window.caches) { return Promise.resolve([]); }
    return window.caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name.indexOf(DATA_CACHE) === 0; })
        .map(function (name) { return window.caches.open(name); }));
    }).catch(function () { return []; });
  }

  function cachedResponses(filter) {  // [Response], oldest first
    return dataCaches().then(function (list) {
      return Promise.all(list.map(function (cache) {
        return cache.keys().then(function (keys) {
          return Promise.all(keys.filter(function (key) { return filter(new URL(key.url)); })
            .map(function (key) { return cache.match(key); }));
        });
      }));
    }).then(function (nested) {
      return [].concat.apply([], nested).filter(Boolean);
    });
  }

  function dataAge() {
    return cachedResponses(function () { return true; }).then(function (responses) {
      var newest = null;
      responses.forEach(function (response) {
        var when = Date.parse(response.headers.get(STAMP) || "");
        if (!isNaN(when) && (newest === null || when > newest)) { newest = when; }
      });
      return newest === null ? null : new Date(newest);
    });
  }

  function cachedStations() {
    return cachedResponses(function (url) { return /\/api\/view$/.test(url.pathname); }).then(function (responses) {
      return Promise.all(responses.map(function (response) {
        return response.json().catch(function () { return null; });
      }));
    }).then(function (bodies) {
      var byId = {};
      var order = [];
      bodies.forEach(function (body) {
        if (!body || body.mode !== "points" || !Array.isArray(body.items)) { return; }
        body.items.forEach(function (item) {
          if (typeof item.lon !== "number" || typeof item.lat !== "number") { return; }
          if (!(item.id in byId)) { order.push(item.id); }
          byId[item.id] = { id: item.id, name: item.name, lon: item.lon, lat: item.lat, stars: item.stars,
                            open: item.open, honour: item.honour };
        });
      });
      return order.map(function (id) { return byId[id]; });
    });
  }

  function haversineM(lon1, lat1, lon2, lat2) {
    var rad = Math.PI / 180;
    var dLat = (lat2 - lat1) * rad;
    var dLon = (lon2 - lon1) * rad;
    var h = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dLon / 2), 2);
    return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function nearestFromCache(lon, lat, k) {
    lon = Number(lon); lat = Number(lat);
    var count = Math.max(1, Math.floor(Number(k) || 1));
    return Promise.all([cachedStations(), dataAge()]).then(function (both) {
      var stations = both[0];
      if (!stations.length) { return null; }
      var ranked = stations.map(function (s) {
        return { station: s, distance: haversineM(lon, lat, s.lon, s.lat) };
      }).sort(function (a, b) { return a.distance - b.distance || (a.station.id < b.station.id ? -1 : 1); });
      var features = ranked.slice(0, count).map(function (found, i) {
        var s = found.station;
        return {
          type: "Feature", id: s.id, geometry: { type: "Point", coordinates: [s.lon, s.lat] },
          properties: { id: s.id, name: s.name, stars: s.stars, honour: s.honour, open_now: s.open, rank: i + 1,
                        distance_m: Math.round(found.distance * 10) / 10,
                        walk_min: Math.max(1, Math.ceil(found.distance / WALK_M_PER_MIN)) }
        };
      });
      return { type: "FeatureCollection", offline: true, fetched_at: both[1] ? both[1].toISOString() : null,
               origin: { lon: lon, lat: lat }, numberReturned: features.length, features: features };
    });
  }

  function banner() {
    var node = document.getElementById("sm-offline");
    if (node) { return node; }
    node = document.createElement("div");
    node.id = "sm-offline";
    node.className = "sm-offline";
    node.setAttribute("role", "status");
    node.hidden = true;
    var style = node.style;  // the page's stylesheet may restyle .sm-offline; these keep it legible without it
    style.padding = ".35rem .75rem";
    style.background = "#fff1e5";
    style.color = "#3d1e00";
    style.borderBottom = "1px solid #e8a87c";
    style.fontSize = ".9rem";
    var bar = document.querySelector(".sm-bar");
    if (bar && bar.parentNode) { bar.parentNode.insertBefore(node, bar.nextSibling); }
    else { document.body.insertBefore(node, document.body.firstChild); }
    return node;
  }

  function render() {
    if (!shown) { return; }
    var node = banner();
    node.textContent = lastFetchedAt ? text("offline_data_from", { time: formatTime(lastFetchedAt) })
      : text("offline_no_data");
    node.setAttribute("data-fetched-at", lastFetchedAt ? lastFetchedAt.toISOString() : "");
    node.hidden = false;
  }

  function showBanner(fetchedAt) {
    shown = true;
    var given = fetchedAt ? new Date(fetchedAt) : null;
    return dataAge().then(function (newest) {
      lastFetchedAt = newest || (given && !isNaN(given.getTime()) ? given : null);
      render();
    });
  }

  function hideBanner() {
    shown = false;
    var node = document.getElementById("sm-offline");
    if (node) { node.hidden = true; }
  }

  window.smoffline = {
    nearestFromCache: nearestFromCache, cachedStations: cachedStations, dataAge: dataAge,
    showBanner: showBanner, hideBanner: hideBanner
  };

  window.addEventListener("offline", function () { showBanner(); });
  window.addEventListener("online", hideBanner);
  new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  if (navigator.onLine === false) { showBanner(); }

  if ("serviceWorker" in navigator && script) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      var message = event.data || {};
      if (message.type === "stationmap-offline") { showBanner(message.fetchedAt); }
      else if (message.type === "stationmap-online" && navigator.onLine !== false) { hideBanner(); }
    });
    navigator.serviceWorker.register(new URL("../sw.js", script.src).href).catch(function () {
      // no worker (plain http on a LAN address, private mode): the page still works online
    });
  }
})();
