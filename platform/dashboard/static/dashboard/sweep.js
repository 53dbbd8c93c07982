/* Sweep page: throughput (samples/s) against p99 latency (ms), one point per
 * measured configuration, the Pareto front as a line through its points and
 * the best configuration under each SLO as a star, from the points the
 * server embeds (#sweep-points; it computes the front and the bests with
 * engine.sweep.report, the one definition). A point measured in rounds is
 * their medians; its tooltip gives the rounds' throughput range. */
(function () {
  "use strict";
  var rw = window.rw, colours = rw.colours;
  var canvas = document.getElementById("sweep-chart");
  var data = JSON.parse(document.getElementById("sweep-points").textContent);

  function label(p) {
    return "#" + p.index + ": threads " + p.threads + ", batch " + p.batch + ", instances " + p.instances +
      ", pin " + p.pin + (p.passes !== "none" ? ", passes " + p.passes : "") +
      (p.quant !== "none" ? ", quant " + p.quant : "");
  }

  function draw() {
    var measured = data.points.filter(function (p) { return p.status === "ok"; });
    var xy = function (p) { return {x: p.p99_ms, y: p.throughput, config: p}; };
    var front = measured.filter(function (p) { return p.pareto; })
      .sort(function (a, b) { return a.p99_ms - b.p99_ms; });
    var byIndex = {};
    measured.forEach(function (p) { byIndex[p.index] = p; });
    var bests = data.bests.map(function (b) {
      return {x: b.p99_ms, y: b.throughput, config: byIndex[b.index], slo: b.slo_p99_ms};
    });
    new Chart(canvas, {
      type: "scatter",
      data: {datasets: [
        {label: "best under an SLO", rwRole: "best", data: bests, pointStyle: "star", pointRadius: 11,
         borderColor: colours.worse, backgroundColor: colours.worse, borderWidth: 2},
        {label: "Pareto front", rwRole: "pareto", data: front.map(xy), showLine: true, borderColor: colours.accent,
         backgroundColor: colours.accent, pointRadius: 5, borderWidth: 2},
        {label: "configurations", rwRole: "all", data: measured.map(xy), borderColor: colours.muted,
         backgroundColor: colours.muted, pointRadius: 4},
      ]},
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          x: {type: "logarithmic", title: {display: true, text: "p99 latency of a forward pass (ms)"},
              grid: {color: colours.grid}},
          y: {title: {display: true, text: "throughput (samples/s)"}, beginAtZero: true, grid: {color: colours.grid}},
        },
        plugins: {tooltip: {callbacks: {label: function (ctx) {
          var p = ctx.raw, c = p.config;
          var text = label(c) + ": " + rw.fmt(p.y) + " samples/s, p99 " + rw.fmt(p.x) + " ms";
          if (c.rounds > 1) {
            text += " (medians of " + c.rounds + " rounds; samples/s " + rw.fmt(c.throughput_min) + "–" +
              rw.fmt(c.throughput_max) + ")";
          }
          return p.slo !== undefined ? "best under p99 " + p.slo + " ms: " + text : text;
        }}}},
      },
    });
  }

  if (typeof Chart !== "undefined") {
    try {
      draw();
      rw.markReady("sweep");
    } catch (err) {
      rw.chartError(canvas, "Could not draw this sweep: " + err.message);
    }
  }
})();
