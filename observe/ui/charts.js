// Charts of the last 15 minutes, drawn from api/history in small
// hand-written SVG (no library): throughput in and out, errors and
// dead-lettered messages, consumer lag, watermark lag, and each step's
// mean processing time.
//
// app.js mounts them once (streamsCharts.mount, with its formatters),
// asks api/history for the intervals after streamsCharts.since() and
// hands each answer to streamsCharts.update, which appends it to what it
// holds and forgets what is older than the window; streamsCharts.reset
// forgets everything (a restarted process has a history of its own). Each chart
// shows the value of its series at the last sample, or at the time under
// the pointer while it hovers.
//
// For tests: each chart is figure[data-chart="<id>"] with an svg, and a
// path[data-series="<name>"] per series whose data-points is the number
// of points drawn; each legend entry's [data-field="last"] is the value
// shown; figure[data-chart] has data-samples, the intervals charted.
"use strict";

window.streamsCharts = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  // Geometry of a chart, in the units of its viewBox.
  const W = 440, H = 150;
  const M = { left: 56, right: 10, top: 8, bottom: 20 };
  const PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

  let fmt = null; // formatters from app.js: {num, seconds, age}
  const charts = [];
  const COLUMNS = ["in", "out", "errors", "dlq", "lag", "watermark_lag"];
  let hist = empty(); // the history held: api/history's shape

  function empty() {
    const h = { time: [], latency: {} };
    for (const c of COLUMNS) h[c] = [];
    return h;
  }

  // The charts: each series reads a column of the history.
  const SPECS = [
    { id: "throughput", title: "Throughput", unit: "msg/s", series: () => [
      { name: "in", label: "in (source)", col: "in", color: PALETTE[0] },
      { name: "out", label: "out (sinks)", col: "out", color: PALETTE[1] },
    ] },
    { id: "errors", title: "Errors and DLQ", unit: "msg/s", series: () => [
      { name: "errors", label: "errors", col: "errors", color: PALETTE[2] },
      { name: "dlq", label: "dead-lettered", col: "dlq", color: PALETTE[3] },
    ] },
    { id: "lag", title: "Consumer lag", unit: "records", series: () => [
      { name: "lag", label: "lag, all partitions", col: "lag", color: PALETTE[4] },
    ] },
    { id: "watermark", title: "Watermark lag", unit: "s", series: () => [
      { name: "watermark_lag", label: "worst partition", col: "watermark_lag", color: PALETTE[5] },
    ] },
    { id: "latency", title: "Step latency (mean)", unit: "time", series: (h) =>
      Object.keys(h.latency || {}).map((step, i) => ({
        name: step, label: step, values: h.latency[step], color: PALETTE[i % PALETTE.length],
      })) },
  ];

  function el(tag, attrs = {}, parent = null) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  // format shows a value in a chart's unit.
  function format(unit, v) {
    if (v == null || !isFinite(v)) return "–";
    if (unit === "time") return v === 0 ? "0" : fmt.seconds(v);
    if (unit === "s") return fmt.age(v);
    if (unit === "msg/s") return fmt.num(v) + "/s";
    return fmt.num(v);
  }

  // niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function mount(root, formatters) {
    fmt = formatters;
    root.replaceChildren();
    charts.length = 0;
    for (const spec of SPECS) charts.push(makeChart(root, spec));
  }

  function makeChart(root, spec) {
    const fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.chart = spec.id;
    fig.dataset.samples = "0";
    const head = document.createElement("figcaption");
    const title = document.createElement("span");
    title.className = "chart-title";
    title.textContent = spec.title;
    const legend = document.createElement("span");
    legend.className = "legend";
    head.append(title, legend);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.title });
    fig.append(head, svg);
    root.appendChild(fig);
    const c = { spec, fig, svg, legend, grid: el("g", { class: "axes" }, svg), lines: el("g", { class: "lines" }, svg),
      cursor: el("line", { class: "cursor", y1: M.top, y2: H - M.bottom, visibility: "hidden" }, svg),
      series: new Map(), data: null };
    svg.addEventListener("mousemove", (ev) => hover(c, ev));
    svg.addEventListener("mouseleave", () => hover(c, null));
    return c;
  }

  // merge appends the intervals of h newer than those held, and drops
  // those older than the window. A step timed for the first time gets
  // nulls before; one no longer timed, nulls after.
  function merge(h) {
    const last = since();
    const from = (h.time || []).findIndex((t) => t > last);
    if (from >= 0) {
      const held = hist.time.length;
      hist.time.push(...h.time.slice(from));
      for (const c of COLUMNS) hist[c].push(...(h[c] || []).slice(from));
      const n = hist.time.length - held;
      for (const step of new Set([...Object.keys(hist.latency), ...Object.keys(h.latency || {})])) {
        const a = hist.latency[step] || (hist.latency[step] = new Array(held).fill(null));
        const add = (h.latency || {})[step];
        a.push(...(add ? add.slice(from) : new Array(n).fill(null)));
      }
    }
    const cut = hist.time.findIndex((t) => t > since() - (h.window_seconds || 900) * 1000);
    if (cut > 0) {
      hist.time.splice(0, cut);
      for (const c of COLUMNS) hist[c].splice(0, cut);
      for (const [step, a] of Object.entries(hist.latency)) {
        a.splice(0, cut);
        if (a.every((v) => v == null)) delete hist.latency[step];
      }
    }
  }

  // since is the end of the last interval held, in Unix ms; 0 for none.
  function since() {
    return hist.time.length ? hist.time[hist.time.length - 1] : 0;
  }

  function reset() {
    hist = empty();
  }

  function update(h) {
    merge(h);
    for (const c of charts) draw(c, hist);
  }

  // draw redraws a chart from the history h.
  function draw(c, h) {
    const times = h.time || [];
    const series = c.spec.series(h).map((s) => ({ ...s, values: s.values || h[s.col] || [] }));
    let top = 0;
    for (const s of series) for (const v of s.values) if (v != null && v > top) top = v;
    const yMax = niceMax(top);
    const t0 = times.length ? times[0] : 0, t1 = times.length ? times[times.length - 1] : 1;
    const x = (t) => M.left + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (W - M.left - M.right);
    const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
    c.data = { times, series, x, t0, t1 };
    c.fig.dataset.samples = String(times.length);
    drawAxes(c, yMax, y, t0, t1);
    syncSeries(c, series);
    for (const s of series) {
      let d = "", points = 0, pen = "M";
      s.values.forEach((v, i) => {
        if (v == null) {
          pen = "M";
          return;
        }
        d += `${pen}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
        pen = "L";
        points++;
      });
      const line = c.series.get(s.name);
      line.path.setAttribute("d", d);
      line.path.dataset.points = String(points);
    }
    showValues(c, times.length - 1);
  }

  function drawAxes(c, yMax, y, t0, t1) {
    const g = c.grid;
    g.replaceChildren();
    for (const v of [0, yMax / 2, yMax]) {
      el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, g);
      const t = el("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, g);
      t.textContent = format(c.spec.unit, v);
    }
    const span = (t1 - t0) / 1000;
    const at = [[M.left, "start", span > 0 ? "−" + fmt.age(span) : ""], [W - M.right, "end", "now"]];
    for (const [xx, anchor, text] of at) {
      const t = el("text", { x: xx, y: H - 5, "text-anchor": anchor, class: "tick" }, g);
      t.textContent = text;
    }
  }

  // syncSeries makes a path and a legend entry per series, removing
  // those of series gone (a step no longer timed).
  function syncSeries(c, series) {
    const names = new Set(series.map((s) => s.name));
    for (const [name, line] of c.series) {
      if (names.has(name)) continue;
      line.path.remove();
      line.entry.remove();
      c.series.delete(name);
    }
    for (const s of series) {
      if (c.series.has(s.name)) continue;
      const path = el("path", { class: "series", stroke: s.color, "data-series": s.name }, c.lines);
      const entry = document.createElement("span");
      entry.className = "entry";
      entry.dataset.series = s.name;
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      const label = document.createElement("span");
      label.textContent = s.label + " ";
      const last = document.createElement("b");
      last.dataset.field = "last";
      entry.append(swatch, label, last);
      c.legend.appendChild(entry);
      c.series.set(s.name, { path, entry, last });
    }
  }

  // showValues puts the values at sample i in the legend ("–" before any).
  function showValues(c, i) {
    for (const s of c.data.series) {
      const v = i >= 0 ? s.values[i] : null;
      const text = format(c.spec.unit, v);
      const last = c.series.get(s.name).last;
      if (last.textContent !== text) last.textContent = text;
    }
  }

  // hover shows the values at the sample nearest the pointer, and a line
  // there; ev null (the pointer left) goes back to the last sample.
  function hover(c, ev) {
    const d = c.data;
    if (!d || !ev || d.times.length === 0) {
      c.cursor.setAttribute("visibility", "hidden");
      c.fig.classList.remove("hovering");
      if (d) showValues(c, d.times.length - 1);
      return;
    }
    const r = c.svg.getBoundingClientRect();
    const vx = ((ev.clientX - r.left) / r.width) * W;
    let best = 0;
    d.times.forEach((t, i) => {
      if (Math.abs(d.x(t) - vx) < Math.abs(d.x(d.times[best]) - vx)) best = i;
    });
    const cx = d.x(d.times[best]);
    c.cursor.setAttribute("x1", cx);
    c.cursor.setAttribute("x2", cx);
    c.cursor.setAttribute("visibility", "visible");
    c.fig.classList.add("hovering");
    showValues(c, best);
  }

  return { mount, update, since, reset };
})();
