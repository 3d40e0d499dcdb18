// Faucon portal: light curve and score charts on <canvas>, the filter editor, live lists.
// No external library: the portal works without internet.
"use strict";

const BAND_COLORS = { u: "#7b3fbf", g: "#1a9850", r: "#d73027", i: "#f28e2b", z: "#8c564b",
  y: "#555555" };
const SERIES = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948",
  "#ff9da7", "#9c755f", "#bab0ac"];
const ZP = 31.4; // AB magnitude of 1 nJy

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function api(method, url, body) {
  const opts = { method, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(url, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
  return { ok: res.ok, status: res.status, data };
}

function esc(text) {
  const d = document.createElement("div");
  d.textContent = text === null || text === undefined ? "" : String(text);
  return d.innerHTML;
}

// ---------------------------------------------------------------- charts
function niceTicks(lo, hi, n) {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

class Plot {
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.pad = { l: 70, r: 16, t: 14, b: 42 };
    Object.assign(this, opts);
  }
  setRange(x0, x1, y0, y1) {
    const padx = (x1 - x0) * 0.03 || 1, pady = (y1 - y0) * 0.08 || 0.5;
    this.x0 = x0 - padx; this.x1 = x1 + padx; this.y0 = y0 - pady; this.y1 = y1 + pady;
  }
  X(x) {
    const w = this.canvas.width - this.pad.l - this.pad.r;
    return this.pad.l + ((x - this.x0) / (this.x1 - this.x0)) * w;
  }
  Y(y) {
    const h = this.canvas.height - this.pad.t - this.pad.b;
    const f = (y - this.y0) / (this.y1 - this.y0);
    return this.invertY ? this.pad.t + f * h : this.pad.t + (1 - f) * h;
  }
  axes(xlabel, ylabel) {
    const c = this.ctx, W = this.canvas.width, H = this.canvas.height;
    c.fillStyle = "#ffffff"; c.fillRect(0, 0, W, H);
    c.strokeStyle = "#e4e4e4"; c.fillStyle = "#333"; c.font = "12px sans-serif"; c.lineWidth = 1;
    for (const t of niceTicks(this.x0, this.x1, 8)) {
      const x = this.X(t);
      c.beginPath(); c.moveTo(x, this.pad.t); c.lineTo(x, H - this.pad.b); c.stroke();
      c.textAlign = "center"; c.fillText(String(+t.toFixed(3)), x, H - this.pad.b + 16);
    }
    for (const t of niceTicks(Math.min(this.y0, this.y1), Math.max(this.y0, this.y1), 6)) {
      const y = this.Y(t);
      c.beginPath(); c.moveTo(this.pad.l, y); c.lineTo(W - this.pad.r, y); c.stroke();
      c.textAlign = "right"; c.fillText(String(+t.toPrecision(4)), this.pad.l - 6, y + 4);
    }
    c.strokeStyle = "#888";
    c.strokeRect(this.pad.l, this.pad.t, W - this.pad.l - this.pad.r, H - this.pad.t - this.pad.b);
    c.textAlign = "center"; c.fillText(xlabel, (W + this.pad.l) / 2, H - 6);
    c.save(); c.translate(14, (H - this.pad.b + this.pad.t) / 2); c.rotate(-Math.PI / 2);
    c.fillText(ylabel, 0, 0); c.restore();
  }
}

function magOf(flux) { return flux > 0 ? -2.5 * Math.log10(flux) + ZP : null; }
function fluxOf(mag) { return Math.pow(10, -0.4 * (mag - ZP)); }

function lightCurve(canvas, curve, legend) {
  const state = { mode: "mag", hidden: new Set() };
  const tip = document.createElement("div");
  tip.className = "tip"; tip.hidden = true;
  canvas.parentNode.insertBefore(tip, canvas.nextSibling);
  let drawn = [];

  function values(p) {
    if (state.mode === "mag") {
      if (p.kind === "upper_limit") return p.limit_mag != null ? { y: p.limit_mag, e: 0 } : null;
      const m = p.mag != null ? p.mag : (p.flux_njy != null ? magOf(Math.abs(p.flux_njy)) : null);
      return m == null ? null : { y: m, e: p.mag_err || 0 };
    }
    if (p.kind === "upper_limit") return p.limit_mag != null ? { y: fluxOf(p.limit_mag), e: 0 } : null;
    return p.flux_njy == null ? null : { y: p.flux_njy, e: p.flux_err_njy || 0 };
  }

  function draw() {
    const pts = curve.points.filter((p) => !state.hidden.has(p.band))
      .map((p) => ({ p, v: values(p) })).filter((d) => d.v && isFinite(d.v.y));
    const plot = new Plot(canvas, { invertY: state.mode === "mag" });
    const xs = curve.points.map((p) => p.mjd_tai);
    const ys = pts.flatMap((d) => [d.v.y - d.v.e, d.v.y + d.v.e]);
    if (!ys.length) ys.push(0, 1);
    plot.setRange(Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys));
    plot.axes("MJD (TAI)", state.mode === "mag" ? "AB magnitude" : "difference flux (nJy)");
    const c = plot.ctx;
    drawn = [];
    if (state.mode === "flux" && plot.y0 < 0 && plot.y1 > 0) {
      c.strokeStyle = "#999"; c.setLineDash([4, 4]); c.beginPath();
      c.moveTo(plot.pad.l, plot.Y(0)); c.lineTo(canvas.width - plot.pad.r, plot.Y(0)); c.stroke();
      c.setLineDash([]);
    }
    for (const { p, v } of pts) {
      const x = plot.X(p.mjd_tai), y = plot.Y(v.y), color = BAND_COLORS[p.band] || "#333";
      c.strokeStyle = color; c.fillStyle = color; c.lineWidth = 1.2;
      if (v.e) {
        c.beginPath(); c.moveTo(x, plot.Y(v.y - v.e)); c.lineTo(x, plot.Y(v.y + v.e)); c.stroke();
      }
      c.beginPath();
      if (p.kind === "upper_limit") {
        const d = state.mode === "mag" ? 1 : -1; // fainter is down on both scales
        c.moveTo(x - 5, y - 4 * d); c.lineTo(x + 5, y - 4 * d); c.lineTo(x, y + 5 * d);
        c.closePath(); c.globalAlpha = 0.45; c.fill(); c.globalAlpha = 1;
      } else {
        c.arc(x, y, p.alert_id ? 5 : 3.5, 0, 2 * Math.PI);
        if (p.kind === "forced") c.stroke(); else c.fill();
        if (p.alert_id) { c.strokeStyle = "#000"; c.stroke(); }
      }
      drawn.push({ x, y, p, v });
    }
  }

  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect();
    const mx = (ev.clientX - r.left) * (canvas.width / r.width);
    const my = (ev.clientY - r.top) * (canvas.height / r.height);
    let best = null, bd = 100;
    for (const d of drawn) {
      const dd = (d.x - mx) ** 2 + (d.y - my) ** 2;
      if (dd < bd) { bd = dd; best = d; }
    }
    if (!best) { tip.hidden = true; return; }
    const p = best.p;
    const val = state.mode === "mag" ? `${best.v.y.toFixed(3)} mag` : `${best.v.y.toFixed(1)} nJy`;
    tip.innerHTML = `<b>${esc(p.band)}</b> ${esc(p.kind.replace("_", " "))}<br>MJD ${p.mjd_tai.toFixed(5)}` +
      `<br>${val}${best.v.e ? " ± " + best.v.e.toPrecision(2) : ""}` +
      (p.alert_id ? `<br>alert ${esc(p.alert_id)}` : "");
    tip.style.left = `${canvas.offsetLeft + best.x * (r.width / canvas.width) + 12}px`;
    tip.style.top = `${canvas.offsetTop + best.y * (r.height / canvas.height) - 10}px`;
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  document.querySelectorAll("#lc-mode button").forEach((b) => b.addEventListener("click", () => {
    state.mode = b.dataset.mode;
    document.querySelectorAll("#lc-mode button").forEach((o) => o.classList.toggle("on", o === b));
    draw();
  }));
  if (legend) {
    for (const band of curve.bands) {
      const n = curve.points.filter((p) => p.band === band).length;
      const item = document.createElement("button");
      item.type = "button"; item.className = "band"; item.dataset.band = band;
      item.innerHTML = `<span style="background:${BAND_COLORS[band] || "#333"}"></span>${esc(band)} (${n})`;
      item.addEventListener("click", () => {
        if (state.hidden.has(band)) state.hidden.delete(band); else state.hidden.add(band);
        item.classList.toggle("off", state.hidden.has(band));
        draw();
      });
      legend.appendChild(item);
    }
  }
  draw();
}

function scoreChart(canvas, curve, legend) {
  const keys = curve.score_keys;
  const xs = curve.points.map((p) => p.mjd_tai).concat(curve.scores.map((s) => s.mjd_tai));
  const thresholds = Object.entries(curve.thresholds || {});
  const ys = curve.scores.map((s) => s.probability).concat(thresholds.map((t) => t[1]));
  const plot = new Plot(canvas, {});
  plot.setRange(Math.min(...xs), Math.max(...xs), Math.min(0, ...ys), Math.max(1, ...ys));
  plot.axes("MJD (TAI)", "score");
  const c = plot.ctx;
  for (const [name, value] of thresholds) {
    c.strokeStyle = "#777"; c.setLineDash([6, 4]); c.beginPath();
    c.moveTo(plot.pad.l, plot.Y(value)); c.lineTo(canvas.width - plot.pad.r, plot.Y(value));
    c.stroke(); c.setLineDash([]);
    c.fillStyle = "#555"; c.textAlign = "left";
    c.fillText(`${name} ${value.toPrecision(3)}`, plot.pad.l + 6, plot.Y(value) - 4);
  }
  keys.forEach((key, i) => {
    const color = SERIES[i % SERIES.length];
    const s = curve.scores.filter((q) => q.key === key);
    c.strokeStyle = color; c.fillStyle = color; c.lineWidth = 1.5;
    c.beginPath();
    s.forEach((q, j) => {
      const x = plot.X(q.mjd_tai), y = plot.Y(q.probability);
      if (j === 0) c.moveTo(x, y); else c.lineTo(x, y);
    });
    c.stroke();
    s.forEach((q) => { c.beginPath(); c.arc(plot.X(q.mjd_tai), plot.Y(q.probability), 3, 0, 2 * Math.PI); c.fill(); });
    if (legend) {
      const item = document.createElement("span");
      item.className = "band";
      const last = s.length ? s[s.length - 1].probability.toFixed(2) : "";
      item.innerHTML = `<span style="background:${color}"></span>${esc(key)} ${last}`;
      legend.appendChild(item);
    }
  });
}

// ---------------------------------------------------------------- editor
function editor(root) {
  const out = root.querySelector("#editor-result");
  const val = (id) => { const e = root.querySelector(id); return e ? e.value.trim() : ""; };
  const name = () => root.dataset.name || val("#f-name");
  const show = (html, cls) => { out.className = "result " + (cls || ""); out.innerHTML = html; };
  const fail = (r) => show(`<b>${r.status}</b> ${esc(r.data.error || JSON.stringify(r.data))}`, "error");

  root.querySelector("#validate").addEventListener("click", async () => {
    show("Validating with Spark…");
    const r = await api("POST", "/api/v1/filters/validate", { name: name() || "draft", expression: val("#f-expression") });
    if (!r.ok) return fail(r);
    show(`Valid. It reads the columns <code>${r.data.inputs.map(esc).join(", ")}</code>.`, "ok");
  });
  root.querySelector("#backtest").addEventListener("click", async () => {
    const source = root.querySelector('input[name="bt-source"]:checked').value;
    show("Backtesting…");
    const body = { name: name() || "draft", expression: val("#f-expression"), source,
      alerts: parseInt(val("#bt-alerts"), 10) || 1000 };
    if (source === "night") { body.night = val("#bt-night"); body.alerts = 5000; }
    const r = await api("POST", "/api/v1/filters/backtest", body);
    if (!r.ok) return fail(r);
    const d = r.data;
    const rate = d.pass_rate == null ? "" : ` (${(100 * d.pass_rate).toFixed(2)} %)`;
    const sample = d.sample.map((s) => `<li><a href="${esc(s.url)}">${esc(s.object_id)}</a> ${esc(s.survey)} MJD ${(+s.mjd_tai).toFixed(4)} ${esc(s.band)} ${s.mag == null ? "" : (+s.mag).toFixed(2)}</li>`).join("");
    show(`<p id="bt-summary"><b>${d.passed}</b> of ${d.alerts} alerts passed${rate}, ${d.objects} objects; ` +
      `evaluated at ${d.alerts_per_s} alerts/s (${d.seconds} s) on ${d.source === "night" ? "night " + esc(d.night) : "the last stored alerts"}.</p>` +
      (d.error ? `<p class="error">${esc(d.error)}</p>` : "") +
      (sample ? `<p>Sample of passing objects:</p><ul id="bt-sample">${sample}</ul>` : ""), d.error ? "error" : "ok");
  });
  root.querySelector("#submit").addEventListener("click", async () => {
    show("Registering…");
    let r;
    if (root.dataset.mode === "new") {
      r = await api("POST", "/api/v1/filters", { name: name(), expression: val("#f-expression"),
        description: val("#f-description"), profile: val("#f-profile") });
    } else {
      r = await api("PATCH", `/api/v1/filters/${encodeURIComponent(name())}`, {
        expression: val("#f-expression"), description: val("#f-description") || null,
        profile: val("#f-profile"), note: val("#f-note") });
    }
    if (!r.ok) return fail(r);
    show(`Registered <a id="registered" href="/filters/${esc(r.data.name)}">${esc(r.data.name)}</a> version ${r.data.version}: ` +
      `the stream applies it within two micro-batches; its alerts go to <code>${esc(r.data.topic)}</code>.`, "ok");
  });
}

// ---------------------------------------------------------------- live list
function live(root) {
  const name = root.dataset.name;
  let since = parseInt(root.dataset.since, 10) || 0;
  const body = root.querySelector("tbody");
  const count = document.getElementById("live-count");
  async function poll() {
    const r = await api("GET", `/api/v1/filters/${encodeURIComponent(name)}/alerts?since_ms=${since}&limit=200`);
    const status = document.getElementById("live-status");
    if (!r.ok) { status.textContent = `error ${r.status}: ${r.data.error}`; return; }
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    const rows = r.data.items;
    if (rows.length) {
      const empty = body.querySelector(".empty");
      if (empty) empty.parentNode.remove();
      for (const a of rows.slice().reverse()) {
        since = Math.max(since, a.published_ms || 0);
        const tr = document.createElement("tr");
        tr.className = "new";
        tr.innerHTML = `<td><a class="object" href="/objects/${encodeURIComponent(a.object_id)}">${esc(a.object_id)}</a></td>` +
          `<td>${esc(a.survey)}</td><td>${a.mjd_tai.toFixed(5)}</td><td>${esc(a.band)}</td>` +
          `<td>${a.mag == null ? "" : a.mag.toFixed(2)}</td><td>${a.flux_njy == null ? "" : a.flux_njy.toFixed(0)}</td>` +
          `<td>${a.ra.toFixed(5)}</td><td>${a.dec >= 0 ? "+" : ""}${a.dec.toFixed(5)}</td><td>${esc(a.context || "")}</td>`;
        body.insertBefore(tr, body.firstChild);
      }
      count.textContent = body.querySelectorAll("tr").length;
    }
  }
  setInterval(poll, (parseFloat(root.dataset.refresh) || 3) * 1000);
  poll();
}

// ---------------------------------------------------------------- wiring
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("object-data");
  if (data) {
    const curve = JSON.parse(data.textContent);
    const lc = document.getElementById("lightcurve");
    if (lc) lightCurve(lc, curve, document.getElementById("lc-legend"));
    const sc = document.getElementById("scores");
    if (sc) scoreChart(sc, curve, document.getElementById("score-legend"));
  }
  document.querySelectorAll(".show-cutouts").forEach((a) => a.addEventListener("click", () => {
    for (const kind of ["science", "template", "difference"]) {
      document.getElementById(`cutout-${kind}`).src = a.dataset[kind];
    }
    document.getElementById("cutout-alert").textContent = a.dataset.label;
  }));
  const ed = document.getElementById("editor");
  if (ed) editor(ed);
  const lv = document.getElementById("live");
  if (lv) live(lv);
  document.querySelectorAll(".ms").forEach((e) => {
    const v = parseInt(e.textContent, 10);
    if (v) e.textContent = new Date(v).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  });
});
