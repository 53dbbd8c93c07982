/* Alert summary page: a small chart per affected series (from the series API,
 * the change marked), the triage controls, which PATCH the alerts API with
 * the signed-in session's CSRF token, and the bisection buttons, which POST
 * to the bisections API the same way. */
(function () {
  "use strict";
  var rw = window.rw;
  var triage = rw.jsonScript("triage-config");
  var message = document.getElementById("triage-message");

  function say(text, bad) {
    if (!message) return;
    message.textContent = text;
    message.classList.toggle("bad", !!bad);
  }

  document.querySelectorAll("[data-status]").forEach(function (button) {
    button.addEventListener("click", function () {
      say("Saving…");
      rw.patchJSON(triage.summaryUrl, { status: button.dataset.status }).then(function () {
        window.location.reload();
      }).catch(function (err) { say(err.message, true); });
    });
  });
  var save = document.getElementById("save-notes");
  if (save) {
    save.addEventListener("click", function () {
      say("Saving…");
      rw.patchJSON(triage.summaryUrl, { notes: document.getElementById("notes").value }).then(function () {
        say("Notes saved.");
      }).catch(function (err) { say(err.message, true); });
    });
  }
  document.querySelectorAll("select.reassign").forEach(function (select) {
    select.addEventListener("change", function () {
      if (!select.value) return;
      say("Moving alert " + select.dataset.alert + "…");
      rw.patchJSON(triage.alertUrl + select.dataset.alert + "/", { summary: parseInt(select.value, 10) }).then(function () {
        window.location.reload();
      }).catch(function (err) { say(err.message, true); select.value = ""; });
    });
  });

  /* ---- bisection: start one, cancel one ---- */
  var bisectMessage = document.getElementById("bisect-message");
  function postJSON(url, body) {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": token ? token.value : "" },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error([].concat(data.detail || JSON.stringify(data)).join(" "));
        return data;
      });
    });
  }
  function bisectSay(text, bad) {
    bisectMessage.textContent = text;
    bisectMessage.classList.toggle("bad", !!bad);
  }
  function bisectButton(button, url, body, busy) {
    button.addEventListener("click", function () {
      button.disabled = true;
      bisectSay(busy);
      postJSON(url, body).then(function () { window.location.reload(); })
        .catch(function (err) { bisectSay(err.message, true); button.disabled = false; });
    });
  }
  var start = document.getElementById("bisect-start");
  if (start) bisectButton(start, triage.bisectionsUrl, { summary: triage.summary }, "Starting a bisection…");
  document.querySelectorAll("[data-cancel-bisection]").forEach(function (button) {
    bisectButton(button, triage.bisectionsUrl + button.dataset.cancelBisection + "/cancel/", null, "Cancelling…");
  });

  /* ---- small charts ---- */
  if (typeof Chart === "undefined") return;
  var charts = rw.jsonScript("alert-charts") || [];
  charts.forEach(function (c) {
    var canvas = document.getElementById(c.id);
    if (!canvas) return;
    var url = "/api/v1/series/" + encodeURIComponent(c.machine) + "/" + c.benchmark + "/" + c.layer.split("/").map(encodeURIComponent).join("/") + "/?limit=120";
    rw.getJSON(url).then(function (body) {
      var at = Date.parse(c.change_t);
      var points = body.points.map(function (p) { return { x: Date.parse(p.t), y: p.value * 1e3 }; });
      new Chart(canvas, {
        type: "line",
        data: { datasets: [{ data: points, borderColor: rw.colours.accent, borderWidth: 1.4, pointRadius: 0, tension: 0 }] },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false, parsing: false,
          plugins: { legend: { display: false }, tooltip: { enabled: false },
                     annotation: { annotations: { change: { type: "line", xMin: at, xMax: at, borderColor: rw.colours.worse, borderWidth: 1.2, borderDash: [4, 3] } } } },
          scales: { x: { type: "time", display: false }, y: { display: false, grace: "10%" } },
        },
      });
    }).catch(function (err) { rw.chartError(canvas, "no series").title = "Could not load the series: " + err.message; });
  });
})();
