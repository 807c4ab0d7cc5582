/* ctssw report: draws every chart from the embedded, privacy-floored JSON. No network. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("ctssw-data").textContent);
  var C = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
  var CFG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };
  var MINUS = "\u2212";
  var METHOD_LABEL = { fe: "within two-way model", jackknife: "half-panel jackknife", did: "joint imputation DiD" };

  function clean(s) { // no "-0": a value that rounds to zero is unsigned; a real minus sign otherwise
    if (!/[1-9]/.test(s)) return s.replace(/^[+-]/, "");
    return s.charAt(0) === "-" ? MINUS + s.slice(1) : s;
  }
  function num(x, d) {
    if (x === null || x === undefined || isNaN(x)) return "\u2014";
    if (d === undefined) { var a = Math.abs(x); d = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3; }
    return clean(x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
  }
  function pct(x, d, signed) {
    if (x === null || x === undefined || isNaN(x)) return "\u2014";
    var s = num(x * 100, d === undefined ? 1 : d);
    if (signed && s.charAt(0) !== MINUS && /[1-9]/.test(s)) s = "+" + s;
    return s + "%";
  }
  function money(x) {
    if (x === null || x === undefined || isNaN(x)) return "\u2014";
    var s = "$" + Math.abs(x).toLocaleString("en-US", { maximumFractionDigits: 0 });
    return (Math.round(x) < 0 ? MINUS : "") + s;
  }
  function layout(title, xt, yt, extra) {
    var l = { title: { text: title, x: 0, font: { size: 14 } }, margin: { l: 70, r: 20, t: 40, b: 50 }, height: 320,
      xaxis: { title: { text: xt } }, yaxis: { title: { text: yt }, zeroline: true }, colorway: C,
      legend: { orientation: "h", y: -0.25 }, hovermode: "x unified", font: { family: "system-ui, sans-serif", size: 12 } };
    for (var k in extra || {}) l[k] = extra[k];
    return l;
  }
  // percentage axes with exact tick values, so no tick reads "-0%"
  function pctAxis(values, title) {
    var v = values.filter(function (x) { return x !== null && x !== undefined && isFinite(x); }).concat([0]);
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v), raw = (hi - lo) / 6 || 0.01;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (s) { return s >= raw; })[0];
    var vals = [], text = [], d = step * 100 >= 1 ? 0 : 1;
    for (var i = Math.floor(lo / step); i <= Math.ceil(hi / step); i++) {
      var t = +(i * step).toFixed(10); vals.push(t); text.push(pct(t, d, true)); }
    return { title: { text: title }, tickmode: "array", tickvals: vals, ticktext: text, zeroline: false };
  }
  function show(id, on) { var e = document.getElementById(id); if (e) e.style.display = on ? "" : "none"; }
  document.querySelectorAll("section[data-when]").forEach(function (s) {
    var v = D[s.getAttribute("data-when")];
    var has = v && (!Array.isArray(v) || v.length) && (!(v.rows) || v.rows.length);
    var missing = s.querySelector(".missing");
    s.style.display = has || missing ? "" : "none";
    // a section that cannot be computed keeps only its heading and the sentence saying why
    if (!has) Array.prototype.forEach.call(s.children, function (e) { if (e.tagName !== "H2" && e !== missing) e.style.display = "none"; });
  });

  // ---- selector ------------------------------------------------------------------------------------
  var sel = document.getElementById("group");
  Object.keys(D.series.keys).forEach(function (k) {
    var o = document.createElement("option"); o.value = k; o.textContent = D.series.keys[k]; sel.appendChild(o);
  });
  var timeCharts = ["chart-cts", "chart-df", "chart-lt", "chart-cfr", "chart-rec", "chart-rw", "chart-adoption"];
  var range = null;

  function xr(extra) { var a = extra || {}; if (range) a.range = range.slice(); a.title = a.title || { text: "" }; return a; }

  function drawCts(key) {
    var w = D.series.weekly[key];
    var traces = [
      { x: w.x, y: w.cts_sw, name: "weekly", mode: "lines", line: { color: C[5], width: 1 }, hovertemplate: "$%{y:,.0f} per unit<extra>weekly</extra>" },
      { x: w.x, y: w.cts_sw_4w, name: "trailing 4 weeks", mode: "lines", line: { color: C[0], width: 2.5 }, hovertemplate: "$%{y:,.0f} per unit<extra>4 weeks</extra>" },
      { x: w.x, y: w.ai_share, name: "AI adoption share (right axis)", yaxis: "y2", mode: "lines", line: { color: C[1], dash: "dot" }, hovertemplate: "%{y:.0%} of builders<extra>adoption</extra>" }
    ];
    var l = layout("CTS-SW: " + D.series.keys[key], "week", "dollars per unit", {
      height: 400, margin: { l: 70, r: 80, t: 80, b: 50 }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: xr({ title: { text: "week" }, rangeslider: { visible: true, thickness: 0.08 } }),
      yaxis: { title: { text: "dollars per unit" }, tickprefix: "$", tickformat: ",.0f", rangemode: "tozero" },
      yaxis2: { title: { text: "share of builders using AI" }, overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1], showgrid: false }
    });
    Plotly.react("chart-cts", traces, l, CFG);
  }

  function monthly(id, key, title, ytitle, series, fmt, stack) {
    var m = D.series.monthly[key];
    var traces = series.map(function (s, i) {
      return { x: m.x, y: m[s[0]], name: s[1], type: stack ? "bar" : "scatter", mode: "lines+markers",
        marker: { color: C[i] }, line: { color: C[i] }, hovertemplate: "%{y:" + fmt + "}<extra>" + s[1] + "</extra>" };
    });
    var l = layout(title, "month", ytitle, { xaxis: xr({ title: { text: "month" } }), barmode: stack ? "stack" : undefined,
      yaxis: { title: { text: ytitle }, tickformat: fmt, rangemode: "tozero" } });
    Plotly.react(id, traces, l, CFG);
  }

  var LABEL = { deploy_freq: ["Deployment frequency", function (v) { return num(v, 1) + " per team-week"; }],
    lead_time_h: ["Lead time (median)", function (v) { return num(v, 1) + " h"; }],
    change_failure_rate: ["Change failure rate", function (v) { return pct(v, 1); }],
    recovery_h: ["Recovery time (median)", function (v) { return num(v, 1) + " h"; }],
    rework_rate: ["Rework rate", function (v) { return pct(v, 1); }] };

  // the stat panels are ratios of weekly sums over the period: the brushed one, else the last weeks
  function day(v) { return typeof v === "number" ? new Date(v).toISOString().slice(0, 10) : String(v).slice(0, 10); }
  function tierOf(m, v) {
    var t = D.tier_bounds[m];
    if (!t || v === null) return null;
    for (var i = 0; i < t.bounds.length; i++) {
      var b = t.bounds[i][1];
      if (b === null || (t.higher_is_better ? v >= b : v <= b)) return t.bounds[i][0];
    }
    return "Low";
  }
  function periodStats(key) {
    var w = D.series.sums[key], n = w ? w.x.length : 0, lo, hi;
    if (!n) return { stats: {}, from: null, to: null };
    if (range) { lo = day(range[0]); hi = day(range[1]); }
    else {
      var org = (D.series.sums.org || w).x;
      hi = org[org.length - 1]; // the last week of the whole organisation, as the server's stats use
      var cut = new Date(Date.parse(hi + "T00:00:00Z") - 7 * 86400000 * D.series.recent_weeks).toISOString().slice(0, 10);
      lo = w.x.filter(function (x) { return x > cut; })[0] || hi;
    }
    var t = {}, first = null, last = null;
    w.x.forEach(function (x, i) {
      if (x < lo || x > hi) return;
      first = first || x; last = x;
      Object.keys(w).forEach(function (c) { if (c !== "x") t[c] = (t[c] || 0) + (w[c][i] || 0); });
    });
    var div = function (a, b) { return first && b > 0 ? a / b : null; };
    var v = { deploy_freq: div(t.deployments, t.team_weeks), lead_time_h: div(t.lead_time_sum, t.lead_time_weight),
      change_failure_rate: div(t.failures, t.deployments), recovery_h: div(t.recovery_sum, t.recovery_weight), rework_rate: div(t.rework, t.deployments) };
    var out = {};
    Object.keys(v).forEach(function (m) { out[m] = { value: v[m], tier: m === "rework_rate" ? null : tierOf(m, v[m]) }; });
    return { stats: out, from: first, to: last };
  }

  function drawStats(key) {
    var ps = periodStats(key), s = ps.stats, box = document.getElementById("stats");
    box.innerHTML = "";
    Object.keys(LABEL).forEach(function (m) {
      var v = s[m] || {}, d = document.createElement("div"); d.className = "stat";
      var tier = v.tier ? ' <span class="tier tier-' + v.tier + '">' + v.tier + "</span>" : "";
      d.innerHTML = '<div class="t">' + LABEL[m][0] + '</div><div class="v">' + (v.value === null || v.value === undefined ? "\u2014" : LABEL[m][1](v.value)) + "</div>" + tier;
      box.appendChild(d);
    });
    var when = !ps.from ? "No week in the chosen period" : range ? "Weeks " + ps.from + " to " + ps.to + " (the period brush)"
      : "Last " + D.series.recent_weeks + " weeks (" + ps.from + " to " + ps.to + ")";
    document.getElementById("stats-note").textContent = when + " for " + D.series.keys[key] +
      ", with DORA performance tiers (State of DevOps 2023 clusters; rework rate has no tier). Drag the slider under the CTS-SW chart to choose the period.";
    box.setAttribute("data-period", ps.from ? ps.from + ".." + ps.to : "");
  }

  function draw(key) {
    drawCts(key);
    drawStats(key);
    monthly("chart-df", key, "Deployment frequency", "deployments per team-week", [["deploy_freq", "production deployments"]], ",.2f");
    monthly("chart-lt", key, "Change lead time, median, by part", "hours", [["coding_h", "coding"], ["pickup_h", "pickup"], ["review_h", "review"], ["deploy_h", "deploy"]], ",.1f", true);
    var lt = D.series.monthly[key];
    Plotly.addTraces("chart-lt", { x: lt.x, y: lt.lead_time_h, name: "lead time (median)", mode: "lines+markers", line: { color: "#000" }, hovertemplate: "%{y:,.1f} h<extra>lead time</extra>" });
    monthly("chart-cfr", key, "Change failure rate", "share of production deployments", [["change_failure_rate", "change failure rate"]], ".1%");
    monthly("chart-rec", key, "Failed-deployment recovery time, median", "hours", [["recovery_h", "recovery time"]], ",.1f");
    monthly("chart-rw", key, "Rework rate", "share of production deployments", [["rework_rate", "rework rate"]], ".1%");
    document.body.setAttribute("data-selected", key);
  }

  // period brush: the CTS-SW range slider sets the x range of every time chart
  function syncRange(ev) {
    var r = ev && (ev["xaxis.range"] || (ev["xaxis.range[0]"] !== undefined ? [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] : null));
    if (ev && ev["xaxis.autorange"]) r = null;
    if (r === undefined) return;
    range = r;
    drawStats(sel.value);
    timeCharts.forEach(function (id) {
      if (id === "chart-cts") return;
      var el = document.getElementById(id);
      if (el && el.data) Plotly.relayout(el, r ? { "xaxis.range": r } : { "xaxis.autorange": true });
    });
  }

  var t0 = new URLSearchParams(window.location.search).get("group");
  sel.value = t0 && D.series.keys[t0] ? t0 : "org";
  if (D.has_series) {
    draw(sel.value);
    document.getElementById("chart-cts").on("plotly_relayout", syncRange);
    sel.addEventListener("change", function () { draw(sel.value); });
  } else {
    document.querySelector(".controls").style.display = "none";
  }
  var tiers = document.getElementById("tiers");
  tiers.innerHTML = "<caption>DORA tiers used</caption>" + Object.keys(D.tiers).map(function (m) {
    return "<tr><td>" + LABEL[m][0] + "</td><td>" + D.tiers[m] + "</td></tr>"; }).join("");

  // ---- headline forest --------------------------------------------------------------------------------
  if (D.headline && D.headline.forest && D.headline.forest.length) {
    var f = D.headline.forest.slice().reverse();
    var chosen = D.headline.chosen || {};
    var tr = [{ type: "scatter", mode: "markers", y: f.map(function (r) { return r.label + " \u00b7 " + r.family; }), x: f.map(function (r) { return r.estimate; }),
      error_x: { type: "data", symmetric: false, array: f.map(function (r) { return r.ci_high - r.estimate; }), arrayminus: f.map(function (r) { return r.estimate - r.ci_low; }) },
      marker: { size: 10, color: f.map(function (r) { return r.method === chosen.method && r.family === chosen.family ? C[3] : C[0]; }) },
      customdata: f.map(function (r) { return [pct(r.estimate, 1, true), pct(r.ci_low, 1, true), pct(r.ci_high, 1, true)]; }),
      hovertemplate: "%{customdata[0]} (95% CI %{customdata[1]} to %{customdata[2]})<extra></extra>", name: "estimate" }];
    var shapes = [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#777", width: 1 } }];
    if (D.truth !== null && D.truth !== undefined) shapes.push({ type: "line", x0: D.truth, x1: D.truth, yref: "paper", y0: 0, y1: 1, line: { color: C[2], dash: "dash" } });
    Plotly.newPlot("chart-forest", tr, layout("Effect of full adoption on production deployments per builder-week", "relative change (95% interval)", "", {
      height: 120 + 40 * f.length, hovermode: "closest", margin: { l: 330, r: 20, t: 40, b: 50 }, shapes: shapes,
      xaxis: pctAxis(f.map(function (r) { return r.ci_low; }).concat(f.map(function (r) { return r.ci_high; }), [D.truth]),
        "relative change in deployments per builder-week (95% interval)"), yaxis: { automargin: true } }), CFG);
    document.getElementById("reading-forest").textContent = "What this shows: each estimator's effect with its 95% interval; the highlighted one is the headline" +
      (D.truth !== null && D.truth !== undefined ? "; the dashed line is the simulated truth (" + pct(D.truth, 1, true) + ")" : "") +
      ". An interval that crosses the zero line cannot be distinguished from no effect.";
  }

  // ---- adoption ---------------------------------------------------------------------------------------
  if (D.adoption) {
    var at = Object.keys(D.adoption).map(function (k, i) {
      return { x: D.adoption[k].x, y: D.adoption[k].share, name: k, mode: "lines", line: { color: C[i % C.length] }, hovertemplate: "%{y:.1%}<extra>" + k + "</extra>" }; });
    Plotly.newPlot("chart-adoption", at, layout("Builders active with each tool feature", "week", "share of builders", {
      xaxis: xr({ title: { text: "week" } }), yaxis: { title: { text: "share of builders" }, tickformat: ".0%", rangemode: "tozero" } }), CFG);
  }

  // ---- event study -------------------------------------------------------------------------------------
  if (D.event_study) {
    var es = D.event_study, x = es.map(function (r) { return r.event_time; });
    var tr2 = [
      { x: x.concat(x.slice().reverse()), y: es.map(function (r) { return r.band_high; }).concat(es.map(function (r) { return r.band_low; }).reverse()),
        fill: "toself", fillcolor: "rgba(0,114,178,0.15)", line: { width: 0 }, name: "uniform 95% band", hoverinfo: "skip" },
      { x: x, y: es.map(function (r) { return r.att; }), mode: "markers+lines", name: "effect (pointwise 95% CI)", marker: { color: C[0], size: 5 },
        error_y: { type: "data", symmetric: false, array: es.map(function (r) { return r.ci_high - r.att; }), arrayminus: es.map(function (r) { return r.att - r.ci_low; }), thickness: 1 },
        customdata: es.map(function (r) { return [pct(r.att, 1, true), pct(r.band_low, 1, true), pct(r.band_high, 1, true)]; }),
        hovertemplate: "week %{x}: %{customdata[0]} (uniform band %{customdata[1]} to %{customdata[2]})<extra></extra>" }];
    Plotly.newPlot("chart-event", tr2, layout("Effect by weeks since adoption", "weeks since adoption", "relative change in deployments per builder-week", {
      hovermode: "closest", yaxis: pctAxis(es.map(function (r) { return r.band_low; }).concat(es.map(function (r) { return r.band_high; })),
        "relative change in deployments per builder-week"),
      shapes: [{ type: "line", xref: "x", x0: -0.5, x1: -0.5, yref: "paper", y0: 0, y1: 1, line: { color: "#777", dash: "dot" } }] }), CFG);
    document.getElementById("reading-event").textContent = "What this shows: the staggered-DiD effect before (should be near zero) and after adoption; the shaded uniform band covers all weeks at once. " + (D.did_verdict || "");
  }

  // ---- drivers ------------------------------------------------------------------------------------------
  if (D.drivers) {
    var dr = D.drivers.slice().reverse();
    Plotly.newPlot("chart-drivers", [{ type: "scatter", mode: "markers", y: dr.map(function (r) { return r.driver.replace(/_/g, " "); }), x: dr.map(function (r) { return r.estimate; }),
      error_x: { type: "data", symmetric: false, array: dr.map(function (r) { return r.ci_high - r.estimate; }), arrayminus: dr.map(function (r) { return r.estimate - r.ci_low; }) },
      marker: { color: dr.map(function (r) { return r.ci_low <= 0 && r.ci_high >= 0 ? "#999" : (r.estimate < 0 ? C[2] : C[3]); }), size: 9 },
      customdata: dr.map(function (r) { return [pct(r.estimate, 1, true), pct(r.ci_low, 1, true), pct(r.ci_high, 1, true)]; }),
      hovertemplate: "%{customdata[0]} (95% CI %{customdata[1]} to %{customdata[2]})<extra></extra>" }],
      layout("Predicted change in CTS-SW for +1 SD of each driver", "change in CTS-SW", "", { hovermode: "closest", height: 120 + 36 * dr.length,
        margin: { l: 210, r: 20, t: 40, b: 50 }, xaxis: pctAxis(dr.map(function (r) { return r.ci_low; }).concat(dr.map(function (r) { return r.ci_high; })),
          "change in CTS-SW (95% interval)"), yaxis: { automargin: true },
        shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#777", width: 1 } }] }), CFG);
  }

  // ---- value waterfall ----------------------------------------------------------------------------------
  if (D.waterfall) {
    var wf = D.waterfall;
    Plotly.newPlot("chart-waterfall", [{ type: "waterfall", x: wf.map(function (s) { return s.label; }), y: wf.map(function (s) { return s.value; }),
      measure: wf.map(function (s) { return s.total ? "absolute" : "relative"; }), text: wf.map(function (s) { return money(s.value); }), textposition: "outside",
      increasing: { marker: { color: C[2] } }, decreasing: { marker: { color: C[3] } }, totals: { marker: { color: C[0] } },
      customdata: wf.map(function (s) { return s.low !== undefined && s.low !== null ? "95% CI " + money(s.low) + " to " + money(s.high) : ""; }),
      hovertemplate: "%{x}: %{text} %{customdata}<extra></extra>" },
      { type: "scatter", mode: "markers", x: wf.filter(function (s) { return s.total && s.low !== undefined && s.low !== null; }).map(function (s) { return s.label; }),
        y: wf.filter(function (s) { return s.total && s.low !== undefined && s.low !== null; }).map(function (s) { return s.value; }), marker: { size: 1, color: "#222" }, name: "95% interval",
        error_y: { type: "data", symmetric: false, array: wf.filter(function (s) { return s.total && s.low !== undefined && s.low !== null; }).map(function (s) { return s.high - s.value; }),
          arrayminus: wf.filter(function (s) { return s.total && s.low !== undefined && s.low !== null; }).map(function (s) { return s.value - s.low; }), color: "#222" }, hoverinfo: "skip" }],
      layout("Value of the effect over the period", "", "dollars", { hovermode: "closest", showlegend: false, yaxis: { title: { text: "dollars" }, tickprefix: "$", tickformat: ",.0f" } }), CFG);
  }

  // ---- several tools: each tool's effect in one model ----------------------------------------------------
  function perUnit(x, signed) { // dollars per unit: cents below $100, a sign on changes
    if (x === null || x === undefined || isNaN(x)) return "\u2014";
    var a = Math.abs(x), s = "$" + a.toLocaleString("en-US", { minimumFractionDigits: a < 100 ? 2 : 0, maximumFractionDigits: a < 100 ? 2 : 0 });
    var zero = !/[1-9]/.test(s);
    return (zero ? "" : x < 0 ? MINUS : signed ? "+" : "") + s;
  }
  function ciText(e, f) { return e && e.estimate !== null && e.estimate !== undefined ? f(e.estimate) + " (" + f(e.ci_low) + " to " + f(e.ci_high) + ")" : "\u2014"; }
  if (D.tool_effects) {
    var te = D.tool_effects.rows.slice().reverse();
    var lbl = te.map(function (r) { return r.tool.replace(/_/g, " "); });
    var teTraces = [{ type: "scatter", mode: "markers", name: "joint model (95% interval)", y: lbl, x: te.map(function (r) { return r.estimate; }),
      error_x: { type: "data", symmetric: false, array: te.map(function (r) { return r.ci_high - r.estimate; }), arrayminus: te.map(function (r) { return r.estimate - r.ci_low; }) },
      marker: { size: 10, color: te.map(function (r) { return r.total ? C[3] : C[0]; }) },
      customdata: te.map(function (r) { return [pct(r.estimate, 1, true), pct(r.ci_low, 1, true), pct(r.ci_high, 1, true)]; }),
      hovertemplate: "%{y}: %{customdata[0]} (95% CI %{customdata[1]} to %{customdata[2]})<extra>joint model</extra>" },
      { type: "scatter", mode: "markers", name: "one model per tool (no interval)", y: lbl, x: te.map(function (r) { return r.naive; }),
        marker: { size: 9, symbol: "diamond-open", color: C[1] }, customdata: te.map(function (r) { return pct(r.naive, 1, true); }),
        hovertemplate: "%{y}: %{customdata}<extra>one model per tool</extra>" }];
    var teVals = te.map(function (r) { return r.ci_low; }).concat(te.map(function (r) { return r.ci_high; }), te.map(function (r) { return r.naive; }));
    Plotly.newPlot("chart-tools", teTraces, layout("Effect of full use of each tool on production deployments per builder-week", "relative change (95% interval)", "", {
      height: 170 + 40 * te.length, hovermode: "closest", margin: { l: 170, r: 20, t: 70, b: 60 }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: pctAxis(teVals, "relative change in deployments per builder-week at full use (95% interval)"), yaxis: { title: { text: "tool" }, automargin: true },
      shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#777", width: 1 } }] }), CFG);
    document.getElementById("reading-tools").textContent = "What this shows: each tool's long-run effect on production deployments per builder-week " +
      "(relative to each team's mean) from one model holding every tool (" + (METHOD_LABEL[D.tool_effects.method] || D.tool_effects.method) +
      "), with 95% intervals, beside the estimate of a model of that tool alone (diamonds), which absorbs the effects of the tools left out; the sum's interval uses the covariance of the effects.";
    var cols = ["Tool", "Effect, joint model (95% CI)", "One model per tool", "CTS-SW change", "Engineering-years saved (95% CI)", "Net dollars (95% CI)"];
    document.getElementById("tools-table").innerHTML = "<thead><tr>" + cols.map(function (c) { return "<th>" + c + "</th>"; }).join("") + "</tr></thead><tbody>" +
      D.tool_effects.rows.map(function (r) {
        return "<tr><td>" + r.tool.replace(/&/g, "&amp;").replace(/</g, "&lt;") + "</td><td class=\"num\">" + ciText(r, function (v) { return pct(v, 1, true); }) +
          "</td><td class=\"num\">" + pct(r.naive, 1, true) + "</td><td class=\"num\">" + pct(r.cts_change, 1, true) +
          "</td><td class=\"num\">" + ciText(r.engineering_years, function (v) { return num(v, 1); }) + "</td><td class=\"num\">" + ciText(r.net_dollars, money) + "</td></tr>";
      }).join("") + "</tbody>";
  }

  // ---- what moved CTS-SW: the baseline decomposition as a waterfall ---------------------------------------
  if (D.explain) {
    var ex = D.explain, st = ex.steps, run = 0, before = [];
    st.forEach(function (s) { before.push(s.measure === "relative" ? run : 0); run = s.measure === "absolute" ? s.value : s.measure === "relative" ? run + s.value : run; });
    var lvl = [];
    st.forEach(function (s, i) {
      if (s.measure === "relative") { lvl.push(before[i], before[i] + s.value); if (s.low !== null) lvl.push(before[i] + s.low, before[i] + s.high); }
      else lvl.push(s.value);
    });
    var lo = Math.min.apply(null, lvl), hi = Math.max.apply(null, lvl), pad = (hi - lo) * 0.12 || Math.abs(hi) * 0.05 || 1;
    var hov = st.map(function (s) {
      if (s.measure !== "relative") return "observed CTS-SW: " + perUnit(s.value) + " per unit";
      var ci = s.exact ? "exact: an accounting identity" : "95% CI " + perUnit(s.low, true) + " to " + perUnit(s.high, true);
      return perUnit(s.value, true) + " per unit (" + ci + "); " + num(100 * s.log_points, 1) + " log points";
    });
    var rel = st.map(function (s, i) { return s.measure === "relative" && s.low !== null ? i : -1; }).filter(function (i) { return i >= 0; });
    var wrap = function (t) { // category labels on lines of about 16 characters, so none is cut or slanted
      var lines = [], cur = "";
      t.split(" ").forEach(function (w) { if (cur && (cur + " " + w).length > 16) { lines.push(cur); cur = w; } else cur = cur ? cur + " " + w : w; });
      return lines.concat([cur]).join("<br>");
    };
    st.forEach(function (s) { s.label = wrap(s.label); });
    Plotly.newPlot("chart-explain", [{ type: "waterfall", x: st.map(function (s) { return s.label; }), y: st.map(function (s) { return s.value; }),
      measure: st.map(function (s) { return s.measure; }), text: st.map(function (s) { return perUnit(s.value, s.measure === "relative"); }), textposition: "outside",
      increasing: { marker: { color: C[3] } }, decreasing: { marker: { color: C[2] } }, totals: { marker: { color: C[0] } },
      connector: { line: { color: "#999", width: 1 } }, customdata: hov, hovertemplate: "%{x}: %{customdata}<extra></extra>", name: "component" },
      { type: "scatter", mode: "markers", name: "95% interval", x: rel.map(function (i) { return st[i].label; }), y: rel.map(function (i) { return before[i] + st[i].value; }),
        marker: { size: 1, color: "#222" }, hoverinfo: "skip",
        error_y: { type: "data", symmetric: false, array: rel.map(function (i) { return st[i].high - st[i].value; }), arrayminus: rel.map(function (i) { return st[i].value - st[i].low; }), color: "#222" } }],
      layout("Organisation CTS-SW from " + ex.windows.A[0] + " to " + ex.windows.B[1] + ", step by step", "component of the change", "dollars per unit (CTS-SW)", {
        hovermode: "closest", showlegend: false, height: 440, margin: { l: 80, r: 20, t: 40, b: 110 }, xaxis: { title: { text: "component of the change" }, tickangle: 0 },
        yaxis: { title: { text: "dollars per unit (CTS-SW)" }, tickprefix: "$", tickformat: ",.0f", range: [lo - pad, hi + pad] } }), CFG);
    document.getElementById("reading-explain").textContent = "What this shows: the organisation's CTS-SW in dollars per unit over the weeks " + ex.windows.A[0] + " to " + ex.windows.A[1] +
      " and over " + ex.windows.B[0] + " to " + ex.windows.B[1] + " (" + perUnit(ex.change, true) + ", " + pct(Math.expm1(ex.observed), 1, true) +
      "), split into the trend without any tool (fitted on team-weeks with no tool), each tool's contribution through its effect (" + (METHOD_LABEL[ex.tool_effects] || ex.tool_effects) +
      "), the shift of builders between teams, cost per builder-week and the residual, which add up exactly to the change; green steps made software cheaper to serve, whiskers and hover give 95% intervals.";
  }

  // ---- team table ----------------------------------------------------------------------------------------
  var T = D.teams, tbl = document.getElementById("team-table"), sortCol = null, sortDir = 1;
  function cell(c, v) {
    if (v === null || v === undefined) return "\u2014";
    if (typeof v !== "number") return String(v);
    if (T.percent.indexOf(c) >= 0) return pct(v, 1);
    if (c.indexOf("$") >= 0) return money(v);
    return num(v, c === "Builders" ? 0 : undefined);
  }
  function rowsShown() {
    var q = (document.getElementById("team-search").value || "").toLowerCase();
    var r = T.rows.filter(function (row) { return !q || String(row[T.columns[0]]).toLowerCase().indexOf(q) >= 0; });
    if (sortCol !== null) r.sort(function (a, b) {
      var x = a[sortCol], y = b[sortCol];
      if (x === null) return 1; if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
    return r;
  }
  function drawTable() {
    var h = "<thead><tr>" + T.columns.map(function (c) { return "<th data-c=\"" + c + "\">" + c + (sortCol === c ? (sortDir > 0 ? " \u25b2" : " \u25bc") : "") + "</th>"; }).join("") + "</tr></thead><tbody>";
    rowsShown().forEach(function (row) {
      h += "<tr>" + T.columns.map(function (c) { var v = row[c]; return "<td" + (typeof v === "number" ? " class=\"num\"" : "") + ">" + cell(c, v) + "</td>"; }).join("") + "</tr>"; });
    tbl.innerHTML = h + "</tbody>";
    tbl.querySelectorAll("th").forEach(function (th) { th.addEventListener("click", function () {
      var c = th.getAttribute("data-c"); sortDir = sortCol === c ? -sortDir : 1; sortCol = c; drawTable(); }); });
  }
  if (T.rows.length) {
    drawTable();
    document.getElementById("team-search").addEventListener("input", drawTable);
    document.getElementById("team-csv").addEventListener("click", function () {
      var esc = function (v) { v = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(v) ? "\"" + v.replace(/"/g, "\"\"") + "\"" : v; };
      var lines = [T.columns.map(esc).join(",")].concat(rowsShown().map(function (r) { return T.columns.map(function (c) { return esc(r[c]); }).join(","); }));
      var a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([lines.join("\n")], { type: "text/csv" })); a.download = "ctssw-teams.csv";
      document.body.appendChild(a); a.click(); a.remove();
    });
    document.getElementById("teams-note").textContent = T.rows.length + " teams over the whole period" +
      (T.dropped ? "; " + T.dropped + " with fewer than " + D.k + " builders are left out (privacy floor)." : ".");
  }

  // ---- data health -----------------------------------------------------------------------------------------
  if (D.status) {
    var hb = document.getElementById("health");
    D.status.forEach(function (b) {
      var t = document.createElement("table"); t.className = "data";
      var esc = function (s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;"); };
      t.innerHTML = "<caption style=\"text-align:left;font-weight:600\">" + esc(b.title) + "</caption><thead><tr>" + b.columns.map(function (c) { return "<th>" + esc(c) + "</th>"; }).join("") +
        "</tr></thead><tbody>" + b.rows.map(function (r) { return "<tr>" + r.map(function (v) { return "<td>" + esc(v) + "</td>"; }).join("") + "</tr>"; }).join("") + "</tbody>";
      hb.appendChild(t);
    });
  }
  window.ctsswReady = true;
})();
