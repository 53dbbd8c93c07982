/* Series page: one benchmark layer on every machine that ran it, drawn from
 * /dash-api/series/ (decimated on the server), with the p25–p75 band, change
 * points as annotations linking to their alerts (a drift's ramp shaded), a marker where the model version
 * changes, zoom and pan, and an x axis
 * by time or by commit. Zooming in re-fetches the visible range at full detail. Before the raw
 * window a layer's points are daily rollups (no run): drawn as diamonds on a dashed line, with a
 * note saying from when, and left out of the by-commit axis (a day has no one commit). */
(function () {
  "use strict";
  var rw = window.rw, fmt = rw.fmt;
  var cfg = rw.jsonScript("series-config");
  var canvas = document.getElementById("series-chart");
  var hint = document.getElementById("series-hint");
  if (!cfg || !canvas || typeof Chart === "undefined") return;

  var timed = cfg.metric === "median" || cfg.metric === "min";
  var scale = timed ? 1e3 : 1; // seconds -> ms on the y axis
  var unit = timed ? "ms" : "";
  var state = { x: "time", data: null, hidden: {}, chart: null, zoomedFetch: false };

  function url(extra) {
    var q = new URLSearchParams({ benchmark: cfg.benchmark, layer: cfg.layer, metric: cfg.metric, max_points: cfg.maxPoints });
    if (cfg.overlay) q.set("overlay", cfg.overlay); // one line per machine and environment
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return cfg.dataUrl + "?" + q.toString();
  }

  function isDaily(p) { return p.run === null; }

  /* The points drawn: by commit, a daily rollup has no place. */
  function shown(points) { return state.x === "time" ? points : points.filter(function (p) { return !isDaily(p); }); }

  /* Commits in order of their first run, for the by-commit axis. */
  function commitAxis(data) {
    var first = {};
    data.machines.forEach(function (m) {
      shown(m.points).forEach(function (p) {
        var t = Date.parse(p.t);
        if (!(p.commit in first) || t < first[p.commit]) first[p.commit] = t;
      });
    });
    var commits = Object.keys(first).sort(function (a, b) { return first[a] - first[b]; });
    var index = {};
    commits.forEach(function (c, i) { index[c] = i; });
    return { commits: commits, index: index };
  }

  function xOf(p, axis) { return state.x === "time" ? Date.parse(p.t) : axis.index[p.commit]; }

  function configText(hash) {
    var c = state.data.configs[hash];
    if (!c) return "config " + rw.shortSha(hash);
    var parts = ["quant=" + (c.quant || "none")];
    if (c.threads) parts.push("threads=" + c.threads);
    if (c.passes) parts.push(c.passes.length + " passes");
    Object.keys(c.flags || {}).forEach(function (k) { parts.push(k + "=" + c.flags[k]); });
    if (c.inject && c.inject.length) parts.push("inject=" + c.inject.join(","));
    return "config " + parts.join(" ");
  }

  function datasets(data, axis) {
    var sets = [];
    data.machines.forEach(function (m, i) {
      var colour = rw.palette[i % rw.palette.length];
      var hidden = !!state.hidden[m.name];
      var points = shown(m.points);
      if (timed) {
        sets.push({ type: "line", label: m.name + " p25", rwMachine: m.name, rwRole: "p25", hidden: hidden,
          data: points.map(function (p) { return { x: xOf(p, axis), y: p.p25 * scale }; }),
          borderWidth: 0, pointRadius: 0, fill: false, order: 3 });
        sets.push({ type: "line", label: m.name + " p75", rwMachine: m.name, rwRole: "p75", hidden: hidden,
          data: points.map(function (p) { return { x: xOf(p, axis), y: p.p75 * scale }; }),
          borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: colour + "26", order: 3 });
      }
      sets.push({ type: "line", label: m.name, rwMachine: m.name, rwRole: "value", hidden: hidden,
        data: points.map(function (p) { return { x: xOf(p, axis), y: p.value * scale, point: p }; }),
        borderColor: colour, backgroundColor: colour, borderWidth: 1.6,
        // daily rollups: diamonds, always drawn, joined by a dashed line
        pointStyle: function (ctx) { return ctx.raw && isDaily(ctx.raw.point) ? "rectRot" : "circle"; },
        pointRadius: function (ctx) { return ctx.raw && isDaily(ctx.raw.point) ? 3.2 : points.length > 300 ? 0 : 2.2; },
        segment: { borderDash: function (ctx) { return isDaily(ctx.p0.raw.point) ? [4, 3] : undefined; } },
        pointHoverRadius: 4, tension: 0, order: 1 });
    });
    return sets;
  }

  // Where a machine's runs change model version (the graph or its weights' shapes): one marker per
  // place, at the first run of the new version, labelled with both versions.
  function modelChanges(data, axis, out) {
    data.machines.forEach(function (m) {
      var last = null;
      m.points.forEach(function (p) {
        if (!p.model_version) return; // a daily rollup point has none
        if (last !== null && p.model_version !== last) {
          var x = xOf(p, axis), key = "model-" + x;
          if (x !== undefined && !out[key]) {
            out[key] = { type: "line", xMin: x, xMax: x, borderColor: "#7a7a7a",
              borderWidth: 1, borderDash: [2, 3], rwModelChange: p.model_version, drawTime: "beforeDatasetsDraw",
              label: { display: true, content: "model " + rw.shortSha(last).slice(0, 7) + "→" + rw.shortSha(p.model_version).slice(0, 7),
                       position: "end", backgroundColor: "#555", color: "#fff", font: { size: 10 }, padding: { x: 4, y: 2 } } };
          }
        }
        last = p.model_version;
      });
    });
  }

  function annotations(data, axis) {
    var out = {};
    modelChanges(data, axis, out);
    data.changes.forEach(function (c) {
      if (c.vanished) return;
      var x = state.x === "time" ? Date.parse(c.t) : axis.index[c.commit];
      if (x === undefined) return;
      var colour = c.direction === "regression" ? rw.colours.worse : rw.colours.better;
      if (c.ramp) { // a drift: its ramp shaded from its first to its last run
        var x0 = state.x === "time" ? Date.parse(c.ramp.start.t) : axis.index[c.ramp.start.commit];
        var x1 = state.x === "time" ? Date.parse(c.ramp.end.t) : axis.index[c.ramp.end.commit];
        if (x0 !== undefined && x1 !== undefined) {
          out["ramp-" + c.alert] = { type: "box", xMin: x0, xMax: x1, backgroundColor: colour + "1f",
            borderColor: colour + "66", borderWidth: 1, drawTime: "beforeDatasetsDraw", rwRamp: c.alert,
            label: { display: true, content: "drift " + rw.pct(c.rel_change), position: { x: "center", y: "end" },
                     color: colour, font: { size: 11, weight: "600" } } };
        }
      }
      out["change-" + c.alert] = {
        type: "line", xMin: x, xMax: x, borderColor: colour, borderWidth: 1.5, borderDash: [5, 4],
        rwUrl: c.url, rwSummary: c.summary, rwRun: c.run,
        label: { display: true, content: (c.kind === "drift" ? "drift " : "") + rw.pct(c.rel_change) + " · alert #" + c.summary, position: "start",
                 backgroundColor: colour, color: "#fff", font: { size: 11, weight: "600" }, padding: { x: 6, y: 3 } },
        click: function () { window.location.href = c.url; },
        enter: function (ctx) { ctx.chart.canvas.style.cursor = "pointer"; },
        leave: function (ctx) { ctx.chart.canvas.style.cursor = "default"; },
      };
    });
    return out;
  }

  function xScale(axis) {
    if (state.x === "time") {
      return { type: "time", time: { tooltipFormat: "yyyy-MM-dd HH:mm", displayFormats: { hour: "MMM d HH:mm", minute: "HH:mm", day: "MMM d" } }, grid: { color: rw.colours.grid },
               ticks: { maxRotation: 0, autoSkipPadding: 24 } };
    }
    return { type: "linear", grid: { color: rw.colours.grid },
             ticks: { stepSize: 1, maxRotation: 0, autoSkipPadding: 18,
                      callback: function (v) { return axis.commits[v] !== undefined && v === Math.round(v) ? rw.shortSha(axis.commits[v]).slice(0, 7) : ""; } },
             title: { display: true, text: "commit (in order of first run)" } };
  }

  function draw() {
    var data = state.data, axis = commitAxis(data);
    if (state.chart) state.chart.destroy();
    state.chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets(data, axis) },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: xScale(axis),
          y: { title: { display: true, text: cfg.metric + (unit ? " (" + unit + ")" : data.series.unit ? " (" + data.series.unit + ")" : "") },
               grid: { color: rw.colours.grid } },
        },
        plugins: {
          legend: { display: false },
          decimation: { enabled: false },
          tooltip: {
            filter: function (item) { return item.dataset.rwRole === "value"; },
            callbacks: {
              title: function (items) { return items.length ? new Date(items[0].raw.point.t).toISOString().slice(0, 16).replace("T", " ") + " UTC" : ""; },
              label: function (item) {
                var p = item.raw.point;
                var band = timed ? " (p25–p75 " + fmt(p.p25 * scale) + "–" + fmt(p.p75 * scale) + ")" : "";
                return item.dataset.label + ": " + fmt(p.value * scale) + " " + unit + band;
              },
              afterLabel: function (item) {
                var p = item.raw.point;
                if (isDaily(p)) return ["daily rollup of " + p.runs + " run" + (p.runs === 1 ? "" : "s") + " (UTC day)", timed ? "median of the run medians; band: their p25–p75" : "from the day's median"];
                return ["commit " + rw.shortSha(p.commit) + " · run " + p.run, "model " + rw.shortSha(p.model_version), configText(p.config_hash)];
              },
            },
          },
          annotation: { annotations: annotations(data, axis) },
          zoom: {
            zoom: { drag: { enabled: true, backgroundColor: "rgba(59,91,219,0.12)" }, wheel: { enabled: true }, mode: "x",
                    onZoomComplete: onZoom },
            pan: { enabled: true, mode: "x", modifierKey: "shift", onPanComplete: onZoom },
          },
        },
        onClick: function (event, elements) {
          var hit = elements.filter(function (e) { return state.chart.data.datasets[e.datasetIndex].rwRole === "value"; })[0];
          var point = hit && state.chart.data.datasets[hit.datasetIndex].data[hit.index].point;
          if (point && !isDaily(point)) window.location.href = "/runs/" + point.run + "/";
        },
      },
    });
    describe();
  }

  /* "Before <date>: daily rollups", when some machine has daily points. */
  function resolutionNote() {
    var note = document.getElementById("series-resolution");
    var daily = (state.data.resolution || []).filter(function (s) { return s.source === "daily"; })[0];
    var any = state.data.machines.some(function (m) { return m.points.some(isDaily); });
    note.hidden = !(daily && any);
    if (note.hidden) return;
    var day = daily.to ? daily.to.slice(0, 10) : "";
    note.textContent = "Before " + day + ": daily rollups (◆ one point a day, the median of that day's run medians; " +
      "raw rows are kept for the retention window). From " + day + " on: every run.";
    note.dataset.before = day;
  }

  function describe() {
    var data = state.data;
    resolutionNote();
    var total = data.machines.reduce(function (s, m) { return s + m.total; }, 0);
    var shown = data.machines.reduce(function (s, m) { return s + m.points.length; }, 0);
    hint.textContent = total.toLocaleString("en-US") + " points on " + data.machines.length + " machine" + (data.machines.length === 1 ? "" : "s") +
      (shown < total ? " · decimated to " + shown.toLocaleString("en-US") + " on the server; zoom in for detail" : "") +
      " · click a point to open its run";
  }

  var zoomTimer = null;
  function onZoom(ctx) {
    if (state.x !== "time") return;
    if (!state.data.machines.some(function (m) { return m.points.length < m.total; }) && !state.zoomedFetch) return;
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(function () {
      var x = ctx.chart.scales.x;
      var since = new Date(x.min).toISOString(), until = new Date(x.max + 1).toISOString();
      rw.getJSON(url({ since: since, until: until })).then(function (data) {
        var axis = commitAxis(data);
        var fresh = datasets(data, axis);
        state.chart.data.datasets.forEach(function (set, i) { set.data = fresh[i] ? fresh[i].data : []; });
        state.chart.update("none");
        state.zoomedFetch = true;
        hint.textContent = "Zoomed: " + data.machines.reduce(function (s, m) { return s + m.points.length; }, 0) + " points in view range";
      });
    }, 150);
  }

  function toggles() {
    var box = document.getElementById("machine-toggles");
    box.innerHTML = "";
    state.data.machines.forEach(function (m, i) {
      var label = document.createElement("label");
      label.className = "toggle";
      var input = document.createElement("input");
      input.type = "checkbox"; input.checked = !state.hidden[m.name]; input.dataset.machine = m.name;
      var swatch = document.createElement("span");
      swatch.className = "swatch"; swatch.style.background = rw.palette[i % rw.palette.length];
      label.appendChild(input); label.appendChild(swatch);
      label.appendChild(document.createTextNode(m.name + " (" + m.total + ")"));
      input.addEventListener("change", function () {
        state.hidden[m.name] = !input.checked;
        state.chart.data.datasets.forEach(function (set) { if (set.rwMachine === m.name) set.hidden = !input.checked; });
        state.chart.update("none");
      });
      box.appendChild(label);
    });
  }

  function changeList() {
    var box = document.getElementById("changes");
    var rows = state.data.changes;
    if (!rows.length) { box.innerHTML = '<div class="empty compact"><p>No change points with alerts on this series.</p></div>'; return; }
    var html = '<table class="data" id="change-table"><thead><tr><th>Machine</th><th>Kind</th><th>First bad run</th><th>Commit</th><th>When</th><th class="num">Change</th><th>Class</th><th>Status</th><th></th></tr></thead><tbody>';
    rows.forEach(function (c) {
      var kind = c.ramp ? 'drift <span class="dim small" data-ramp="' + c.alert + '">ramp <a href="/runs/' + c.ramp.start.run + '/">' + c.ramp.start.run +
        '</a> (' + esc(c.ramp.start.t.slice(0, 16).replace("T", " ")) + ') → <a href="/runs/' + c.ramp.end.run + '/">' + c.ramp.end.run + "</a> (" +
        esc(c.ramp.end.t.slice(0, 16).replace("T", " ")) + ")</span>" : esc(c.kind || "step");
      html += '<tr data-alert="' + c.alert + '"' + (c.vanished ? ' class="vanished"' : "") + '><td>' + esc(c.machine) + "</td><td>" + kind + '</td><td><a href="/runs/' + c.run + '/">' + c.run + "</a></td><td><code>" +
        esc(rw.shortSha(c.commit)) + "</code></td><td>" + esc(c.t.slice(0, 16).replace("T", " ")) + '</td><td class="num"><span class="delta ' +
        (c.rel_change > 0 ? "worse" : "better") + '">' + rw.pct(c.rel_change) + '</span></td><td><span class="kind kind-' + esc(c.classification) + '">' +
        esc(c.classification) + '</span></td><td><span class="status status-' + esc(c.status) + '">' + esc(c.status) + '</span></td><td class="open"><a href="' +
        esc(c.url) + '">Alert #' + c.summary + " →</a></td></tr>";
    });
    box.innerHTML = '<div class="table-scroll">' + html + "</tbody></table></div>";
  }
  function esc(s) { return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (ch) { return "&#" + ch.charCodeAt(0) + ";"; }); }

  document.querySelectorAll("[data-x]").forEach(function (button) {
    button.addEventListener("click", function () {
      state.x = button.dataset.x;
      document.querySelectorAll("[data-x]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      draw();
    });
  });
  document.getElementById("reset-zoom").addEventListener("click", function () {
    if (state.zoomedFetch) { state.zoomedFetch = false; load(); } else if (state.chart) state.chart.resetZoom();
  });

  function load() {
    var started = performance.now();
    return rw.getJSON(url()).then(function (data) {
      state.data = data;
      toggles();
      draw();
      changeList();
      // after the next frame: the chart has been painted
      requestAnimationFrame(function () {
        window.rwSeriesReady = { fetchAndDrawMs: performance.now() - started, at: performance.now() };
        document.body.dataset.seriesReady = "1";
      });
    }).catch(function (err) {
      hint.textContent = "Could not load the series: " + err.message;
      document.getElementById("changes").innerHTML = "";
    });
  }
  load();
})();
