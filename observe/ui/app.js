// The live picture of a running pipeline.
//
// It reads api/pipeline (the steps and their edges) once, lays the steps
// out left to right (layout.js), and draws them in an inline SVG. Then
// it reads api/stats every second and updates the figures in place, and
// hands api/history to the charts (charts.js): the counters
// are totals since start, so a rate is the difference of two successive
// snapshots over the time between them ("–" until there are two). A
// failed fetch shows "disconnected" and is retried with a growing pause;
// a restarted process (uptime went back) reloads the shape.
//
// For tests, the elements carry stable attributes: each step's group in
// the SVG is g[data-step="<name>"], with children [data-field="rate-in"],
// "rate-out" and "errors" (each "<number>/s" or "–"), "dlq", "mean" and,
// at the source, "lag" and "watermark-lag"; each edge is
// g[data-edge="<from>><to>"]. The header has [data-field="health"]
// ("OK", "FAILING") and [data-field="ready"] ("OK", "NOT READY"), both
// "UNKNOWN" while disconnected, and the list [data-field="reasons"];
// [data-field="connection"] has data-state "connecting", "connected" or
// "disconnected"; body[data-snapshots] counts the snapshots drawn. The
// dead-letter topic, when there is one, is g[data-dlq="<topic>"] under
// the graph, with a dashed g[data-dlq-edge="<step>"] from each step that
// dead-lettered a message; a source's or Kafka sink's topic is its
// node's [data-field="topic"]. The Errors tile shows the larger of the
// errors and the rejections (dead-lettered or skipped), so that it never
// says less than the DLQ. The charts of api/history are charts.js's.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 1000;
  const MAX_BACKOFF_MS = 5000;
  const FETCH_TIMEOUT_MS = 4000;

  // Geometry of the drawing, in CSS pixels.
  const G = {
    pad: 16,
    colGap: 60,
    rowGap: 22,
    w: 208, // a step
    wBranch: 208,
    h: 110,
    hBranch: 76,
    hSource: 172,
    hSink: 126, // a Kafka sink: one more line, its topic
    hDLQ: 110,
  };

  const KIND_LABEL = {
    source: "SOURCE", map: "MAP", filter: "FILTER", flat_map: "FLAT MAP",
    parser: "PARSER", serializer: "SERIALIZER", router: "ROUTER",
    broadcast: "BROADCAST", branch: "BRANCH", sink: "SINK", devnull: "DEVNULL SINK",
    batch: "BATCH", reduce: "REDUCE",
  }; // a kind not listed shows as itself, upper-cased

  const state = {
    graph: null, // api/pipeline
    nodes: new Map(), // step name -> {el, fields}
    edges: [], // {from, to, el, path, label, text}
    rows: new Map(), // step name -> steps table row
    parts: new Map(), // partition key -> partitions table row
    dlq: null, // the dead-letter topic's node: {el, f, edges: step name -> edge}
    prev: null, // the snapshot before cur
    cur: null,
    failures: 0,
    lastOK: null, // Date of the last good snapshot
  };

  const $ = (sel, root = document) => root.querySelector(sel);
  const field = (name, root = document) => root.querySelector(`[data-field="${name}"]`);

  // setText changes an element's text only when it differs, so that an
  // update does not touch the layout of unchanged figures.
  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  // setFigure sets a figure such as "12.3k/s", with the unit in a child
  // of its own so that it can be drawn smaller; the element's text stays
  // the whole figure.
  function setFigure(el, text) {
    if (!el || el.textContent === text) return;
    const m = /^(.*?)(\/s)?$/.exec(text);
    let v = el.firstElementChild, u = el.lastElementChild;
    if (!v || v === u) {
      const make = () => (el instanceof SVGElement ? document.createElementNS(SVG, "tspan") : document.createElement("span"));
      v = make();
      u = make();
      v.setAttribute("class", "v");
      u.setAttribute("class", "unit");
      el.replaceChildren(v, u);
    }
    v.textContent = m[1];
    u.textContent = m[2] || "";
  }

  function svg(tag, attrs = {}, parent = null) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (parent) parent.appendChild(el);
    return el;
  }

  // ---- Formatting

  // num formats a non-negative figure compactly: 0, 4.5, 123, 12.3k, 4.56M.
  function num(v) {
    if (v == null || !isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 10) return trim(v.toFixed(1));
    if (a < 1000) return String(Math.round(v));
    for (const [div, unit] of [[1e3, "k"], [1e6, "M"], [1e9, "G"], [1e12, "T"]]) {
      const x = v / div;
      if (Math.abs(x) < 1000 || unit === "T") {
        return trim(x.toFixed(Math.abs(x) < 10 ? 2 : Math.abs(x) < 100 ? 1 : 0)) + unit;
      }
    }
    return String(v);
  }
  const trim = (s) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);

  const rate = (v) => (v == null ? "–" : num(v) + "/s");

  function count(v) {
    if (v == null || !isFinite(v)) return "–";
    return v < 100000 ? Math.round(v).toLocaleString("en-US") : num(v);
  }

  // seconds formats a short duration (processing time): 850 ns, 12.4 µs, 3.1 ms, 1.2 s.
  function seconds(s) {
    if (!s || !isFinite(s)) return "–";
    const sig = (x) => trim(x.toPrecision(3));
    if (s < 1e-6) return sig(s * 1e9) + " ns";
    if (s < 1e-3) return sig(s * 1e6) + " µs";
    if (s < 1) return sig(s * 1e3) + " ms";
    return sig(s) + " s";
  }

  // age formats a longer duration (lag, uptime): 0.4 s, 42 s, 3m 07s, 2h 05m, 3d 04h.
  function age(s) {
    if (s == null || !isFinite(s)) return "–";
    if (s < 10) return trim(s.toFixed(1)) + " s";
    if (s < 60) return Math.round(s) + " s";
    const t = Math.floor(s);
    const d = Math.floor(t / 86400), h = Math.floor((t % 86400) / 3600);
    const m = Math.floor((t % 3600) / 60), sec = t % 60;
    const p2 = (x) => String(x).padStart(2, "0");
    if (d > 0) return `${d}d ${p2(h)}h`;
    if (h > 0) return `${h}h ${p2(m)}m`;
    return `${m}m ${p2(sec)}s`;
  }

  function uptime(s) {
    if (s == null || !isFinite(s)) return "–";
    const t = Math.floor(s);
    const d = Math.floor(t / 86400), h = Math.floor((t % 86400) / 3600);
    const m = Math.floor((t % 3600) / 60), sec = t % 60;
    const p2 = (x) => String(x).padStart(2, "0");
    if (d > 0) return `${d}d ${p2(h)}h ${p2(m)}m`;
    if (h > 0) return `${h}h ${p2(m)}m ${p2(sec)}s`;
    return `${m}m ${p2(sec)}s`;
  }

  // ---- Drawing

  function buildGraph(info) {
    const svgEl = $("#graph");
    svgEl.replaceChildren();
    state.nodes.clear();
    state.edges = [];
    const steps = info.steps || [];
    setText(field("pipeline"), info.pipeline || "pipeline");
    document.title = `${info.pipeline || "pipeline"} · streams`;
    setText(field("adapter"), info.adapter ? `${info.adapter} runner` : "");
    field("graph-empty").hidden = steps.length > 0;
    if (!steps.length) {
      field("graph-empty").textContent = "This pipeline has no steps.";
      svgEl.setAttribute("width", 0);
      svgEl.setAttribute("height", 0);
      svgEl.style.width = svgEl.style.height = "0";
      return;
    }

    const L = window.streamsLayout(steps, G);
    if (info.dlq) L.height += G.hDLQ + G.rowGap; // the DLQ goes under the graph
    svgEl.setAttribute("width", L.width);
    svgEl.setAttribute("height", L.height);
    // As wide as the card allows, down to 80% of the natural size; a
    // larger graph scrolls sideways.
    svgEl.style.width = `clamp(${Math.round(L.width * 0.8)}px, 100%, ${L.width}px)`;
    svgEl.style.height = "auto";
    svgEl.setAttribute("viewBox", `0 0 ${L.width} ${L.height}`);
    svgEl.dataset.crossings = L.crossings;

    const defs = svg("defs", {}, svgEl);
    for (const [id, cls] of [["arrow", "arrow"], ["arrow-idle", "arrow idle"]]) {
      const marker = svg("marker", {
        id, class: cls, viewBox: "0 0 10 10", refX: 9, refY: 5, markerUnits: "userSpaceOnUse",
        markerWidth: 9, markerHeight: 9, orient: "auto-start-reverse",
      }, defs);
      svg("path", { d: "M0,1 L9,5 L0,9 z" }, marker);
    }
    for (const [id, w, h] of [["clip-step", G.w, G.h], ["clip-branch", G.wBranch, G.hBranch], ["clip-source", G.w, G.hSource], ["clip-sink", G.w, G.hSink], ["clip-dlq", G.w, G.hDLQ]]) {
      const cp = svg("clipPath", { id, clipPathUnits: "userSpaceOnUse" }, defs);
      svg("rect", { width: w, height: h, rx: 8 }, cp);
    }

    const edgeLayer = svg("g", { class: "edges" }, svgEl);
    const nodeLayer = svg("g", { class: "nodes" }, svgEl);

    for (const e of L.edges) {
      const a = L.pos.get(e.from), b = L.pos.get(e.to);
      const x1 = a.x + a.w, y1 = a.y + a.h / 2;
      const x2 = b.x - 2, y2 = b.y + b.h / 2;
      const dx = Math.max(30, (x2 - x1) / 2);
      const g = svg("g", { class: "edge", "data-edge": `${e.from}>${e.to}` }, edgeLayer);
      const path = svg("path", {
        d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`,
        "marker-end": "url(#arrow-idle)",
      }, g);
      const label = svg("g", { class: "edge-label", hidden: "" }, g);
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
      const rect = svg("rect", { x: mx - 26, y: my - 9, width: 52, height: 18, rx: 9 }, label);
      const text = svg("text", { x: mx, y: my + 3.8, "text-anchor": "middle", "data-field": "edge-rate" }, label);
      state.edges.push({ ...e, el: g, path, label, rect, text, mx });
    }

    for (const s of steps) {
      const p = L.pos.get(s.name);
      state.nodes.set(s.name, drawNode(nodeLayer, s, p));
    }
    state.dlq = info.dlq ? drawDLQ(nodeLayer, edgeLayer, L, info.dlq, steps) : null;
    buildStepRows(steps);
  }

  function drawNode(layer, s, p) {
    const kind = s.kind || "step";
    const g = svg("g", {
      class: "node", transform: `translate(${p.x},${p.y})`,
      "data-step": s.name, "data-kind": kind,
    }, layer);
    const title = svg("title", {}, g);
    title.textContent = `${s.name} (${kind})` + (s.topic ? `, topic ${s.topic}` : "");
    const clip = kind === "branch" ? "clip-branch" : kind === "source" ? "clip-source" : kind === "dlq" ? "clip-dlq" : s.topic ? "clip-sink" : "clip-step";
    svg("rect", { class: "box", width: p.w, height: p.h, rx: 8 }, g);
    svg("rect", { class: "accent", width: 4, height: p.h, "clip-path": `url(#${clip})` }, g);

    const f = {};
    const text = (cls, x, y, content, attrs = {}) => {
      const t = svg("text", { class: cls, x, y, ...attrs }, g);
      t.textContent = content;
      return t;
    };

    const label = KIND_LABEL[kind] || kind.toUpperCase();
    let y;
    if (kind === "branch") {
      // Compact: the name and the kind on one line.
      const kindText = text("kind", p.w - 12, 21, label, { "text-anchor": "end" });
      const name = text("name", 16, 22, s.name, { "data-field": "name" });
      fit(name, p.w - 16 - 12 - kindText.getComputedTextLength() - 10);
      y = 31;
    } else {
      // The name has the first line to itself; the kind and what the
      // step reads, writes or fans out to go under it.
      const name = text("name", 16, 22, s.name, { "data-field": "name" });
      fit(name, p.w - 28);
      let meta = "";
      if (kind === "router") meta = `to one of ${s.outputs.length} branches`;
      else if (kind === "broadcast") meta = `to all ${s.outputs.length} branches`;
      else if (kind === "devnull") meta = "discards every message";
      const line = text("meta", 16, 39, "");
      const k = svg("tspan", { class: "kind" }, line);
      k.textContent = kind === "devnull" ? "SINK" : label; // the meta says the rest
      if (meta) {
        f.meta = svg("tspan", { "data-field": "meta" }, line);
        f.meta.textContent = "  ·  " + meta;
        fit(f.meta, p.w - 28 - k.getComputedTextLength());
      }
      y = 48;
      if (s.topic) {
        // The topic has a line of its own, so that it is not cut off.
        const line = text("meta topic", 16, 57, "");
        const lead = svg("tspan", { class: "kind" }, line);
        lead.textContent = kind === "source" ? "READS " : kind === "dlq" ? "TOPIC " : "WRITES TO ";
        f.topic = svg("tspan", { "data-field": "topic" }, line);
        f.topic.textContent = s.topic;
        fit(f.topic, p.w - 28 - lead.getComputedTextLength());
        y = 65;
      }
    }
    svg("line", { class: "rule", x1: 12, x2: p.w - 12, y1: y, y2: y }, g);

    const cells = (labels, keys, yLabel) => {
      const cw = (p.w - 28) / 3;
      labels.forEach((lab, i) => {
        text("cell-label", 16 + i * cw, yLabel, lab);
        f[keys[i]] = text("cell-value", 16 + i * cw, yLabel + 18, "–", { "data-field": keys[i] });
      });
    };
    if (kind === "dlq") {
      cells(["RATE", "TOTAL", "STEPS"], ["dlq-rate", "dlq-total", "dlq-steps"], y + 16);
      return { el: g, f, kind, step: s };
    }
    cells(["IN", "OUT", "ERRORS"], ["rate-in", "rate-out", "errors"], y + 16);
    y += 42;
    if (kind === "source") {
      cells(["LAG", "WM LAG", "PARTITIONS"], ["lag", "watermark-lag", "partitions"], y + 10);
      y += 38;
    }
    if (kind !== "branch") {
      const foot = text("foot", 16, p.h - 11, "");
      const span = (label, key) => {
        const l = svg("tspan", {}, foot);
        l.textContent = label;
        f[key] = svg("tspan", { "data-field": key }, foot);
        f[key].textContent = "–";
      };
      span("DLQ ", "dlq");
      span("  ·  skipped ", "skipped");
      span("  ·  mean ", "mean");
    }
    return { el: g, f, kind, step: s };
  }

  // drawDLQ draws the dead-letter topic as a node under the graph's last
  // column, with a dashed edge from each step that can reject a message,
  // shown once the step has dead-lettered one.
  function drawDLQ(nodeLayer, edgeLayer, L, topic, steps) {
    const p = { x: L.width - G.pad - G.w, y: L.height - G.pad - G.hDLQ, w: G.w, h: G.hDLQ };
    const node = drawNode(nodeLayer, { name: "dead-letter queue", kind: "dlq", topic, inputs: [], outputs: [] }, p);
    node.el.removeAttribute("data-step");
    node.el.dataset.dlq = topic;
    const edges = new Map();
    for (const s of steps) {
      if (s.kind === "branch") continue;
      const a = L.pos.get(s.name);
      const x1 = a.x + a.w / 2, y1 = a.y + a.h;
      const x2 = p.x - 2, y2 = p.y + p.h / 2;
      const g = svg("g", { class: "edge dlq-edge", "data-dlq-edge": s.name, hidden: "" }, edgeLayer);
      svg("path", { d: `M${x1},${y1} C${x1},${y2} ${x2 - 40},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }, g);
      edges.set(s.name, g);
    }
    return { ...node, edges };
  }

  // fit shortens a text element with an ellipsis until it is at most
  // width wide; the full text stays in the node's title.
  function fit(el, width) {
    const full = el.textContent;
    if (width <= 0 || el.getComputedTextLength() <= width) return;
    let lo = 0, hi = full.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      el.textContent = full.slice(0, mid) + "…";
      if (el.getComputedTextLength() <= width) lo = mid;
      else hi = mid - 1;
    }
    el.textContent = full.slice(0, lo) + "…";
  }

  function buildStepRows(steps) {
    const tbody = $("table[data-field=steps] tbody");
    tbody.replaceChildren();
    state.rows.clear();
    for (const s of steps) {
      const tr = document.createElement("tr");
      tr.dataset.row = s.name;
      tr.dataset.kind = s.kind;
      const cells = {};
      const td = (key, cls) => {
        const c = document.createElement("td");
        if (cls) c.className = cls;
        c.dataset.field = key;
        tr.appendChild(c);
        cells[key] = c;
        return c;
      };
      td("name", "text name").textContent = s.name;
      const k = td("kind", "text");
      const span = document.createElement("span");
      span.className = "kind";
      span.textContent = (KIND_LABEL[s.kind] || s.kind).toLowerCase();
      k.appendChild(span);
      for (const key of ["rate-in", "rate-out", "errors", "in", "out", "errors-total", "dlq", "skipped", "mean"]) td(key).textContent = "–";
      tbody.appendChild(tr);
      state.rows.set(s.name, cells);
    }
  }

  // ---- Figures

  // rates returns each step's rates between two snapshots, or null when
  // there is no usable previous one.
  function rates(prev, cur) {
    if (!prev) return null;
    const dt = cur.uptime_seconds - prev.uptime_seconds;
    if (!(dt > 0)) return null;
    const out = new Map();
    for (const [name, c] of Object.entries(cur.steps || {})) {
      const p = (prev.steps || {})[name];
      if (!p) continue;
      const r = (k) => Math.max(0, (c[k] - p[k]) / dt);
      out.set(name, { in: r("in"), out: r("out"), errors: r("errors"), dlq: r("dlq"), skipped: r("skipped") });
    }
    return out;
  }

  function restarted(prev, cur) {
    if (!prev) return false;
    if (cur.uptime_seconds < prev.uptime_seconds) return true;
    for (const [name, c] of Object.entries(cur.steps || {})) {
      const p = (prev.steps || {})[name];
      if (p && (c.in < p.in || c.out < p.out)) return true;
    }
    return false;
  }

  function render(st, r) {
    // Header.
    setText(field("uptime"), uptime(st.uptime_seconds));
    const health = field("health-pill"), ready = field("ready-pill");
    health.dataset.state = st.healthy ? "ok" : "fail";
    setText(field("health"), st.healthy ? "OK" : "FAILING");
    ready.dataset.state = st.ready ? "ok" : "fail";
    setText(field("ready"), st.ready ? "OK" : "NOT READY");
    const reasons = st.reasons || [];
    const banner = field("reasons-banner");
    banner.hidden = reasons.length === 0;
    banner.classList.toggle("fail", !st.healthy);
    setText(field("reasons-title"), !st.healthy ? "Unhealthy" : "Not ready");
    const list = field("reasons");
    const have = Array.from(list.children, (li) => li.textContent);
    if (have.join("\n") !== reasons.join("\n")) {
      list.replaceChildren(...reasons.map((x) => {
        const li = document.createElement("li");
        li.textContent = x;
        return li;
      }));
    }

    // Source figures.
    const parts = st.partitions || [];
    const totalLag = parts.length ? parts.reduce((s, p) => s + p.lag, 0) : null;
    const maxWM = parts.length ? Math.max(...parts.map((p) => p.watermark_lag_seconds)) : null;

    // Steps.
    // Errors and rejections (dead-lettered or skipped) are counted
    // apart: a message a step's function rejects is both, a reduce
    // step's late message sent to the DLQ only the latter. The Errors
    // tile shows the larger, so that it never says less than the DLQ.
    let srcIn = null, sinkOut = r ? 0 : null, errs = r ? 0 : null, rejs = r ? 0 : null, dlq = 0, dlqRate = r ? 0 : null;
    let errTotal = 0, rejTotal = 0, dlqSteps = 0;
    for (const [name, node] of state.nodes) {
      const c = (st.steps || {})[name] || {};
      const sr = r && r.get(name);
      const f = node.f;
      setFigure(f["rate-in"], rate(sr ? sr.in : null));
      setFigure(f["rate-out"], rate(sr ? sr.out : null));
      setFigure(f.errors, rate(sr ? sr.errors : null));
      f["rate-in"].classList.toggle("idle", !!sr && sr.in === 0);
      f["rate-out"].classList.toggle("idle", !!sr && sr.out === 0);
      f.errors.classList.toggle("idle", !!sr && sr.errors === 0);
      f.errors.classList.toggle("bad", !!sr && sr.errors > 0);
      node.el.classList.toggle("has-errors", !!sr && sr.errors > 0);
      if (f.dlq) {
        setText(f.dlq, count(c.dlq || 0));
        f.dlq.classList.toggle("bad", (c.dlq || 0) > 0);
        setText(f.skipped, count(c.skipped || 0));
        setText(f.mean, seconds(c.mean_seconds));
      }
      if (node.kind === "source") {
        setFigure(f.lag, totalLag == null ? "–" : num(totalLag));
        setFigure(f["watermark-lag"], maxWM == null ? "–" : age(maxWM));
        setFigure(f.partitions, String(parts.length));
        if (sr) srcIn = (srcIn || 0) + sr.in;
      }
      if (node.kind !== "source" && node.step.outputs.length === 0 && sr) sinkOut += sr.out;
      if (sr) {
        errs += sr.errors;
        rejs += sr.dlq + sr.skipped;
        dlqRate += sr.dlq;
      }
      dlq += c.dlq || 0;
      errTotal += c.errors || 0;
      rejTotal += (c.dlq || 0) + (c.skipped || 0);
      if (c.dlq > 0) dlqSteps++;
      const dlqEdge = state.dlq && state.dlq.edges.get(name);
      if (dlqEdge) dlqEdge.toggleAttribute("hidden", !(c.dlq > 0));

      const row = state.rows.get(name);
      if (row) {
        setText(row["rate-in"], rate(sr ? sr.in : null));
        setText(row["rate-out"], rate(sr ? sr.out : null));
        setText(row.errors, rate(sr ? sr.errors : null));
        setText(row.in, count(c.in || 0));
        setText(row.out, count(c.out || 0));
        setText(row["errors-total"], count(c.errors || 0));
        setText(row.dlq, count(c.dlq || 0));
        setText(row.skipped, count(c.skipped || 0));
        setText(row.mean, seconds(c.mean_seconds));
        row.errors.classList.toggle("bad", !!sr && sr.errors > 0);
        row["errors-total"].classList.toggle("bad", (c.errors || 0) > 0);
        row.dlq.classList.toggle("bad", (c.dlq || 0) > 0);
        for (const k of ["in", "out", "skipped"]) row[k].classList.toggle("zero", !c[k]);
      }
    }

    // Edges: the rate flowing along an edge is the downstream step's in
    // rate when it has only this input (so each branch of a Router shows
    // its share), else the upstream step's out rate.
    let maxRate = 0;
    const edgeRate = (e) => {
      if (!r) return null;
      const to = state.nodes.get(e.to).step;
      if ((to.inputs || []).length <= 1 && r.get(e.to)) return r.get(e.to).in;
      return r.get(e.from) ? r.get(e.from).out : null;
    };
    const er = state.edges.map(edgeRate);
    for (const v of er) if (v != null) maxRate = Math.max(maxRate, v);
    state.edges.forEach((e, i) => {
      const v = er[i];
      const active = v != null && v > 0;
      if (e.el.classList.contains("active") !== active) {
        e.el.classList.toggle("active", active);
        e.path.setAttribute("marker-end", active ? "url(#arrow)" : "url(#arrow-idle)");
      }
      e.path.style.strokeWidth = v != null && v > 0 && maxRate > 0 ? (1.5 + 2.5 * Math.sqrt(v / maxRate)).toFixed(2) : "";
      if (v == null) {
        e.label.setAttribute("hidden", "");
        return;
      }
      e.label.removeAttribute("hidden");
      const t = rate(v);
      if (e.text.textContent !== t) {
        e.text.textContent = t;
        const w = Math.max(34, e.text.getComputedTextLength() + 14);
        e.rect.setAttribute("x", e.mx - w / 2);
        e.rect.setAttribute("width", w);
      }
    });

    // Tiles.
    setFigure(field("total-rate-in"), rate(srcIn));
    setFigure(field("total-rate-out"), rate(sinkOut));
    const errRate = r ? Math.max(errs, rejs) : null;
    setFigure(field("total-errors"), rate(errRate));
    setText(field("total-errors-count"), count(Math.max(errTotal, rejTotal)));
    field("total-errors").parentElement.dataset.alert = String(errRate > 0);
    if (state.dlq) {
      const f = state.dlq.f;
      setFigure(f["dlq-rate"], rate(dlqRate));
      setFigure(f["dlq-total"], count(dlq));
      setFigure(f["dlq-steps"], String(dlqSteps));
      state.dlq.el.classList.toggle("has-errors", dlq > 0);
    }
    setText(field("total-dlq"), count(dlq));
    field("total-dlq").parentElement.dataset.alert = String(dlq > 0);
    setText(field("total-lag"), totalLag == null ? "–" : count(totalLag));
    setText(field("max-watermark-lag"), maxWM == null ? "–" : age(maxWM));

    renderPartitions(parts);
  }

  function renderPartitions(parts) {
    const tbody = $("table[data-field=partitions] tbody");
    const keys = parts.map((p) => `${p.group}/${p.topic}/${p.partition}`);
    const same = keys.length === state.parts.size && keys.every((k, i) => Array.from(state.parts.keys())[i] === k);
    if (!same) {
      tbody.replaceChildren();
      state.parts.clear();
      for (const [i, p] of parts.entries()) {
        const tr = document.createElement("tr");
        tr.dataset.partition = `${p.topic}/${p.partition}`;
        tr.title = `consumer group ${p.group}`;
        const cells = {};
        for (const [key, cls] of [["topic", "text"], ["partition", ""], ["lag", ""], ["committed", ""], ["watermark-lag", ""]]) {
          const td = document.createElement("td");
          if (cls) td.className = cls;
          td.dataset.field = key;
          tr.appendChild(td);
          cells[key] = td;
        }
        tbody.appendChild(tr);
        state.parts.set(keys[i], cells);
      }
    }
    parts.forEach((p, i) => {
      const c = state.parts.get(keys[i]);
      setText(c.topic, p.topic);
      setText(c.partition, String(p.partition));
      setText(c.lag, count(p.lag));
      setText(c.committed, count(p.committed));
      setText(c["watermark-lag"], p.watermark_lag_seconds ? age(p.watermark_lag_seconds) : "–");
    });
    field("partitions-empty").hidden = parts.length > 0;
    const groups = new Set(parts.map((p) => p.group));
    setText(field("partition-count"), parts.length
      ? `${parts.length} assigned` + (groups.size === 1 ? `, consumer group ${[...groups][0]}`
        : `, ${groups.size} consumer groups: the source's and its internal topics' (shuffles, segments)`)
      : "");
  }

  // ---- Connection

  function setConnected(ok, err) {
    const conn = field("connection");
    const state_ = ok ? "connected" : "disconnected";
    conn.dataset.state = state_;
    document.body.dataset.connection = state_;
    field("disconnected-banner").hidden = ok;
    if (ok) {
      setText(field("connection-text"), "live");
      return;
    }
    setText(field("connection-text"), "disconnected");
    // Whatever the last answer said may no longer hold.
    for (const [pill, value] of [["health-pill", "health"], ["ready-pill", "ready"]]) {
      field(pill).dataset.state = "unknown";
      setText(field(value), "UNKNOWN");
    }
    const since = state.lastOK ? ` Last update at ${state.lastOK.toLocaleTimeString()}.` : "";
    setText(field("disconnected-text"),
      `${err && err.message ? err.message : "no answer"}.${since} Retrying (attempt ${state.failures}).`);
  }

  async function fetchJSON(url) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(url, { cache: "no-store", signal: ctl.signal });
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      return await r.json();
    } catch (e) {
      if (e.name === "AbortError") throw new Error(`${url}: no answer within ${FETCH_TIMEOUT_MS / 1000} s`);
      if (e instanceof TypeError) throw new Error(`${url}: ${e.message || "network error"}`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async function tick() {
    const started = Date.now();
    try {
      if (!state.graph) {
        state.graph = await fetchJSON("api/pipeline");
        buildGraph(state.graph);
      }
      const st = await fetchJSON("api/stats");
      if (restarted(state.cur, st)) {
        // A new process: its counters started again, and its shape may
        // have changed.
        state.prev = state.cur = null;
        window.streamsCharts.reset();
        state.graph = await fetchJSON("api/pipeline");
        buildGraph(state.graph);
      }
      state.prev = state.cur;
      state.cur = st;
      render(st, rates(state.prev, st));
      const h = await fetchJSON(`api/history?since=${window.streamsCharts.since()}`);
      window.streamsCharts.update(h);
      setText(field("history-interval"), h.interval_seconds ? age(h.interval_seconds) : "–");
      state.failures = 0;
      state.lastOK = new Date();
      document.body.dataset.snapshots = String((+document.body.dataset.snapshots || 0) + 1);
      setText(field("updated"), `updated ${state.lastOK.toLocaleTimeString()}`);
      setConnected(true);
    } catch (err) {
      state.failures++;
      setConnected(false, err);
    }
    const wait = state.failures
      ? Math.min(POLL_MS * 2 ** (state.failures - 1), MAX_BACKOFF_MS)
      : Math.max(100, POLL_MS - (Date.now() - started));
    setTimeout(tick, wait);
  }

  window.streamsCharts.mount(field("charts"), { num, seconds, age });
  tick();
})();
