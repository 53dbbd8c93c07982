/* A log-log roofline chart: the machine's bandwidth slope up to the ridge
 * point and its compute roof beyond, and layers as points sized by their share
 * of the run's time. Used by the run page and the compare page. */
(function () {
  "use strict";
  var rw = window.rw;

  function radius(sharePct) { return 3 + Math.sqrt(Math.max(sharePct || 0, 0)) * 2.2; }
  function plottable(p) { return p && p.ai > 0 && p.gflops > 0; }
  function measured(peaks) { return !!peaks && peaks.gflops > 0 && peaks.gbs > 0; }

  /* Achieved over attainable GFLOP/s at the layer's intensity, in percent, as
   * dashboard/roofline.py's fraction_of_roof computes it for the run page's
   * table; null without measured peaks. A layer without FLOPs (ai 0) is taken
   * on the bandwidth roof: gbs / peak GB/s. */
  function percentOfRoof(layer, peaks) {
    if (!measured(peaks)) return null;
    var roof = Math.min(peaks.gflops, layer.ai * peaks.gbs);
    return (roof <= 0 ? layer.gbs / peaks.gbs : layer.gflops / roof) * 100;
  }

  /* The x range the roofs are drawn over: a decade around the points and the ridge. */
  function xRange(points, peaks) {
    var xs = points.filter(plottable).map(function (p) { return p.ai; });
    if (measured(peaks)) xs.push(peaks.gflops / peaks.gbs);
    if (!xs.length) return [0.01, 100];
    return [Math.min.apply(null, xs) / 4, Math.max.apply(null, xs) * 4];
  }

  function roofDataset(points, peaks) {
    if (!measured(peaks)) return null;
    var range = xRange(points, peaks), ridge = peaks.gflops / peaks.gbs;
    var lo = Math.min(range[0], ridge / 2), hi = Math.max(range[1], ridge * 2);
    return {
      type: "line", label: "roof", order: 10, pointRadius: 0, borderWidth: 2, borderColor: rw.colours.roof,
      data: [{ x: lo, y: lo * peaks.gbs }, { x: ridge, y: peaks.gflops }, { x: hi, y: peaks.gflops }],
    };
  }

  function axes(peaks, title) {
    var top = measured(peaks) ? peaks.gflops * 2.5 : undefined;
    return {
      x: { type: "logarithmic", title: { display: true, text: "arithmetic intensity (FLOPs / byte)" },
           grid: { color: rw.colours.grid }, ticks: { callback: logTick } },
      y: { type: "logarithmic", max: top, title: { display: true, text: title || "achieved GFLOP/s" },
           grid: { color: rw.colours.grid }, ticks: { callback: logTick } },
    };
  }
  function logTick(value) {
    var l = Math.log10(value);
    return Math.abs(l - Math.round(l)) < 1e-9 ? rw.fmt(value, 1) : "";
  }

  /* A roofline chart: the layers' points in `datasets` plus the machine's roof
   * (peaks: {gflops, gbs}, as the API gives them); `title` and `label` describe
   * a hovered layer point (item.raw.layer is set). */
  function scatterChart(canvas, datasets, points, peaks, title, label) {
    var roofSet = roofDataset(points, peaks);
    if (roofSet) datasets.push(roofSet);
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: function (item) { return item.raw && item.raw.layer; },
            callbacks: { title: function (items) { return title(items[0]); }, label: label },
          },
        },
        scales: axes(peaks),
      },
    });
  }

  window.rwRoofline = {
    radius: radius, plottable: plottable, percentOfRoof: percentOfRoof, roofDataset: roofDataset, axes: axes,
    scatterChart: scatterChart,
  };
})();
