/* Shared helpers of the dashboard pages: formatting, theme colours from the
 * stylesheet, JSON fetches and the CSRF token of a signed-in session. */
(function () {
  "use strict";
  var css = getComputedStyle(document.documentElement);
  function cssVar(name) { return css.getPropertyValue(name).trim(); }

  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "—";
    if (x === 0) return "0";
    digits = digits || 3;
    var decimals = Math.max(digits - 1 - Math.floor(Math.log10(Math.abs(x))), 0);
    return x.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }
  function pct(rel) {
    if (rel === null || rel === undefined || !isFinite(rel)) return "—";
    return (rel > 0 ? "+" : rel < 0 ? "−" : "") + fmt(Math.abs(rel * 100)) + "%";
  }
  function jsonScript(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  /* GET url as JSON; rejects with an Error whose message says what went wrong
   * (the API's `detail`, else the HTTP status), also for a body that is not JSON. */
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) throw new Error("HTTP " + r.status + " " + ((body && (body.detail || JSON.stringify(body))) || r.statusText));
        if (body === null) throw new Error("the answer from " + url + " is not JSON");
        return body;
      });
    });
  }
  /* A chart whose data could not be loaded: say so where the chart would be. */
  function chartError(canvas, text) {
    var box = document.createElement("div");
    box.className = "error-box chart-error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    canvas.style.display = "none";
    canvas.parentElement.style.height = "auto";  // not the empty chart's fixed height
    canvas.parentElement.style.minHeight = "0";
    canvas.parentElement.insertBefore(box, canvas);
    return box;
  }
  /* Sets data-<name>-ready on <body> once the charts just drawn are painted (the
   * e2e tests wait for it), and window.rwReadyAt[name], ms since navigation start
   * (benchmarks/dashboard_speed.py reads it). */
  function markReady(name) {
    requestAnimationFrame(function () {
      (window.rwReadyAt = window.rwReadyAt || {})[name] = performance.now();
      document.body.setAttribute("data-" + name + "-ready", "1");
    });
  }
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function patchJSON(url, body) {
    return fetch(url, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.detail || JSON.stringify(data));
        return data;
      });
    });
  }
  function shortSha(s) { return s ? String(s).slice(0, 10) : "—"; }

  window.rw = {
    cssVar: cssVar,
    fmt: fmt,
    pct: pct,
    jsonScript: jsonScript,
    getJSON: getJSON,
    chartError: chartError,
    markReady: markReady,
    patchJSON: patchJSON,
    shortSha: shortSha,
    colours: {
      compute: cssVar("--compute"), bandwidth: cssVar("--bandwidth"), muted: cssVar("--muted"),
      grid: cssVar("--border"), text: cssVar("--text"), range: cssVar("--range"), roof: cssVar("--roof"),
      roofGather: cssVar("--roof-gather"),
      worse: cssVar("--worse"), better: cssVar("--better"), accent: cssVar("--accent"),
    },
    // one colour per machine line, in order
    palette: ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#c92a2a", "#5c940d", "#d6336c"],
    mono: cssVar("--mono"),
  };
  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = cssVar("--font");
    Chart.defaults.color = cssVar("--muted");
  }
})();
