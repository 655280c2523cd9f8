/* stationmap: the sign-in page. Posts JSON to this site's /api/login (same origin only) and shows the outcome.
 *
 * Messages come from the page's data-msg-* attributes, in the page's language; nothing is written as HTML.
 */
(function () {
  "use strict";

  var status = document.getElementById("login-status");

  function say(text, bad) {
    status.textContent = text || "";
    status.className = bad ? "bad" : "";
  }

  function post(url, headers, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign({ "Accept": "application/json", "Content-Type": "application/json" }, headers),
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; },
                                  function () { return { status: response.status, data: null }; });
    });
  }

  var form = document.getElementById("login-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var msg = form.dataset;
      say(msg.msgBusy, false);
      post(msg.api, {}, { name: form.elements.name.value, password: form.elements.password.value })
        .then(function (result) {
          if (result.data && result.data.ok) {
            window.location.assign(msg.next || "/");
            return;
          }
          var text = result.status === 429 ? msg.msgTooMany
            : result.status === 401 ? msg.msgFailed
            : result.status === 403 ? msg.msgForbidden
            : (result.data && result.data.error) || msg.msgFailed;
          say(text, true);
        })
        .catch(function () { say(msg.msgNetwork, true); });
    });
  }

  var logout = document.getElementById("logout-button");
  if (logout) {
    logout.addEventListener("click", function () {
      post(logout.dataset.api, { "X-CSRF-Token": logout.dataset.csrf || "" }, {})
        .then(function () { window.location.reload(); })
        .catch(function () { say(status.dataset.msgNetwork, true); });
    });
  }
}());
