// The migration dashboard: fetches /status every few seconds and redraws; charts are plain SVG.
"use strict";

const REFRESH_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";
const BACKENDS = ["monolith", "movies-service", "events-service"];
const STATE_CLASS = { armed: "ok", collecting: "idle", disabled: "idle", tripped: "bad",
  closed: "ok", "half-open": "warn", open: "bad" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function byId(id) { return document.getElementById(id); }

function percent(value, digits = 1) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)} %`;
}

function millis(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 1 ? `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms` : `${seconds.toFixed(2)} s`;
}

function clock(iso) { return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "–"; }

function facts(container, pairs) {
  container.replaceChildren(...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}

function setState(node, state) {
  node.textContent = state;
  node.className = `state ${STATE_CLASS[state] || "idle"}`;
}

function renderSplit(split) {
  byId("split-percent").textContent = split.percent;
  byId("split-bar").style.width = `${split.percent}%`;
  byId("split-new").textContent = `${split.percent} %`;
  byId("split-old").textContent = `${100 - split.percent} %`;
  const mode = byId("split-mode");
  mode.textContent = split.mode.replace("-", " ");
  mode.className = `badge ${split.mode === "guard-tripped" ? "bad" : ""}`;
  byId("split-source").textContent = split.source;
  byId("split-origin").textContent = split.origin;
}

function renderRamp(ramp, now) {
  const list = byId("ramp-steps");
  const text = byId("ramp-text");
  if (!ramp) {
    list.replaceChildren(el("li", { class: "current" }, "fixed"));
    text.textContent = "No ramp plan: MOVIES_MIGRATION_PERCENT (or GRADUAL_MIGRATION) decides the share.";
    return;
  }
  list.replaceChildren(...ramp.steps.map((step, index) => {
    let cls = index < ramp.index ? "done" : "";
    if (index === ramp.index) cls = ramp.held ? "held" : "current";
    return el("li", { class: cls, title: `step ${index + 1}` }, `${step} %`);
  }));
  const every = `${ramp.interval_seconds} s a step`;
  if (ramp.held) {
    text.textContent = `Held at 0 % by the guard at step ${ramp.index + 1}; resumes from there after a re-arm. (${every})`;
  } else if (ramp.index < 0) {
    text.textContent = `Starts at ${clock(ramp.start)}. ${every}.`;
  } else if (ramp.next_change) {
    const left = Math.max(0, Math.round((Date.parse(ramp.next_change) - now) / 1000));
    text.textContent = `Step ${ramp.index + 1} of ${ramp.steps.length}; next step at ${clock(ramp.next_change)} (in ${left} s). ${every}.`;
  } else {
    text.textContent = `Last step reached (step ${ramp.index + 1} of ${ramp.steps.length}). Started ${clock(ramp.start)}.`;
  }
}

function renderGuard(guard) {
  setState(byId("guard-state"), guard.state);
  const limits = guard.limits;
  facts(byId("guard-facts"), [
    ["window", `${guard.window.requests} answers in ${limits.window_seconds} s (arms at ${limits.min_requests})`],
    ["errors", `${percent(guard.window.error_rate)} (trips over ${percent(limits.max_error_rate)})`],
    ["slower than p99 limit", `${percent(guard.window.slow_rate)} (limit ${millis(limits.max_p99_seconds)}, trips over 1 %)`],
    ["trips (all workers)", guard.trips_total],
    ["GUARD_REARM", guard.rearm_token || "(empty)"],
  ]);
  const trip = byId("guard-trip");
  if (!guard.last_trip) { trip.className = "trip hidden"; return; }
  const last = guard.last_trip;
  trip.className = last.holding ? "trip" : "trip past";
  trip.replaceChildren(
    el("b", {}, last.holding ? "Tripped " : "Last trip "), `at ${clock(last.at)}: ${last.reason}`,
    el("br"), last.holding ? "Change GUARD_REARM to release it." : `Re-armed since (token was "${last.rearm_token}").`);
}

function renderCircuit(circuit, fallbacks) {
  setState(byId("circuit-state"), circuit["movies-service"]);
  facts(byId("circuit-facts"), [["movies-service", circuit["movies-service"]], ["opened (all workers)", circuit.opened_total]]);
  const reasons = Object.entries(fallbacks.by_reason);
  facts(byId("fallback-totals"), reasons.length ? reasons : [["total", 0]]);
}

function chart(title, series, options) {
  const width = 300, height = 64, pad = 2;
  const values = series.flatMap((line) => line.points.map((p) => p[1])).filter((v) => v !== null);
  const times = series.flatMap((line) => line.points.map((p) => p[0]));
  const latest = series.map((line) => {
    const last = [...line.points].reverse().find((p) => p[1] !== null);
    return last ? options.format(last[1]) : "–";
  }).join(" / ");
  const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  box.setAttribute("aria-label", `${title}: ${latest}`);
  for (const y of [0.25, 0.5, 0.75]) box.append(svg("line", { class: "grid-line", x1: 0, x2: width, y1: height * y, y2: height * y }));
  if (values.length && times.length) {
    const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
    const top = Math.max(options.floor, ...values) * 1.1;
    const x = (t) => pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad);
    const y = (v) => height - pad - (v / top) * (height - 2 * pad);
    for (const line of series) {
      const points = line.points.filter((p) => p[1] !== null);
      if (!points.length) continue;
      if (points.length === 1) {
        // One interval only: a dot, since a path of one point draws nothing.
        box.append(svg("circle", { cx: x(points[0][0]), cy: y(points[0][1]), r: 2.5, fill: line.color }));
        continue;
      }
      const path = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
      if (line.fill) {
        box.append(svg("path", { class: "area", fill: line.color,
          d: `${path} L${x(points[points.length - 1][0]).toFixed(1)},${height} L${x(points[0][0]).toFixed(1)},${height} Z` }));
      }
      box.append(svg("path", { d: path, fill: "none", stroke: line.color, "stroke-width": 1.8,
        "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round", "stroke-dasharray": line.dash || "none" }));
    }
  } else {
    const empty = svg("text", { x: width / 2, y: height / 2 + 4, "text-anchor": "middle", class: "empty" });
    empty.textContent = "no traffic yet";
    box.append(empty);
  }
  return el("div", { class: "chart" }, el("div", { class: "label" }, el("span", {}, title), el("span", {}, latest)), box);
}

function renderBackends(traffic) {
  const series = traffic.series;
  byId("traffic-window").textContent = series.length
    ? `last ${Math.round((series[series.length - 1].t - series[0].t + series[0].seconds) / 60 * 10) / 10} min, every ${traffic.sample_seconds} s`
    : "";
  const colors = { monolith: "var(--old)", "movies-service": "var(--new)", "events-service": "#b48cff" };
  byId("backends").replaceChildren(...BACKENDS.map((name) => {
    const of = (key) => series.map((p) => [p.t, p.upstreams[name] ? p.upstreams[name][key] : null]);
    const total = traffic.totals[name] || { requests: 0, errors: 0 };
    return el("article", { class: "card backend", id: `backend-${name}` },
      el("h2", {}, name, el("span", { class: "now" }, `${total.requests} requests, ${total.errors} errors`)),
      chart("requests / s", [{ points: of("rps"), color: colors[name], fill: true }], { floor: 1, format: (v) => v.toFixed(1) }),
      chart("error rate", [{ points: of("error_rate"), color: "var(--bad)", fill: true }], { floor: 0.05, format: (v) => percent(v) }),
      chart("latency p50 / p99 (dashed)", [{ points: of("p50"), color: colors[name] },
        { points: of("p99"), color: "var(--text)", dash: "4 3" }],
        { floor: 0.01, format: millis }));
  }));
}

function renderShadow(shadow) {
  const rate = byId("shadow-rate");
  rate.textContent = percent(shadow.match_rate);
  rate.className = shadow.match_rate === null ? "" : shadow.match_rate >= 0.999 ? "state ok" : shadow.match_rate >= 0.9 ? "state warn" : "state bad";
  facts(byId("shadow-counts"), ["match", "mismatch", "error", "skipped"].map((key) => [key, shadow.counts[key]]));
  byId("shadow-settings").textContent = shadow.percent > 0
    ? `SHADOW_PERCENT=${shadow.percent}: that share of movies GETs is also sent to the other backend and compared` +
      (shadow.ignore_fields.length ? `, ignoring ${shadow.ignore_fields.join(", ")}` : "") + `; ${shadow.in_flight} in flight.`
    : "SHADOW_PERCENT=0: no requests are mirrored.";
  const box = byId("shadow-mismatches");
  if (!shadow.mismatches.length) { box.replaceChildren(el("p", { class: "muted" }, "none")); return; }
  // The same difference seen again and again is one entry with a count, the newest first.
  const groups = new Map();
  for (const m of shadow.mismatches) {
    const key = JSON.stringify([m.path, m.served_by, m.statuses, m.differences]);
    if (groups.has(key)) groups.get(key).count += 1; else groups.set(key, { m, count: 1 });
  }
  box.replaceChildren(...[...groups.values()].slice(0, 8).map(({ m, count }) => {
    const names = Object.keys(m.statuses);
    const head = el("div", { class: "head" }, el("span", { class: "path" }, `GET ${m.path}`),
      count > 1 ? el("span", { class: "badge warn" }, `× ${count}`) : "",
      el("span", { class: "muted" }, `${count > 1 ? "last " : ""}${clock(m.at)} · served by ${m.served_by} · ` +
        names.map((n) => `${n} ${m.statuses[n]}`).join(" vs ")));
    const table = el("table", { class: "diff" },
      el("tr", {}, el("th", {}, "JSON path"), ...names.map((n) => el("th", {}, n))),
      ...m.differences.map((d) => el("tr", {}, el("td", {}, d.path), ...names.map((n, i) => {
        const absent = d.absent_in === n;
        const shown = absent ? "absent" : JSON.stringify(d[n]);
        return el("td", { class: absent ? "absent" : (n === "monolith" ? "old" : "new") }, shown === undefined ? "" : shown);
      }))));
    return el("div", { class: "mismatch" }, head, table);
  }));
}

function renderFallbacks(fallbacks, series) {
  const reasons = [...new Set(series.flatMap((p) => Object.keys(p.fallbacks)))];
  const points = series.map((p) => [p.t, Object.values(p.fallbacks).reduce((a, b) => a + b, 0) / p.seconds]);
  byId("fallback-chart").replaceChildren(chart("fallbacks / s", [{ points, color: "var(--warn)", fill: true }],
    { floor: 1, format: (v) => v.toFixed(2) }));
  const list = byId("fallback-recent");
  const recent = [...fallbacks.recent].reverse();
  if (!recent.length) { list.replaceChildren(el("li", { class: "muted" }, "none in the last minutes")); return; }
  list.replaceChildren(...recent.slice(0, 10).map((p) => el("li", {},
    el("span", {}, new Date(p.t * 1000).toLocaleTimeString([], { hour12: false })),
    el("span", {}, reasons.filter((r) => p[r]).map((r) => `${p[r]} × ${r}`).join(", ")))));
}

function render(status) {
  const now = Date.now();
  renderSplit(status.split);
  renderRamp(status.split.ramp, now);
  renderGuard(status.guard);
  renderCircuit(status.circuit, status.fallbacks);
  renderBackends(status.traffic);
  renderShadow(status.shadow);
  renderFallbacks(status.fallbacks, status.traffic.series);
  byId("worker").textContent = `worker ${status.worker}`;
  document.body.dataset.guard = status.guard.state;
}

async function refresh() {
  const live = byId("live");
  try {
    const response = await fetch("/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`/status answered ${response.status}`);
    render(await response.json());
    live.className = "live ok";
    byId("live-text").textContent = `live · updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
    byId("banner").className = "banner hidden";
  } catch (error) {
    live.className = "live down";
    byId("live-text").textContent = "disconnected";
    const banner = byId("banner");
    banner.textContent = `Cannot read /status: ${error.message}. Retrying every ${REFRESH_MS / 1000} s.`;
    banner.className = "banner";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
