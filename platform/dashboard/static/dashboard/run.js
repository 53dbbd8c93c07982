/* Run page: per-layer median time as bars (top N slowest plus the rest summed,
 * or all of them) and the roofline of the layers, drawn from the run as
 * GET /api/v1/runs/<id>/ serves it (the canvas's data-url); and the sortable
 * layer table, which the server renders. */
(function () {
  "use strict";
  var rw = window.rw, roofline = window.rwRoofline;
  var canvas = document.getElementById("layer-chart");
  var rcanvas = document.getElementById("roofline-chart");
  var fmt = rw.fmt, colours = rw.colours;

  /* The API's layers as the charts draw them: times in ms, each layer's share
   * of the summed layer medians and its % of roof (its own roofs, else the run's). */
  function chartRows(run) {
    var layers = run.layers.slice().sort(function (a, b) { return a.index - b.index; });
    var total = layers.reduce(function (s, l) { return s + l.time.median; }, 0);
    return layers.map(function (l) {
      return {
        index: l.index, name: l.name, op: l.op, bound: l.bound, sources: l.sources,
        median_ms: l.time.median * 1e3, p25_ms: l.time.p25 * 1e3, p75_ms: l.time.p75 * 1e3,
        gflops: l.gflops, gbs: l.gbs, ai: l.ai, threads: l.threads, roof: l.roof, work_unknown: l.work_unknown,
        share_pct: total > 0 ? l.time.median / total * 100 : 0,
        roof_pct: roofline.percentOfRoof(l, run.peaks),
      };
    });
  }

  /* ---- bar chart ---- */
  function drawBars(layers) {
    var topN = parseInt(canvas.dataset.top, 10) || 15;
    var ROW_PX = 22;
    var bars = function (mode) {
      var rows = layers.slice();
      if (mode !== "index") rows.sort(function (a, b) { return b.median_ms - a.median_ms; });
      if (mode === "top" && rows.length > topN) {
        var rest = rows.slice(topN);
        var sum = function (key) { return rest.reduce(function (s, l) { return s + l[key]; }, 0); };
        rows = rows.slice(0, topN).concat([{
          name: "rest (" + rest.length + " layers)", rest: rest.length, op: "", bound: "rest",
          median_ms: sum("median_ms"), p25_ms: sum("p25_ms"), p75_ms: sum("p75_ms"),
          share_pct: sum("share_pct"), gflops: null, gbs: null, roof_pct: null, index: null,
        }]);
      }
      return rows;
    };
    var order = bars("top");
    var shorten = function (label) { return label.length > 32 ? label.slice(0, 31) + "…" : label; };
    var datasetsFor = function (rows) {
      return [
        { label: "median", data: rows.map(function (l) { return l.median_ms; }),
          backgroundColor: rows.map(function (l) { return colours[l.bound] || "#b6bccb"; }),
          borderRadius: 3, barPercentage: 0.78, categoryPercentage: 0.92, grouped: false, order: 2 },
        { label: "p25–p75", data: rows.map(function (l) { return l.rest ? null : [l.p25_ms, l.p75_ms]; }),
          backgroundColor: colours.range, barPercentage: 0.14, categoryPercentage: 0.92, grouped: false, order: 1 },
      ];
    };
    var size = function (rows) { canvas.parentElement.style.height = Math.max(160, rows.length * ROW_PX + 56) + "px"; };
    size(order);
    var chart = new Chart(canvas, {
      type: "bar",
      data: { labels: order.map(function (l) { return l.name; }), datasets: datasetsFor(order) },
      options: {
        indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", axis: "y", intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: function (item) { return item.datasetIndex === 0; },
            callbacks: {
              title: function (items) { return order[items[0].dataIndex].name; },
              label: function (item) {
                var l = order[item.dataIndex];
                if (l.rest) return ["summed time of the other " + l.rest + " layers", fmt(l.median_ms) + " ms · " + fmt(l.share_pct, 2) + "% of the run"];
                var timeLine = "median " + fmt(l.median_ms) + " ms (p25–p75 " + fmt(l.p25_ms) + "–" + fmt(l.p75_ms) + ")";
                if (l.work_unknown) return [l.op + " · work unknown", timeLine, l.work_unknown];
                return [
                  l.op + " · " + l.bound + "-bound",
                  timeLine,
                  fmt(l.gflops) + " GFLOP/s · " + fmt(l.gbs) + " GB/s",
                  roofline.roofText(l.roof_pct),
                ];
              },
            },
          },
        },
        scales: {
          x: { beginAtZero: true, title: { display: true, text: "median time per inference (ms)" }, grid: { color: colours.grid } },
          y: { grid: { display: false }, ticks: { autoSkip: false, color: colours.text, font: { family: rw.mono, size: 11.5 },
               callback: function (value) { return shorten(this.getLabelForValue(value)); } } },
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          var l = order[elements[0].index];
          if (l.index === null) return;
          var row = document.getElementById("layer-" + l.index);
          if (!row) return;
          row.scrollIntoView({ behavior: "smooth", block: "center" });
          row.classList.add("flash");
          setTimeout(function () { row.classList.remove("flash"); }, 1600);
        },
        onHover: function (event, elements) { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
      },
    });
    var buttons = document.querySelectorAll("[data-order]");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        order = bars(button.dataset.order);
        size(order);
        chart.data.labels = order.map(function (l) { return l.name; });
        chart.data.datasets = datasetsFor(order);
        chart.update();
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      });
    });
  }

  /* ---- roofline ---- */
  function drawRoofline(layers, peaks) {
    var pts = layers.filter(roofline.plottable);
    var byBound = function (bound) {
      var own = pts.filter(function (l) { return l.bound === bound; });
      return {
        type: "scatter", label: bound + "-bound", order: 1,
        data: own.map(function (l) { return { x: l.ai, y: l.gflops, layer: l }; }),
        pointRadius: own.map(function (l) { return roofline.radius(l.share_pct); }),
        pointHoverRadius: own.map(function (l) { return roofline.radius(l.share_pct) + 2; }),
        backgroundColor: colours[bound] + "b3", borderColor: colours[bound], borderWidth: 1,
      };
    };
    var datasets = [byBound("compute"), byBound("bandwidth")];
    roofline.scatterChart(rcanvas, datasets, pts, peaks,
      function (item) { return item.raw.layer.name; },
      function (item) {
        var l = item.raw.layer;
        return [l.op + " · " + l.bound + "-bound", "AI " + fmt(l.ai) + " FLOP/B · " + fmt(l.gflops) + " GFLOP/s",
                fmt(l.median_ms) + " ms (" + fmt(l.share_pct, 2) + "% of time)",
                l.roof_pct === null ? "" : roofline.roofText(l.roof_pct)];
      }, rw.jsonScript("roof-lines"));
  }

  if (!canvas || !rcanvas) {
    rw.markReady("run");  // a run without layers: no charts, nothing to fetch
  } else if (typeof Chart !== "undefined") {
    rw.getJSON(canvas.dataset.url).then(function (run) {
      var layers = chartRows(run);
      drawBars(layers);
      drawRoofline(layers, run.peaks);
      rw.markReady("run");
    }).catch(function (err) {
      var text = "Could not load this run's layers: " + err.message;
      rw.chartError(canvas, text);
      rw.chartError(rcanvas, text);
    });
  }

  /* ---- sortable table ---- */
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var tbody = table.tBodies[0];
    table.querySelectorAll("th[data-sort]").forEach(function (th, col) {
      th.tabIndex = 0;
      th.classList.add("sort-head");
      var sort = function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        var numeric = th.dataset.sort === "num";
        var cellIndex = Array.prototype.indexOf.call(th.parentElement.children, th);
        var rows = Array.prototype.slice.call(tbody.rows);
        var key = function (row) {
          var cell = row.cells[cellIndex];
          if (numeric) return parseFloat(cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent);
          return cell.textContent.trim().toLowerCase();
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = numeric ? x - y : x < y ? -1 : x > y ? 1 : 0;
          return asc ? c : -c;
        });
        rows.forEach(function (row) { tbody.appendChild(row); });
        table.querySelectorAll("th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  });
})();
