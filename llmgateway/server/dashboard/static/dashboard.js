// The llmgateway dashboard: fetches /ui/api/* (relative URLs) and draws SVG charts. No libraries,
// nothing loaded from elsewhere. Money arrives as exact decimal strings: they are shown as sent and
// turned into numbers only to draw.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fdf", "#e4862d", "#2ba37a", "#c9452f", "#8a5cd1", "#c2a02a", "#2aa5c2",
    "#d45c9c", "#6d7a2f", "#7b5a45"];
  const BREAKER = { closed: "#2ba37a", half_open: "#e0a526", open: "#d23c30" };
  const REFRESH_MS = 10000;
  const MAX_SERIES = 8;
  const state = { range: "1h", group: "model", timer: null, busy: false, again: false };

  // -- small DOM helpers ------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function s(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function titled(node, text) {
    node.append(s("title", {}, text));
    return node;
  }

  function svgRoot(width, height, label) {
    const root = s("svg", {
      viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": label,
      preserveAspectRatio: "xMidYMid meet",
    });
    root.append(s("title", {}, label));
    return root;
  }

  function message(container, text, testid) {
    container.replaceChildren(h("p", { class: "empty", "data-testid": testid || "empty" }, text));
  }

  function swatch(color, shape) {
    const mark = h("span", { class: `swatch ${shape || ""}`, "aria-hidden": "true" });
    mark.style.background = color;
    return mark;
  }

  function legend(list, entries) {
    list.replaceChildren(...entries.map((e) =>
      h("li", { "data-testid": "legend-item", "data-name": e.name },
        swatch(e.color, e.shape), h("span", { class: "legend-name" }, e.name),
        e.detail ? h("span", { class: "legend-detail" }, e.detail) : null)));
  }

  // -- formatting -------------------------------------------------------------------------------
  function fmtNumber(value) {
    if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    return String(Math.round(value * 100) / 100);
  }

  function fmtMoneyAxis(value) {
    if (value === 0) return "0";
    if (value >= 1) return value.toFixed(2);
    return value.toPrecision(2);
  }

  function fmtTime(iso, withDay) {
    const date = new Date(iso);
    const hm = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return withDay ? `${date.toLocaleDateString([], { weekday: "short" })} ${hm}` : hm;
  }

  function fmtMs(value) {
    return value === null || value === undefined ? "–" : `${fmtNumber(value)} ms`;
  }

  // -- a chart over time --------------------------------------------------------------------------
  // layers: [{name, color, values, kind: "area" | "bar" | "line"}]; areas are stacked.
  function timeChart(container, label, buckets, layers, yFormat) {
    // Drawn at the container's own width, so text is never scaled down.
    const W = Math.max(360, Math.round(container.clientWidth || 900)), H = 280, L = 72, R = 16, T = 14, B = 30;
    const plotW = W - L - R, plotH = H - T - B;
    const n = buckets.length;
    const step = plotW / Math.max(n, 1);
    const stacked = layers.filter((l) => l.kind === "area");
    const tops = new Array(n).fill(0);
    const stacks = stacked.map((layer) => layer.values.map((v, i) => {
      const low = tops[i];
      tops[i] += v;
      return [low, tops[i]];
    }));
    let max = Math.max(0, ...tops, ...layers.filter((l) => l.kind !== "area").flatMap((l) => l.values));
    if (max <= 0) max = 1;
    const x = (i) => L + step * (i + 0.5);
    const y = (v) => T + plotH - (v / max) * plotH;
    const root = svgRoot(W, H, label);
    const grid = s("g", { class: "grid", "aria-hidden": "true" });
    for (let k = 0; k <= 4; k += 1) {
      const value = (max * k) / 4;
      grid.append(s("line", { x1: L, x2: W - R, y1: y(value), y2: y(value) }));
      grid.append(s("text", { x: L - 6, y: y(value) + 4, "text-anchor": "end" }, yFormat(value)));
    }
    const withDay = n > 1 && (new Date(buckets[n - 1]) - new Date(buckets[0])) > 86400000;
    const every = Math.max(1, Math.ceil(n / 6));
    for (let i = 0; i < n; i += every) {
      grid.append(s("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, fmtTime(buckets[i], withDay)));
    }
    root.append(grid);
    layers.filter((l) => l.kind === "bar").forEach((layer) => {
      const g = s("g", { class: "bars", "data-series": layer.name });
      layer.values.forEach((v, i) => {
        if (v > 0) {
          g.append(titled(s("rect", {
            x: x(i) - step * 0.4, y: y(v), width: Math.max(1, step * 0.8), height: T + plotH - y(v),
            fill: layer.color,
          }), `${layer.name} ${fmtTime(buckets[i], withDay)}: ${v}`));
        }
      });
      root.append(g);
    });
    stacked.forEach((layer, index) => {
      const band = stacks[index];
      const upper = band.map(([, high], i) => `${x(i)},${y(high)}`);
      const lower = band.map(([low], i) => `${x(i)},${y(low)}`).reverse();
      const g = s("g", { class: "area", "data-series": layer.name });
      g.append(titled(s("path", {
        d: `M${upper.join("L")}L${lower.join("L")}Z`, fill: layer.color, "fill-opacity": 0.55,
        stroke: layer.color, "stroke-width": 1.5,
      }), `${layer.name}: ${layer.detail || ""}`));
      band.forEach(([low, high], i) => {
        if (high > low) {
          g.append(titled(s("circle", { cx: x(i), cy: y(high), r: 2.5, fill: layer.color }),
            `${layer.name} ${fmtTime(buckets[i], withDay)}: ${layer.labels ? layer.labels[i] : high - low}`));
        }
      });
      root.append(g);
    });
    layers.filter((l) => l.kind === "line").forEach((layer) => {
      const points = layer.values.map((v, i) => `${x(i)},${y(v)}`);
      const g = s("g", { class: "line", "data-series": layer.name });
      g.append(titled(s("path", {
        d: `M${points.join("L")}`, fill: "none", stroke: layer.color, "stroke-width": 2,
      }), layer.name));
      root.append(g);
    });
    root.append(s("line", { class: "axis", x1: L, x2: W - R, y1: T + plotH, y2: T + plotH }));
    container.replaceChildren(root);
  }

  // -- the four panels ----------------------------------------------------------------------------
  function renderSummary(summary) {
    const box = document.getElementById("summary");
    if (!summary.ledger) {
      box.replaceChildren(h("p", { class: "empty", "data-testid": "no-ledger" }, summary.message));
      return;
    }
    const cost = Object.entries(summary.cost);
    const tile = (name, value, testid) => h("div", { class: "tile", "data-testid": testid },
      h("span", { class: "tile-name" }, name), h("span", { class: "tile-value" }, value));
    const errorRate = summary.calls ? ` (${((100 * summary.errors) / summary.calls).toFixed(1)}%)` : "";
    box.replaceChildren(
      tile("Cost", cost.length ? cost.map(([c, v]) => `${v} ${c}`).join(" + ") : "0", "tile-cost"),
      tile("Calls", String(summary.calls), "tile-calls"),
      tile("Errors", `${summary.errors}${errorRate}`, "tile-errors"),
      tile("Cache hits", String(summary.cache_hits), "tile-cache"),
      tile("Tokens", fmtNumber(summary.prompt_tokens + summary.completion_tokens), "tile-tokens"),
    );
  }

  function renderCost(series) {
    const chart = document.getElementById("chart-cost");
    const list = document.getElementById("legend-cost");
    if (!series.ledger) {
      message(chart, series.message, "no-ledger");
      list.replaceChildren();
      return;
    }
    if (!series.series.length) {
      message(chart, "No calls in this range yet.");
      list.replaceChildren();
      return;
    }
    const shown = series.series.slice(0, MAX_SERIES).map((entry, i) => ({
      name: `${entry.name === null ? "(none)" : entry.name}${entry.currency === "USD" ? "" : ` (${entry.currency})`}`,
      color: PALETTE[i % PALETTE.length], kind: "area",
      values: entry.cost.map(Number), labels: entry.cost.map((v) => `${v} ${entry.currency}`),
      detail: `${entry.total_cost} ${entry.currency}`,
    }));
    const rest = series.series.slice(MAX_SERIES);
    if (rest.length) {
      shown.push({
        name: `${rest.length} more`, color: "#9aa3ad", kind: "area",
        values: series.buckets.map((_, i) => rest.reduce((sum, e) => sum + Number(e.cost[i]), 0)),
        detail: "",
      });
    }
    timeChart(chart, `Cost over time by ${series.group}`, series.buckets, shown, fmtMoneyAxis);
    legend(list, shown);
  }

  function renderRequests(series) {
    const chart = document.getElementById("chart-requests");
    const list = document.getElementById("legend-requests");
    if (!series.ledger) {
      message(chart, series.message, "no-ledger");
      list.replaceChildren();
      return;
    }
    const total = (values) => values.reduce((a, b) => a + b, 0);
    const layers = [
      { name: "Calls", color: "#2f6fdf", kind: "bar", values: series.requests.calls, shape: "" },
      { name: "Errors", color: "#d23c30", kind: "line", values: series.requests.errors, shape: "line" },
      { name: "Cache hits", color: "#2ba37a", kind: "line", values: series.requests.cache_hits, shape: "line" },
    ];
    layers.forEach((l) => { l.detail = String(total(l.values)); });
    timeChart(chart, "Requests over time, with errors and cache hits", series.buckets, layers, fmtNumber);
    legend(list, layers);
  }

  function renderHealth(payload) {
    const chart = document.getElementById("chart-health");
    const items = payload.deployments;
    if (!items.length) {
      message(chart, "No deployments.");
      return;
    }
    const W = Math.max(480, Math.round(chart.clientWidth || 900)), rowH = 46, T = 8;
    const L = Math.round(W * 0.26), R = Math.round(W * 0.3);
    const H = T * 2 + rowH * items.length;
    const plotW = W - L - R;
    const max = Math.max(1, ...items.map((d) => Math.max(d.latency_ewma_ms || 0, d.p95_ms || 0)));
    const root = svgRoot(W, H, "Deployment health: latency per deployment, coloured by circuit breaker state");
    items.forEach((d, i) => {
      const top = T + i * rowH;
      const color = BREAKER[d.breaker] || "#9aa3ad";
      const g = s("g", { class: "deployment", "data-deployment": d.name, "data-breaker": d.breaker });
      const errorPct = `${(100 * d.error_rate).toFixed(1)}%`;
      const summary = `${d.name} (${d.model}, ${d.kind}): latency EWMA ${fmtMs(d.latency_ewma_ms)}, ` +
        `p95 ${fmtMs(d.p95_ms)}, TTFT ${fmtMs(d.ttft_ms)}, error rate ${errorPct}, ` +
        `${d.in_flight} in flight, breaker ${d.breaker}`;
      g.append(s("title", {}, summary));
      g.append(s("text", { x: 0, y: top + 18, class: "row-name" }, d.name));
      g.append(s("text", { x: 0, y: top + 36, class: "row-sub" }, `${d.model} · ${d.kind}`));
      g.append(s("rect", { x: L, y: top + 8, width: plotW, height: 26, class: "track" }));
      const width = d.latency_ewma_ms ? Math.max(2, (d.latency_ewma_ms / max) * plotW) : 0;
      g.append(s("rect", { x: L, y: top + 8, width, height: 26, fill: color, class: "bar" }));
      if (d.p95_ms) {
        const px = L + (d.p95_ms / max) * plotW;
        g.append(s("line", { x1: px, x2: px, y1: top + 4, y2: top + 38, class: "p95" }));
      }
      const text = d.samples ? `${fmtMs(d.latency_ewma_ms)} · p95 ${fmtMs(d.p95_ms)}` : "no calls yet";
      g.append(s("text", { x: L + plotW + 10, y: top + 18, class: "row-value" }, text));
      g.append(s("text", { x: L + plotW + 10, y: top + 36, class: "row-sub" },
        `err ${errorPct} · ${d.in_flight} in flight · ${d.breaker.replace("_", "-")}`));
      root.append(g);
    });
    chart.replaceChildren(root);
    legend(document.getElementById("legend-health"), [
      { name: "closed (healthy)", color: BREAKER.closed },
      { name: "half-open (probing)", color: BREAKER.half_open },
      { name: "open (shunned)", color: BREAKER.open },
      { name: "p95 latency", color: "#1d2430", shape: "tick" },
    ]);
  }

  function renderRecent(payload) {
    const box = document.getElementById("recent");
    if (!payload.ledger) {
      message(box, payload.message, "no-ledger");
      return;
    }
    if (!payload.calls.length) {
      message(box, "No calls yet.");
      return;
    }
    const columns = ["Time", "Key", "Model", "Deployment", "Status", "Latency", "Tokens", "Cost", "Cache"];
    const head = h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c))));
    const body = h("tbody", {}, ...payload.calls.map((c) => {
      const status = c.outcome === "ok" ? String(c.status_code || "ok") : `${c.status_code || ""} ${c.error_type || c.outcome}`;
      return h("tr", { "data-testid": "recent-row", class: c.outcome === "ok" ? "" : "failed" },
        h("td", { title: c.time }, new Date(c.time).toLocaleTimeString()),
        h("td", {}, c.key || "–"), h("td", {}, c.model), h("td", {}, c.deployment || "–"),
        h("td", {}, status.trim()), h("td", { class: "num" }, fmtMs(c.latency_ms)),
        h("td", { class: "num" }, `${c.prompt_tokens} + ${c.completion_tokens}`),
        h("td", { class: "num" }, `${c.cost}${c.estimated ? "*" : ""} ${c.currency}`),
        h("td", {}, c.cache));
    }));
    box.replaceChildren(h("table", { id: "table-recent", "data-testid": "table-recent", "aria-label": "Recent calls, newest first" }, head, body));
  }

  // -- data -------------------------------------------------------------------------------------
  async function getJSON(path) {
    const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      window.location.assign("login");
      throw new Error("signed out");
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  async function refresh() {
    if (state.busy) {
      state.again = true; // a picker was clicked mid-update: update once more with its choice
      return;
    }
    state.busy = true;
    state.again = false;
    const status = document.getElementById("status");
    const range = encodeURIComponent(state.range);
    const results = await Promise.allSettled([
      getJSON(`api/summary?range=${range}`),
      getJSON(`api/timeseries?range=${range}&group=${encodeURIComponent(state.group)}`),
      getJSON("api/deployments"),
      getJSON("api/recent?limit=50"),
    ]);
    const renderers = [renderSummary, (t) => { renderCost(t); renderRequests(t); }, renderHealth, renderRecent];
    const failures = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled") {
        try {
          renderers[i](result.value);
        } catch (error) {
          failures.push(String(error));
        }
      } else {
        failures.push(String(result.reason && result.reason.message ? result.reason.message : result.reason));
      }
    });
    status.textContent = failures.length ? `Update failed: ${failures[0]}` : `Updated ${new Date().toLocaleTimeString()}`;
    status.classList.toggle("error", failures.length > 0);
    document.body.dataset.loaded = "true";
    state.busy = false;
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, state.again ? 0 : REFRESH_MS);
  }

  function picker(id, attribute, key) {
    const group = document.getElementById(id);
    group.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      state[key] = button.getAttribute(attribute);
      group.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      refresh();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    picker("range-picker", "data-range", "range");
    picker("group-picker", "data-group", "group");
    refresh();
  });
})();
