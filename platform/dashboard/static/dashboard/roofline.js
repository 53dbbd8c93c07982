/* A log-log roofline chart: the machine's bandwidth slope up to the ridge
 * point and its compute roof beyond (and, on the run page, every other roof
 * that judges a layer: gather, 1 thread), and layers as points sized by their
 * share of the run's time. Used by the run page and the compare page. */
(function () {
  "use strict";
  var rw = window.rw;

  function radius(sharePct) { return 3 + Math.sqrt(Math.max(sharePct || 0, 0)) * 2.2; }
  function plottable(p) { return p && p.ai > 0 && p.gflops > 0; }
  function measured(peaks) { return !!peaks && peaks.gflops > 0 && peaks.gbs > 0; }

  /* Achieved over attainable GFLOP/s at the layer's intensity, in percent, as
   * dashboard/roofline.py's fraction_of_roof computes it for the run page's
   * table: against the layer's own roofs (roof_gflops, roof_gbs) when it has
   * them, else the run's peaks; null without measured roofs. A layer without
   * FLOPs (ai 0) is taken on the bandwidth roof: gbs / peak GB/s. Uncapped:
   * pages show shownPercent. */
  function percentOfRoof(layer, peaks) {
    if (layer.work_unknown || layer.ai === null || layer.ai === undefined) return null;  // work unknown: no roof judges it
    if (layer.roof_gflops > 0 && layer.roof_gbs > 0) peaks = { gflops: layer.roof_gflops, gbs: layer.roof_gbs };
    if (!measured(peaks)) return null;
    var roof = Math.min(peaks.gflops, layer.ai * peaks.gbs);
    return (roof <= 0 ? layer.gbs / peaks.gbs : layer.gflops / roof) * 100;
  }

  /* A % of roof as pages show it (never above 100, as roofline.py's
   * shown_roof_pct), with why when the layer measured above its roof. */
  function roofText(pct) {
    if (pct === null || pct === undefined) return "% of roof: not measured";
    if (pct <= 100) return rw.fmt(pct) + "% of roof";
    return "100% of roof (capped: measured " + rw.fmt(pct) + "%, above its roof; its data was likely still in cache)";
  }

  /* The x range the roofs are drawn over: a decade around the points and the ridge. */
  function xRange(points, peaks) {
    var xs = points.filter(plottable).map(function (p) { return p.ai; });
    if (measured(peaks)) xs.push(peaks.gflops / peaks.gbs);
    if (!xs.length) return [0.01, 100];
    return [Math.min.apply(null, xs) / 4, Math.max.apply(null, xs) * 4];
  }

  /* One roof as a line: `line` is {gflops, gbs} and optionally kind ("stream"
   * | "gather"), threads and label (dashboard/roofline.py's roof_lines);
   * `runThreads` tells a 1-thread roof (dotted) from the run's own. */
  function roofDataset(points, line, runThreads) {
    if (!measured(line)) return null;
    var range = xRange(points, line), ridge = line.gflops / line.gbs;
    var lo = Math.min(range[0], ridge / 2), hi = Math.max(range[1], ridge * 2);
    var gather = line.kind === "gather";
    var oneThread = line.threads === 1 && runThreads !== undefined && runThreads !== 1;
    return {
      type: "line", label: line.label || "roof", rwRoof: line.kind || "stream", order: 10, pointRadius: 0,
      borderWidth: 2, borderColor: gather ? rw.colours.roofGather : rw.colours.roof,
      borderDash: oneThread ? [2, 3] : gather ? [7, 4] : [],
      data: [{ x: lo, y: lo * line.gbs }, { x: ridge, y: line.gflops }, { x: hi, y: line.gflops }],
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
   * (peaks: {gflops, gbs}, as the API gives them), or the roof `lines` when
   * given (the run page's: the stream roof first); `title` and `label` describe
   * a hovered layer point (item.raw.layer is set). */
  function scatterChart(canvas, datasets, points, peaks, title, label, lines) {
    var runThreads = lines && lines.length ? lines[0].threads : undefined;
    (lines && lines.length ? lines : [peaks]).forEach(function (line) {
      var roofSet = roofDataset(points, line, runThreads);
      if (roofSet) datasets.push(roofSet);
    });
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
    radius: radius, plottable: plottable, percentOfRoof: percentOfRoof, roofText: roofText, roofDataset: roofDataset,
    axes: axes,
    scatterChart: scatterChart,
  };
})();
