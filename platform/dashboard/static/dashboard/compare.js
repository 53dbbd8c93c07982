/* Compare page: each layer's roofline point before (hollow) and after
 * (filled), joined by a line so the move is visible; drawn from
 * /dash-api/compare/ (the canvas's data-url). */
(function () {
  "use strict";
  var rw = window.rw, roofline = window.rwRoofline, fmt = rw.fmt;
  var canvas = document.getElementById("compare-roofline");
  if (!canvas || typeof Chart === "undefined") return;

  function draw(layers, peaks) {
    function points(side, bound) {
      var own = layers.filter(function (l) { return roofline.plottable(l[side]) && l[side].bound === bound; });
      return {
        type: "scatter", label: side + " " + bound, rwSide: side, order: 1,
        data: own.map(function (l) { return { x: l[side].ai, y: l[side].gflops, layer: l, side: side }; }),
        pointRadius: own.map(function (l) { return roofline.radius(l[side].share_pct); }),
        backgroundColor: side === "after" ? rw.colours[bound] + "cc" : "rgba(255,255,255,0.9)",
        borderColor: rw.colours[bound], borderWidth: side === "after" ? 1 : 1.6,
      };
    }
    // moves: one line per layer that is on the chart before and after, null-separated
    var moves = [];
    layers.forEach(function (l) {
      if (roofline.plottable(l.before) && roofline.plottable(l.after)) {
        moves.push({ x: l.before.ai, y: l.before.gflops }, { x: l.after.ai, y: l.after.gflops }, { x: NaN, y: NaN });
      }
    });
    var all = [];
    layers.forEach(function (l) { if (l.before) all.push(l.before); if (l.after) all.push(l.after); });
    var datasets = [
      points("before", "compute"), points("before", "bandwidth"), points("after", "compute"), points("after", "bandwidth"),
      { type: "line", label: "move", data: moves, borderColor: "#7c8499", borderWidth: 1.2, pointRadius: 0, spanGaps: false, order: 5 },
    ];
    roofline.scatterChart(canvas, datasets, all, peaks,
      function (item) { return item.raw.layer.name + " (" + item.raw.side + ")"; },
      function (item) {
        var l = item.raw.layer, p = l[item.raw.side];
        return ["AI " + fmt(p.ai) + " FLOP/B · " + fmt(p.gflops) + " GFLOP/s · " + fmt(p.median_ms) + " ms",
                roofline.roofText(p.roof_pct),
                "change " + (l.rel_pct === null ? "—" : (l.rel_pct > 0 ? "+" : "") + fmt(l.rel_pct) + "%") + " (" + (l.delta_ms > 0 ? "+" : "") + fmt(l.delta_ms) + " ms)"];
      });
  }

  rw.getJSON(canvas.dataset.url).then(function (body) {
    draw(body.layers, body.peaks);
    rw.markReady("compare");
  }).catch(function (err) {
    rw.chartError(canvas, "Could not load the layers of these runs: " + err.message);
  });
})();
