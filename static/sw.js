/* stationmap: the service worker of the worker's page (issue 12, "works where workers are").
 *
 * Served at <root>/sw.js by stationmap.web.views (scope: the app's root), which fills in BUILD below:
 * `version` (package version + a hash of every file in static/) and `assets` (static URLs the page may need
 * beyond what it links: vendored Leaflet images, the icons, the manifest, offline.js).
 *
 * - Install: precache the page shell (<root>/, in the browser's language), every /static/ URL the shell links
 *   and BUILD.assets, into "stationmap-shell-<version>". A new version (any static file changed) is a new worker
 *   and a new cache; activate deletes every other "stationmap-" cache but the data cache of this API version.
 * - The page <root>/ (navigations only): network first, the cached shell when the network fails.
 * - /static/: cache first (the cache's name carries the files' hash, so it is never stale), filled at runtime.
 * - Public read API (GET /api/view, /api/nearest, /api/stations, /api/stations/<id>): network first; each good
 *   answer is stored stamped with X-Stationmap-Fetched-At, the last MAX_DATA answers kept. When the network fails,
 *   the same URL from the cache, or for /api/view the newest cached view (the area last viewed); otherwise a
 *   network error, as without a worker. Clients get {type: "stationmap-offline", fetchedAt} or
 *   {type: "stationmap-online"} messages.
 * - Never cached or replayed here: other origins (map tiles keep the browser's own HTTP cache), anything not GET
 *   (a worker's feedback, POST /api/stations/<id>/feedback, goes to the network or fails; the page says so), requests
 *   with Authorization or a CSRF header, every other /api/ path (/api/me, /api/edits, history, login, ...),
 *   answers marked no-store or private, and every other page (/planner, /edit, /login).
 */
/* eslint-env serviceworker */
"use strict";

var BUILD = /*BUILD*/{"version": "dev", "api": "dev", "assets": []}/*END*/;

var PREFIX = "stationmap-";
var SHELL = PREFIX + "shell-" + BUILD.version;
var DATA = PREFIX + "data-" + BUILD.api;
var MAX_DATA = 40;
var STAMP = "X-Stationmap-Fetched-At";
var ROOT = new URL("./", self.location.href).pathname;
var API = ROOT + "api/";
var STATIC = ROOT + "static/";
var PUBLIC_API = /^(view|nearest|stations|stations\/[^\/]+)$/;

function linkedAssets(html) {
  var found = [];
  var pattern = /(?:src|href)="([^"]+)"/g;
  var match;
  while ((match = pattern.exec(html)) !== null) {
    var url = new URL(match[1].replace(/&amp;/g, "&"), self.location.href);
    if (url.origin === self.location.origin && url.pathname.indexOf(STATIC) === 0) { found.push(url.pathname); }
  }
  return found;
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return fetch(new Request(ROOT, { cache: "no-cache", credentials: "omit" })).then(function (page) {
      if (!page.ok) { throw new Error("the page answered " + page.status); }
      return page.clone().text().then(function (html) {
        var urls = Array.from(new Set(linkedAssets(html).concat(BUILD.assets)));
        var requests = urls.map(function (url) { return new Request(url, { cache: "no-cache" }); });
        return cache.addAll(requests).then(function () { return cache.put(ROOT, page); });
      });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf(PREFIX) === 0 && name !== SHELL && name !== DATA;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function storable(response) {
  var control = response.headers.get("Cache-Control") || "";
  return response.ok && response.type === "basic" && !/no-store|private/i.test(control);
}

function tell(clientId, message) {
  if (!clientId) { return Promise.resolve(); }
  return self.clients.get(clientId).then(function (client) { if (client) { client.postMessage(message); } });
}

function page(event) {
  var request = event.request;
  return fetch(request).then(function (response) {
    if (storable(response)) {
      var copy = response.clone();
      event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.put(request.url, copy); }));
    }
    return response;
  }, function (error) {
    return caches.open(SHELL).then(function (cache) {
      return cache.match(request.url, { ignoreVary: true }).then(function (hit) {
        return hit || cache.match(ROOT, { ignoreVary: true });
      });
    }).then(function (hit) {
      if (!hit) { throw error; }
      return hit;
    });
  });
}

function asset(event) {
  var request = event.request;
  return caches.open(SHELL).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      if (hit) { return hit; }
      return fetch(request).then(function (response) {
        if (storable(response)) {
          var copy = response.clone();
          event.waitUntil(cache.put(request, copy));
        }
        return response;
      });
    });
  });
}

function stamped(response) {
  return response.blob().then(function (body) {
    var headers = new Headers(response.headers);
    headers.set(STAMP, new Date().toISOString());
    return new Response(body, { status: response.status, statusText: response.statusText, headers: headers });
  });
}

function remember(request, response) {
  return Promise.all([caches.open(DATA), stamped(response)]).then(function (both) {
    var cache = both[0];
    return cache.delete(request).then(function () { return cache.put(request, both[1]); }).then(function () {
      return cache.keys();
    }).then(function (keys) {  // keys come oldest first: drop all but the newest MAX_DATA
      return Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_DATA)).map(function (key) {
        return cache.delete(key);
      }));
    });
  });
}

function newestView(cache) {
  return cache.keys().then(function (keys) {
    var views = keys.filter(function (key) { return new URL(key.url).pathname === API + "view"; });
    return views.length ? cache.match(views[views.length - 1]) : undefined;
  });
}

function api(event, url) {
  var request = event.request;
  return fetch(request).then(function (response) {
    if (storable(response)) {
      event.waitUntil(remember(request, response.clone()));
      event.waitUntil(tell(event.clientId, { type: "stationmap-online" }));
    }
    return response;
  }, function (error) {
    return caches.open(DATA).then(function (cache) {
      return cache.match(request, { ignoreVary: true }).then(function (hit) {
        return hit || (url.pathname === API + "view" ? newestView(cache) : undefined);
      });
    }).then(function (hit) {
      if (!hit) { throw error; }
      event.waitUntil(tell(event.clientId, { type: "stationmap-offline", fetchedAt: hit.headers.get(STAMP) }));
      return hit;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }  // tiles: the browser's own HTTP cache, nothing more
  if (request.mode === "navigate") {
    if (url.pathname === ROOT) { event.respondWith(page(event)); }
    return;
  }
  if (url.pathname.indexOf(API) === 0) {
    if (PUBLIC_API.test(url.pathname.slice(API.length)) && !request.headers.has("Authorization")
        && !request.headers.has("X-CSRF-Token")) {
      event.respondWith(api(event, url));
    }
    return;
  }
  if (url.pathname.indexOf(STATIC) === 0) { event.respondWith(asset(event)); }
});
