/* A log-log roofline chart: the machine's bandwidth slope up to the ridge
 * point and its compute roof beyond, and layers as points sized by their share
 * of the run's time. Used by the run page and the compare page. */
(function () {
  "use strict";
  var rw = window.rw;

  function radius(sharePct) { return 3 + Math.sqrt(Math.max(sharePct || 0, 0)) * 2.2; }
  function plottable(p) { return p && p.ai > 0 && p.gflops > 0; }

  /* The x range the roofs are drawn over: a decade around the points and the ridge. */
  function xRange(points, roof) {
    var xs = points.filter(plottable).map(function (p) { return p.ai; });
    if (roof.peak_gflops && roof.peak_gbs) xs.push(roof.peak_gflops / roof.peak_gbs);
    if (!xs.length) return [0.01, 100];
    return [Math.min.apply(null, xs) / 4, Math.max.apply(null, xs) * 4];
  }

  function roofDataset(points, roof) {
    if (!roof.peak_gflops || !roof.peak_gbs) return null;
    var range = xRange(points, roof), ridge = roof.peak_gflops / roof.peak_gbs;
    var lo = Math.min(range[0], ridge / 2), hi = Math.max(range[1], ridge * 2);
    return {
      type: "line", label: "roof", order: 10, pointRadius: 0, borderWidth: 2, borderColor: rw.colours.roof,
      data: [{ x: lo, y: lo * roof.peak_gbs }, { x: ridge, y: roof.peak_gflops }, { x: hi, y: roof.peak_gflops }],
    };
  }

  function axes(roof, title) {
    var top = roof && roof.peak_gflops ? roof.peak_gflops * 2.5 : undefined;
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

  /* A roofline chart: the layers' points in `datasets` plus the machine's roof;
   * `title` and `label` describe a hovered layer point (item.raw.layer is set). */
  function scatterChart(canvas, datasets, points, roof, title, label) {
    var roofSet = roofDataset(points, roof);
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
        scales: axes(roof),
      },
    });
  }

  window.rwRoofline = {
    radius: radius, plottable: plottable, roofDataset: roofDataset, axes: axes, scatterChart: scatterChart,
  };
})();
