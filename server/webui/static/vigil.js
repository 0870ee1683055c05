// Vigil web UI: the only script. It refreshes the live part of a hunt page
// (#live) every 2 seconds while the hunt runs, by fetching the HTML
// fragment named in its data-url and swapping it in. The fragment is
// rendered and escaped by the server; nothing here builds HTML from data.
(function () {
  "use strict";

  var interval = 2000;
  var maxFailures = 5;

  function start() {
    var live = document.getElementById("live");
    if (!live) {
      return;
    }
    var failures = 0;

    function schedule() {
      if (live.dataset.refresh === "true") {
        window.setTimeout(tick, interval);
      }
    }

    function stopped(why) {
      var note = document.getElementById("live-indicator");
      if (note) {
        note.textContent = "auto-refresh stopped: " + why + " (reload the page)";
      }
    }

    function tick() {
      fetch(live.dataset.url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Accept": "text/html" }
      }).then(function (resp) {
        if (resp.status === 401) {
          window.location.assign("/login");
          return null;
        }
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      }).then(function (html) {
        if (html === null) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) {
          // Not the fragment (e.g. the login page after a redirect).
          window.location.reload();
          return;
        }
        fresh = document.importNode(fresh, true);
        live.replaceWith(fresh);
        live = fresh;
        failures = 0;
        schedule();
      }).catch(function (err) {
        failures++;
        if (failures >= maxFailures) {
          stopped(String(err.message || err));
          return;
        }
        window.setTimeout(tick, interval);
      });
    }

    schedule();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
