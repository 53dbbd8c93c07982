/* Overview: a sparkline of the end-to-end median of each benchmark's recent
 * runs, one line per machine, from /dash-api/sparklines/. */
(function () {
  "use strict";
  var rw = window.rw;
  var card = document.getElementById("benchmarks");
  if (typeof Chart === "undefined") return;
  if (!card || !document.querySelector("canvas.spark")) { rw.markReady("overview"); return; }  // no runs yet

  function draw(canvas, machines) {
    var n = Math.max.apply(null, machines.map(function (m) { return m.medians_ms.length; }));
    var labels = [];
    for (var i = 0; i < n; i++) labels.push(i);
    new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: machines.map(function (m, i) {
        // right-aligned: every machine's newest run at the right edge
        var padded = new Array(n - m.medians_ms.length).fill(null).concat(m.medians_ms);
        return { label: m.name, data: padded, borderColor: rw.palette[i % rw.palette.length], borderWidth: 1.5, pointRadius: 0, tension: 0.2 };
      }) },
      options: {
        responsive: false, animation: false, events: [],
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false, grace: "10%" } },
      },
    });
  }

  rw.getJSON(card.dataset.sparklinesUrl).then(function (body) {
    body.benchmarks.forEach(function (b) {
      var canvas = document.getElementById("spark-" + b.benchmark);
      if (canvas && b.machines.length) draw(canvas, b.machines);
    });
    rw.markReady("overview");
  }).catch(function (err) {
    var text = "Could not load the trends: " + err.message;
    document.querySelectorAll("canvas.spark").forEach(function (canvas) {
      rw.chartError(canvas, "no trend").title = text;
    });
    var hint = document.getElementById("spark-hint");
    hint.textContent = text;
    hint.classList.add("warn");
  });
})();
