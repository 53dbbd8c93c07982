/* Run page: a horizontal bar chart of per-layer median time, coloured by
 * roofline bound, built from the numbers the page embeds in #layer-data. */
(function () {
  "use strict";

  var dataEl = document.getElementById("layer-data");
  var canvas = document.getElementById("layer-chart");
  if (!dataEl || !canvas || typeof Chart === "undefined") return;

  var layers = JSON.parse(dataEl.textContent);
  if (!layers.length) return;

  var css = getComputedStyle(document.documentElement);
  function cssVar(name) { return css.getPropertyValue(name).trim(); }
  var colours = { compute: cssVar("--compute"), bandwidth: cssVar("--bandwidth") };
  var rangeColour = cssVar("--range");
  var muted = cssVar("--muted");
  var grid = cssVar("--border");
  var mono = cssVar("--mono");

  var ROW_PX = 22;
  canvas.parentElement.style.height = Math.max(160, layers.length * ROW_PX + 56) + "px";

  function fmt(x) {
    if (x === null || x === undefined || !isFinite(x)) return "—";
    if (x === 0) return "0";
    var decimals = Math.max(2 - Math.floor(Math.log10(Math.abs(x))), 0);
    return x.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }
  function shorten(label) { return label.length > 32 ? label.slice(0, 31) + "…" : label; }

  var order = layers.slice();
  function datasetsFor(rows) {
    return [
      {
        label: "median",
        data: rows.map(function (l) { return l.median_ms; }),
        backgroundColor: rows.map(function (l) { return colours[l.bound] || muted; }),
        borderRadius: 3,
        barPercentage: 0.78,
        categoryPercentage: 0.92,
        grouped: false,
        order: 2,
      },
      {
        label: "p25–p75",
        data: rows.map(function (l) { return [l.p25_ms, l.p75_ms]; }),
        backgroundColor: rangeColour,
        barPercentage: 0.14,
        categoryPercentage: 0.92,
        grouped: false,
        order: 1,
      },
    ];
  }

  var chart = new Chart(canvas, {
    type: "bar",
    data: { labels: order.map(function (l) { return l.name; }), datasets: datasetsFor(order) },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", axis: "y", intersect: false },
      plugins: {
        legend: { display: false },
        tooltip: {
          filter: function (item) { return item.datasetIndex === 0; },
          callbacks: {
            title: function (items) { return order[items[0].dataIndex].name; },
            label: function (item) {
              var l = order[item.dataIndex];
              return [
                l.op + " · " + l.bound + "-bound",
                "median " + fmt(l.median_ms) + " ms (p25–p75 " + fmt(l.p25_ms) + "–" + fmt(l.p75_ms) + ")",
                fmt(l.gflops) + " GFLOP/s · " + fmt(l.gbs) + " GB/s",
                l.roof_pct === null ? "% of roof: not measured" : fmt(l.roof_pct) + "% of roof",
              ];
            },
          },
        },
      },
      scales: {
        x: {
          beginAtZero: true,
          title: { display: true, text: "median time per inference (ms)", color: muted },
          grid: { color: grid },
          ticks: { color: muted },
        },
        y: {
          grid: { display: false },
          ticks: {
            autoSkip: false,
            color: cssVar("--text"),
            font: { family: mono, size: 11.5 },
            callback: function (value) { return shorten(this.getLabelForValue(value)); },
          },
        },
      },
      onClick: function (event, elements) {
        if (!elements.length) return;
        var row = document.getElementById("layer-" + order[elements[0].index].index);
        if (!row) return;
        row.scrollIntoView({ behavior: "smooth", block: "center" });
        row.classList.add("flash");
        setTimeout(function () { row.classList.remove("flash"); }, 1600);
      },
      onHover: function (event, elements) {
        event.native.target.style.cursor = elements.length ? "pointer" : "default";
      },
    },
  });

  var buttons = document.querySelectorAll("[data-order]");
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      order = layers.slice();
      if (button.dataset.order === "time") order.sort(function (a, b) { return b.median_ms - a.median_ms; });
      chart.data.labels = order.map(function (l) { return l.name; });
      chart.data.datasets = datasetsFor(order);
      chart.update();
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
    });
  });
})();
