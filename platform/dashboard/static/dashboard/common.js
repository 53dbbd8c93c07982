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
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error((body && (body.detail || JSON.stringify(body))) || r.statusText);
        return body;
      });
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
    patchJSON: patchJSON,
    shortSha: shortSha,
    colours: {
      compute: cssVar("--compute"), bandwidth: cssVar("--bandwidth"), muted: cssVar("--muted"),
      grid: cssVar("--border"), text: cssVar("--text"), range: cssVar("--range"), roof: cssVar("--roof"),
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
