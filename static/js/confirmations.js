// Confirmations page: ask the server every few seconds whether something new waits, and reload
// when it does. Without JavaScript the page reloads itself (a <noscript> meta refresh).
(function () {
  "use strict";
  var root = document.querySelector("[data-confirmations-state]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-confirmations-state");
  var count = parseInt(root.getAttribute("data-count"), 10) || 0;
  var latest = root.getAttribute("data-latest") || "";
  var interval = parseInt(root.getAttribute("data-interval"), 10) || 3000;
  function check() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state && (state.count !== count || state.latest !== latest)) {
          var active = document.activeElement;
          // Do not pull the page away from someone in the middle of pressing a button.
          if (active && active.tagName === "BUTTON") { return; }
          window.location.reload();
        }
      })
      .catch(function () {})
      .then(function () { window.setTimeout(check, interval); });
  }
  window.setTimeout(check, interval);
})();
