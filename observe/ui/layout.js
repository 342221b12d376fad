// The layout of the pipeline's graph, for app.js: which column and row
// each step takes, and where the edges go.
//
// streamsLayout(steps, geometry) takes the steps of api/pipeline and the
// drawing's geometry (app.js's G) and returns {pos, edges, width, height,
// byName, crossings}: pos maps a step to its box {x, y, w, h}.
"use strict";

window.streamsLayout = (() => {
  // layout places the steps on a grid: the column of a step is its
  // longest path from a root (the source), so every edge goes right; in
  // a column, steps are ordered so that edges cross as little as
  // possible. A depth-first walk that gives each leaf the next row and
  // centres a step on the children it placed draws a tree (what the DSL
  // builds: Router and Broadcast fan out, nothing merges) without a
  // crossing; for a graph where steps merge, barycentre sweeps then
  // reorder the columns while they reduce the crossings.
  function layout(steps, G) {
    const names = steps.map((s) => s.name);
    const known = new Set(names);
    const succ = new Map(names.map((n) => [n, []]));
    const pred = new Map(names.map((n) => [n, []]));
    const edges = [];
    const seen = new Set();
    const addEdge = (a, b) => {
      const k = a + "\u0000" + b;
      if (a === b || !known.has(a) || !known.has(b) || seen.has(k)) return;
      seen.add(k);
      edges.push({ from: a, to: b });
      succ.get(a).push(b);
      pred.get(b).push(a);
    };
    for (const s of steps) for (const o of s.outputs || []) addEdge(s.name, o);
    for (const s of steps) for (const i of s.inputs || []) addEdge(i, s.name);

    // Topological order (Kahn), stable in the order of the steps; steps
    // on a cycle, which the DSL cannot build, come last.
    const indeg = new Map(names.map((n) => [n, pred.get(n).length]));
    const topo = [];
    const queue = names.filter((n) => indeg.get(n) === 0);
    while (queue.length) {
      const n = queue.shift();
      topo.push(n);
      for (const m of succ.get(n)) {
        indeg.set(m, indeg.get(m) - 1);
        if (indeg.get(m) === 0) queue.push(m);
      }
    }
    for (const n of names) if (!topo.includes(n)) topo.push(n);

    const col = new Map(names.map((n) => [n, 0]));
    for (const n of topo) {
      for (const m of succ.get(n)) {
        if (topo.indexOf(m) > topo.indexOf(n)) col.set(m, Math.max(col.get(m), col.get(n) + 1));
      }
    }

    // Rows: leaves take the next row; a step sits at the mean of the
    // first and last child it placed.
    const row = new Map();
    let next = 0;
    const place = (n) => {
      if (row.has(n)) return;
      row.set(n, null);
      const placed = [];
      for (const m of succ.get(n)) {
        if (!row.has(m)) {
          place(m);
          placed.push(row.get(m));
        }
      }
      row.set(n, placed.length ? (placed[0] + placed[placed.length - 1]) / 2 : next++);
    };
    for (const n of topo) if (pred.get(n).length === 0) place(n);
    for (const n of topo) place(n);

    // Columns, each ordered by row.
    const ncols = Math.max(0, ...col.values()) + 1;
    const cols = Array.from({ length: ncols }, () => []);
    for (const n of names) cols[col.get(n)].push(n);
    for (const c of cols) c.sort((a, b) => row.get(a) - row.get(b));

    const crossings = (cs) => {
      const pos = new Map();
      cs.forEach((c) => c.forEach((n, i) => pos.set(n, i)));
      let k = 0;
      for (let i = 0; i < edges.length; i++) {
        for (let j = i + 1; j < edges.length; j++) {
          const e = edges[i], f = edges[j];
          if (col.get(e.from) !== col.get(f.from) || col.get(e.to) !== col.get(f.to)) continue;
          if ((pos.get(e.from) - pos.get(f.from)) * (pos.get(e.to) - pos.get(f.to)) < 0) k++;
        }
      }
      return k;
    };
    let best = cols.map((c) => c.slice());
    let bestK = crossings(best);
    if (bestK > 0) {
      let cur = best.map((c) => c.slice());
      for (let sweep = 0; sweep < 8 && bestK > 0; sweep++) {
        const down = sweep % 2 === 0;
        const order = down ? [...cur.keys()].slice(1) : [...cur.keys()].reverse().slice(1);
        for (const ci of order) {
          const pos = new Map();
          cur.forEach((c) => c.forEach((n, i) => pos.set(n, i)));
          const bary = (n) => {
            const nb = (down ? pred : succ).get(n);
            if (!nb.length) return pos.get(n);
            return nb.reduce((s, m) => s + pos.get(m), 0) / nb.length;
          };
          cur[ci] = cur[ci].slice().sort((a, b) => bary(a) - bary(b));
        }
        const k = crossings(cur);
        if (k < bestK) {
          bestK = k;
          best = cur.map((c) => c.slice());
        }
      }
      // Keep each column's rows, handed out in the new order.
      for (const c of best) {
        const rows = c.map((n) => row.get(n)).sort((a, b) => a - b);
        c.forEach((n, i) => row.set(n, rows[i]));
      }
    }

    // Sizes and coordinates.
    const size = (s) => {
      if (s.kind === "branch") return { w: G.wBranch, h: G.hBranch };
      if (s.kind === "source") return { w: G.w, h: G.hSource };
      if (s.topic) return { w: G.w, h: G.hSink };
      return { w: G.w, h: G.h };
    };
    const byName = new Map(steps.map((s) => [s.name, s]));
    const sizes = new Map(steps.map((s) => [s.name, size(s)]));
    const colW = cols.map((c) => Math.max(0, ...c.map((n) => sizes.get(n).w)));
    const colX = [];
    let x = G.pad;
    for (let i = 0; i < ncols; i++) {
      colX.push(x);
      x += colW[i] + G.colGap;
    }
    const pitch = G.h + G.rowGap;
    const pos = new Map();
    for (const [ci, c] of best.entries()) {
      // Centres from the rows; then push down whatever would overlap.
      let lastBottom = -Infinity;
      const ordered = c.slice().sort((a, b) => row.get(a) - row.get(b));
      for (const n of ordered) {
        const { w, h } = sizes.get(n);
        let cy = row.get(n) * pitch + G.h / 2;
        if (cy - h / 2 < lastBottom + G.rowGap) cy = lastBottom + G.rowGap + h / 2;
        lastBottom = cy + h / 2;
        pos.set(n, { x: colX[ci] + (colW[ci] - w) / 2, cy, w, h });
      }
    }
    let top = Infinity, bottom = -Infinity;
    for (const p of pos.values()) {
      top = Math.min(top, p.cy - p.h / 2);
      bottom = Math.max(bottom, p.cy + p.h / 2);
    }
    const shift = G.pad - (isFinite(top) ? top : 0);
    for (const p of pos.values()) p.y = p.cy - p.h / 2 + shift;
    const width = ncols ? x - G.colGap + G.pad : 0;
    const height = isFinite(bottom) ? bottom - top + 2 * G.pad : 0;
    return { pos, edges, width, height, byName, crossings: bestK };
  }

  return layout;
})();
