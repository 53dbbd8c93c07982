/* Overview: a sparkline of the end-to-end median of each benchmark's recent
 * runs, one line per machine. */
(function () {
  "use strict";
  var rw = window.rw;
  var sparks = rw.jsonScript("spark-data") || {};
  if (typeof Chart === "undefined") return;
  Object.keys(sparks).forEach(function (id) {
    var canvas = document.getElementById(id);
    var s = sparks[id];
    if (!canvas || !s.length) return;
    var n = Math.max.apply(null, s.map(function (line) { return line.length; }));
    var labels = [];
    for (var i = 0; i < n; i++) labels.push(i);
    new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: s.map(function (line, i) {
        // right-aligned: every machine's newest run at the right edge
        var padded = new Array(n - line.length).fill(null).concat(line);
        return { data: padded, borderColor: rw.palette[i % rw.palette.length], borderWidth: 1.5, pointRadius: 0, tension: 0.2 };
      }) },
      options: {
        responsive: false, animation: false, events: [],
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false, grace: "10%" } },
      },
    });
  });
})();
