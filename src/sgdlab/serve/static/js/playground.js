// The descent playground: every number comes from the server (sgdlab.surface: the same compiled
// f, optimizers, verdicts and bounds as `sgdlab surface`); this file only draws and listens.
//
// Live by construction: the filled contour is drawn once per surface and view box (by Plotly; its
// JSON is kept in localStorage), and a drag or a Play frame repaints only the paths, on a canvas
// laid over the plot area (Plotly.animate of scatter traces took 34 ms a frame on the loaded
// 2-core machine; the canvas takes about 1 ms). At most one descent request is in flight; while it runs,
// newer states replace each other and only the latest is sent next.
"use strict";

const $ = (id) => document.getElementById(id);
const PRESETS = {  // the checkboxes: a label -> the optimizer spec sent to the API
  sgd: () => ({ name: "sgd" }),
  momentum: (m) => ({ name: "sgd", momentum: m }),
  nesterov: (m) => ({ name: "sgd", momentum: m, nesterov: true }),
  adagrad: () => ({ name: "adagrad" }),
  rmsprop: () => ({ name: "rmsprop" }),
  adam: () => ({ name: "adam" }),
  adamw: () => ({ name: "adamw" }),
};
const CUSTOM = "custom";
const MAX_BOX = 1e6;  // the contour API's own limit on the view box
const FAST = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };
const state = { s: "bowl", f: "", a: 1, b: 10, lr: null, steps: null, opt: ["sgd"], m: 0.9,
  noise: 0, seed: 0, x: null, y: null, olr: {}, box: null };
let contour = null;       // the /api/contour answer for the current surface and view
let result = null;        // the last descent: the API's document, trajectories in state.opt order
let drawn = null;         // what the contour plot holds: { paths: n, start: index of the start trace }
let step = null;          // the step shown (null: whole trajectories)
let playing = false;
let lrRange = [-4, 1];    // log10 of the slider's ends
let langInBody = false;
let dragging = false;     // a pointer is moving the start
let restTimer = null, restAt = 0, urlTimer = null;   // the descent API takes `lang` in its body (else it goes in the query)

// -- talking to the server ---------------------------------------------------------------------
function surfaceBody() {
  const custom = state.s === CUSTOM;
  return { surface: custom ? null : state.s, f: custom ? state.f : null, curvature: [state.a, state.b] };
}

function groups() {  // optimizers sharing an lr go in one request
  const byLr = new Map();
  state.opt.forEach((name) => {
    const lr = state.olr[name] || state.lr;
    if (!byLr.has(lr)) byLr.set(lr, []);
    byLr.get(lr).push(name);
  });
  return [...byLr.entries()];
}

function descentBody(lr, names) {
  const body = Object.assign(surfaceBody(), { start: [state.x, state.y], lr, steps: state.steps,
    noise: state.noise, seed: state.seed, optimizers: names.map((name) => PRESETS[name](state.m)) });
  if (langInBody) body.lang = sg.lang;
  return body;
}

// the page's language, always named: the API would otherwise follow the browser's Accept-Language,
// which may differ from a language chosen with ?lang=
const apiPath = (path) => (langInBody ? path : `${path}?lang=${sg.lang}`);

async function contourFor(body) {  // the same surface and view: the stored answer
  const version = document.body.dataset.version || "";
  const key = "sgdlab-contour:" + version + ":" + JSON.stringify(body);
  try { const kept = localStorage.getItem(key); if (kept) return JSON.parse(kept); } catch (e) { /* none */ }
  const doc = await sg.api("/api/contour", body);
  try {
    const keys = Object.keys(localStorage).filter((k) => k.startsWith("sgdlab-contour:"));
    if (keys.length >= 8) keys.slice(0, keys.length - 7).forEach((k) => localStorage.removeItem(k));
    localStorage.setItem(key, JSON.stringify(doc));
  } catch (e) { /* storage full or refused: fetch next time */ }
  return doc;
}

function clearAll() {  // nothing on screen may describe a surface that is not there
  contour = null; result = null; drawn = null; step = null; playing = false; painted = [];
  clearTimeout(restTimer);
  for (const id of ["contour", "fplot"]) Plotly.purge($(id));
  const canvas = $("paths");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  $("verdicts").replaceChildren();
  $("theory").replaceChildren();
  $("off-view").textContent = "";
  $("bound-mark").hidden = true;
  $("bound-text").textContent = "";
  $("step-text").textContent = "";
  $("contour").setAttribute("aria-label", sg.t("no surface drawn"));
}

async function loadSurface(keep) {
  const input = $("f");
  if (state.s === CUSTOM && !state.f.trim()) {
    clearAll();
    sg.showError($("f-error"), sg.t("type f(x, y) to draw it"));
    return;
  }
  try {
    contour = await contourFor(Object.assign(surfaceBody(), { n: 101, box: state.box }));
  } catch (error) {
    clearAll();
    sg.showError(state.s === CUSTOM ? $("f-error") : $("error"), error);
    input.classList.toggle("bad", state.s === CUSTOM);
    input.setAttribute("aria-invalid", String(state.s === CUSTOM));
    return;
  }
  sg.showError($("f-error"), null);
  sg.showError($("error"), null);
  input.classList.remove("bad");
  input.removeAttribute("aria-invalid");
  if (!keep || state.x === null) [state.x, state.y] = contour.start;
  if (!keep || state.lr === null) state.lr = contour.lr;
  if (!keep || state.steps === null) state.steps = contour.steps;
  const center = Math.log10(contour.lr);
  lrRange = [Math.min(center - 3, Math.log10(state.lr)), Math.max(center + 1.5, Math.log10(state.lr))];
  drawn = null;  // a new contour: the next draw is a whole one
  syncControls();
  await descent();
}

let inflight = false, pending = false;
async function descent() {  // one request at a time; the latest state wins
  if (!contour) return;
  if (inflight) { pending = true; return; }
  inflight = true;
  // Chrome throttles (and complains about) more than a few address changes a second: during a
  // drag the address follows every 300 ms, and at the end
  if (!dragging) saveUrl();
  else if (!urlTimer) urlTimer = setTimeout(() => { urlTimer = null; saveUrl(); }, 300);
  try {
    const asked = groups();
    const docs = await Promise.all(asked.map(([lr, names]) => sg.api(apiPath("/api/descent"), descentBody(lr, names))));
    const byName = {};
    asked.forEach(([, names], g) => names.forEach((name, i) => { byName[name] = docs[g].trajectories[i]; }));
    result = Object.assign({}, docs[0], { trajectories: state.opt.map((name) => byName[name]) });
    sg.showError($("error"), null);
    if (!playing) step = null;
    draw(true);
  } catch (error) {
    sg.showError($("error"), error);
  } finally {
    inflight = false;
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
    if (pending) { pending = false; descent(); }
  }
}

// -- drawing -----------------------------------------------------------------------------------
function label(t, i) {
  const name = state.opt[i];
  const lr = t.lr !== undefined ? t.lr : state.lr;
  return `${name}${t.optimizer.momentum ? " β=" + t.optimizer.momentum : ""} lr=${sg.fmt(lr, 3)}`;
}

function lastStep() { return Math.max(...result.trajectories.map((t) => t.path.length - 1)); }

function view() {  // the box shown: the API's box (ours, or the surface's own)
  return contour.box;
}

function drawWhole(k) {  // the contour and the legend: on a new surface, view or optimizer set
  const box = view(), n = result.trajectories.length;
  const div = $("contour");
  const width = div.clientWidth || 600;  // 1:1 axes: the plot's height follows the box's shape
  const height = Math.max(260, Math.min(620, (width - 60) * (box[3] - box[2]) / (box[1] - box[0]) + 50));
  div.style.height = `${Math.round(height)}px`;
  const traces = [{
    type: "contour", x: contour.x, y: contour.y, z: contour.z_shown, ncontours: 28, colorscale: "YlGnBu",
    reversescale: true, contours: { coloring: "heatmap" }, line: { width: 0.5, color: "rgba(0,0,0,0.25)" },
    colorbar: { title: { text: sg.plotText(sg.t(contour.shown_as)), side: "right" }, thickness: 12 },
    hoverinfo: "skip", showlegend: false,
  }];
  // the paths themselves are painted on the canvas above the plot (paint): here only their legend
  result.trajectories.forEach((t, i) => traces.push({ type: "scatter", mode: "lines", x: [null], y: [null],
    name: sg.plotText(label(t, i)), hoverinfo: "skip", line: { color: sg.COLORS[i % 10], width: 2 } }));
  const marks = (points, symbol, name) => ({ type: "scatter", mode: "markers", name,
    x: points.map((p) => p[0]), y: points.map((p) => p[1]), hoverinfo: "skip", marker: { symbol, size: 11, color: "#333" } });
  if (contour.minima.length) traces.push(marks(contour.minima, "star", sg.t("minimum")));
  if (contour.saddle) traces.push(marks([contour.saddle], "x", sg.t("saddle")));
  drawn = { paths: n, box: box.join(), ready: false };
  const mine = drawn;
  return sg.plot("contour", traces, { dragmode: false, hovermode: false, margin: { l: 50, r: 10, t: 10, b: 40 },
    // (on a phone the legend takes the place of the x title, and the tool bar that of the scale)
    xaxis: { range: [box[0], box[1]], title: { text: width < 600 ? "" : "x" }, fixedrange: true, constrain: "domain" },
    yaxis: { range: [box[2], box[3]], title: { text: "y" }, fixedrange: true, scaleanchor: "x", scaleratio: 1,
      constrain: "domain" },
    legend: { orientation: "h", y: -58 / Math.max(100, height - 50) } }, { displayModeBar: width >= 600 }).then(() => { mine.ready = true; paint(step === null ? lastStep() : step); });
}

// What the canvas shows now (x, y of each path up to the step shown): read by the browser tests
// and benchmarks/serve_live.py.
let painted = [];

function paint(k) {  // paths, heads and the start ring on the canvas: a millisecond, not a replot
  const canvas = $("paths"), gd = $("contour"), area = gd.querySelector(".nsewdrag");
  if (!area || !gd._fullLayout || !drawn || !drawn.ready) return;
  const r = area.getBoundingClientRect(), w = $("contour-wrap").getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(r.width * dpr) || canvas.height !== Math.round(r.height * dpr)) {
    [canvas.width, canvas.height] = [Math.round(r.width * dpr), Math.round(r.height * dpr)];
    [canvas.style.width, canvas.style.height] = [`${r.width}px`, `${r.height}px`];
  }
  [canvas.style.left, canvas.style.top] = [`${r.left - w.left}px`, `${r.top - w.top}px`];
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, r.width, r.height);
  const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
  const LIMIT = 1e5;  // pixels: a diverged path is drawn towards where it went, not to 1e30
  const px = (x) => Math.max(-LIMIT, Math.min(LIMIT, ((x - xr[0]) / (xr[1] - xr[0])) * r.width));
  const py = (y) => Math.max(-LIMIT, Math.min(LIMIT, ((yr[1] - y) / (yr[1] - yr[0])) * r.height));
  const drawnNow = [];
  (result ? result.trajectories : []).forEach((t, i) => {
    const color = sg.COLORS[i % 10], xs = [], ys = [], last = Math.min(k, t.path.length - 1);
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2;
    ctx.beginPath();
    let pen = false, head = null;
    for (let j = 0; j <= last; j++) {
      const x = sg.num(t.path[j][0]), y = sg.num(t.path[j][1]);
      xs.push(x); ys.push(y);
      if (x === null || y === null) { pen = false; continue; }
      head = [px(x), py(y)];
      if (pen) ctx.lineTo(head[0], head[1]); else ctx.moveTo(head[0], head[1]);
      pen = true;
    }
    ctx.stroke();
    for (let j = 0; j <= last; j++) {
      if (xs[j] !== null && ys[j] !== null) ctx.fillRect(px(xs[j]) - 1.5, py(ys[j]) - 1.5, 3, 3);
    }
    if (head) { ctx.beginPath(); ctx.arc(head[0], head[1], 4.5, 0, 2 * Math.PI); ctx.fill(); }
    drawnNow.push({ x: xs, y: ys });
  });
  ctx.strokeStyle = "#000"; ctx.lineWidth = 2.5;
  ctx.beginPath(); ctx.arc(px(state.x), py(state.y), 7, 0, 2 * Math.PI); ctx.stroke();
  painted = drawnNow;
}

function draw(fresh) {
  if (!result || !contour) return;
  const last = lastStep(), k = step === null ? last : Math.min(step, last);
  const whole = !drawn || drawn.paths !== result.trajectories.length || drawn.box !== view().join();
  if (whole) drawWhole(k); else paint(k);
  $("step").max = String(last);
  $("step").value = String(k);
  $("step").setAttribute("aria-valuetext", sg.t("step {0} of {1}", k, last));
  $("step-text").textContent = `${k} / ${last}`;
  moveStepMark(k);
  if (!fresh) return;
  // the rest (the f plot, the table, the theory: tens of ms) waits until the paths are painted,
  // and while a drag goes on it is redrawn at most every 150 ms, so it never delays a path
  clearTimeout(restTimer);
  const rest = () => {
    if (!result) return;  // the surface was cleared in the meantime
    restAt = performance.now(); drawF(k); drawVerdicts(); drawTheory(); describe(); markOffView();
  };
  const wait = dragging ? Math.max(0, 150 - (performance.now() - restAt)) : 0;
  restTimer = setTimeout(() => requestAnimationFrame(rest), wait);
}

let logTouched = false;  // until the user picks, f is on a log scale when it stays positive

function drawF(k) {
  if (!logTouched) {
    $("flog").checked = result.trajectories.every((t) => t.f.every((v) => typeof v === "number" && v > 0));
  }
  const traces = result.trajectories.map((t, i) => ({ type: "scatter", mode: "lines",
    x: t.f.map((_, j) => j), y: sg.nums(t.f), name: sg.plotText(label(t, i)), line: { color: sg.COLORS[i % 10] } }));
  traces.push({ type: "scatter", mode: "lines", x: [k, k], y: [0, 1], yaxis: "y2", showlegend: false,
    hoverinfo: "skip", line: { color: "#777", dash: "dot" } });
  sg.plot("fplot", traces, { xaxis: { title: { text: sg.t("step") } },
    yaxis: { title: { text: "f(x, y)" }, type: $("flog").checked ? "log" : "linear" },
    yaxis2: { overlaying: "y", range: [0, 1], visible: false, fixedrange: true } });
  $("fplot").setAttribute("aria-label", sg.t("f(x, y) against step for {0}", state.opt.join(", ")));
}

function moveStepMark(k) {  // the dotted line on the f plot, moved without a redraw
  const div = $("fplot");
  if (!div.data || !result || div.data.length !== result.trajectories.length + 1) return;
  Plotly.animate(div, { data: [{ x: [k, k] }], traces: [result.trajectories.length] }, FAST);
}

// the bound each run's lr is measured against: the API's own per-run bound when it gives one;
// else plain gradient descent's 2/λmax turned into the momentum rules' bounds on a quadratic
function bound(t) {
  if ("lr_bound_rule" in t) return { value: t.lr_bound, rule: t.lr_bound_text ?? t.lr_bound_rule, ratio: t.lr_over_bound };
  const gd = result.lr_bound, o = t.optimizer, lr = t.lr !== undefined ? t.lr : state.lr;
  if (gd === null) return { value: null, rule: sg.t("none: no positive curvature at the start"), ratio: null };
  let value = null, rule;
  if (o.name === "sgd" && !o.momentum) { value = gd; rule = "gd: 2/λmax"; }
  else if (o.name === "sgd" && o.nesterov) { value = gd * (1 + o.momentum) / (1 + 2 * o.momentum); rule = "nesterov: 2(1+β)/((1+2β)λmax)"; }
  else if (o.name === "sgd") { value = gd * (1 + o.momentum); rule = "heavy-ball: 2(1+β)/λmax"; }
  else rule = sg.t("none: an adaptive method divides each step by its own running scale, so no fixed lr bound applies");
  return { value, rule, ratio: value === null ? null : lr / value };
}

// words for a reader in the page's language, when the API gives them beside its English values
// (issue-20-theory's playground: verdict_text, why_text, lr_bound_text, theory_text; the English
// `verdict`, `reason` and `lr_bound_rule` of --json never change); else the page's own catalog
const verdictWords = (t) => t.verdict_text ?? sg.t(t.verdict);
const theoryWords = (key, english) => (result.theory_text && result.theory_text[key]) ?? sg.t(english);

let announced = "";
function drawVerdicts() {
  const rows = result.trajectories.map((t, i) => Object.assign({ i, name: state.opt[i], b: bound(t) }, t));
  const at = (t) => t.verdict === "escaped saddle" ? t.escape_step : t.diverged_step;
  $("verdicts").replaceChildren(sg.table([
    [sg.t("optimizer"), (t) => [sg.el("span", { class: "dot", style: `background:${sg.COLORS[t.i % 10]}` }), t.name]],
    [sg.t("verdict"), (t) => sg.el("span", { class: "verdict v-" + t.verdict.replace(/ /g, "-"), text: verdictWords(t) })],
    ["lr", (t) => sg.fmt(t.lr !== undefined ? t.lr : state.lr, 4), "num"],
    [sg.t("at step"), (t) => sg.fmt(at(t)), "num"],
    [sg.t("final f"), (t) => sg.fmt(t.final.f), "num"],
    ["|∇f|", (t) => sg.fmt(t.final.grad_norm), "num"],
    [sg.t("lr / bound"), (t) => t.b.ratio === null ? "-" : sg.fmt(t.b.ratio, 3), "num"],
    [sg.t("bound"), (t) => sg.el("span", { class: "muted", text: (t.b.value === null ? "" : sg.fmt(t.b.value, 3) + ", ") + t.b.rule }), "wide"],
    [sg.t("why"), (t) => sg.el("span", { class: "muted", text: t.why_text ?? t.reason }), "wide"],
  ], rows, (t) => ({ "data-optimizer": t.name })));
  const words = rows.map((t) => `${t.name}: ${verdictWords(t)}`).join("; ");
  if (words !== announced) { announced = words; $("announce").textContent = words; }
}

function drawTheory() {
  const h = result.hessian_start, lines = [];
  const vec = (v) => "(" + v.map((x) => sg.fmt(x)).join(", ") + ")";
  lines.push(`f(start) = ${sg.fmt(result.start_point.f)}, ∇f = ${vec(result.start_point.gradient)}`);
  lines.push(sg.t("Hessian eigenvalues: {0}: {1}", h.eigenvalues.map((x) => sg.fmt(x)).join(", "), theoryWords("curvature", h.curvature)));
  lines.push(result.lr_bound === null ? sg.t("no stable-step bound: {0}", theoryWords("lr_bound_kind", result.lr_bound_kind)) :
    `2/λmax = ${sg.fmt(result.lr_bound)}, ${theoryWords("lr_bound_kind", result.lr_bound_kind)}`);
  lines.push(sg.t("The bound 2/λmax is plain gradient descent's; momentum moves it (heavy-ball 2(1+β)/λmax) and adaptive methods have none: see each run's own bound in the table."));
  if (result.critical_point) lines.push(sg.t("at {0}: {1}", vec(result.critical_point.point), theoryWords("critical_kind", result.critical_point.kind)));
  const nc = result.noise_check;
  if (nc) lines.push(sg.t("E[J] = ∇f? mean of {0} noisy gradients {1} vs ∇f {2}: {3} the 95% interval", nc.samples,
    vec(nc.mean), vec(nc.true_gradient), sg.t(nc.agrees ? "inside" : "outside")));
  $("theory").replaceChildren(...lines.map((text) => sg.el("div", { text })));
  const mark = $("bound-mark"), sgdRun = result.trajectories.find((t) => t.optimizer.name === "sgd" && !t.optimizer.momentum);
  const shown = sgdRun ? bound(sgdRun).value : result.lr_bound;
  mark.hidden = shown === null || shown === undefined;
  if (!mark.hidden) {
    const where = (Math.log10(shown) - lrRange[0]) / (lrRange[1] - lrRange[0]);
    mark.style.left = `${Math.min(100, Math.max(0, 100 * where))}%`;
    $("bound-label").textContent = `2/λmax = ${sg.fmt(shown, 3)}`;
  }
  $("bound-text").textContent = result.lr_bound === null ? sg.t("no 2/λmax: no positive curvature at the start") : "";
}

function describe() {  // the contour's words for those who cannot see it
  const names = result.trajectories.map((t, i) => `${state.opt[i]} ${verdictWords(t)}`).join(", ");
  $("contour").setAttribute("aria-label", sg.t("Contour of {0} with the paths of {1}, from the start ({2}, {3}). Arrow keys move the start.",
    state.s === CUSTOM ? state.f : state.s, names, sg.fmt(state.x), sg.fmt(state.y)));
}

function markOffView() {  // a path that leaves the box is said so, with a way to follow it
  const b = view(), out = [];
  result.trajectories.forEach((t, i) => {
    const k = t.path.findIndex((p) => !(sg.num(p[0]) !== null && sg.num(p[1]) !== null &&
      p[0] >= b[0] && p[0] <= b[1] && p[1] >= b[2] && p[1] <= b[3]));
    if (k >= 0) out.push(sg.t("{0} leaves the view at step {1}", state.opt[i], k));
  });
  $("off-view").textContent = out.length ? out.join("; ") + ". " + sg.t("Fit the paths to follow them.") : "";
}

// -- controls and the address bar ---------------------------------------------------------------
function showLr() {
  const slider = $("lr");
  slider.value = String(Math.log10(state.lr));
  slider.setAttribute("aria-valuetext", sg.t("learning rate {0}", sg.fmt(state.lr, 4)));
  $("lr-input").value = String(state.lr);
}

function showStart() {
  $("sx").value = String(state.x);
  $("sy").value = String(state.y);
}

function syncControls() {
  $("surface").value = state.s;
  $("custom").hidden = state.s !== CUSTOM;
  $("bowl-curvature").hidden = state.s !== "bowl";
  $("f").value = state.f;
  [$("ca").value, $("cb").value] = [state.a, state.b];
  [$("lr").min, $("lr").max] = lrRange.map(String);
  if (state.lr !== null) showLr();
  $("steps").value = state.steps;
  $("momentum").value = state.m;
  $("noise").value = state.noise;
  $("seed").value = state.seed;
  for (const box of document.querySelectorAll("#optimizers input[type=checkbox]")) box.checked = state.opt.includes(box.value);
  for (const name of Object.keys(PRESETS)) $("lr-" + name).value = state.olr[name] || "";
  if (state.x !== null) showStart();
  const b = contour ? contour.box : state.box;
  if (b) ["x0", "x1", "y0", "y1"].forEach((id, i) => { $(id).value = String(b[i]); });
}

function saveUrl() {
  const p = new URLSearchParams({ s: state.s });
  if (state.s === CUSTOM) p.set("f", state.f);
  if (state.s === "bowl") { p.set("a", state.a); p.set("b", state.b); }
  for (const key of ["lr", "steps", "x", "y", "m", "noise", "seed"]) p.set(key, state[key]);
  p.set("opt", state.opt.join(","));
  const olr = Object.entries(state.olr).filter(([, v]) => v).map(([k, v]) => `${k}:${v}`).join(",");
  if (olr) p.set("olr", olr);
  if (state.box) p.set("box", state.box.join(","));
  sg.saveQuery(p);
}

function readUrl() {
  const q = sg.query();
  const number = (key) => (q.has(key) && q.get(key) !== "" && isFinite(Number(q.get(key))) ? Number(q.get(key)) : null);
  if (q.has("s")) state.s = q.get("s");
  if (q.has("f")) state.f = q.get("f");
  for (const key of ["a", "b", "m", "noise", "seed"]) if (number(key) !== null) state[key] = number(key);
  for (const key of ["lr", "steps", "x", "y"]) state[key] = number(key);
  if (q.has("opt")) state.opt = q.get("opt").split(",").filter((name) => name in PRESETS);
  for (const pair of (q.get("olr") || "").split(",")) {
    const [name, value] = pair.split(":");
    if (name in PRESETS && Number(value) > 0) state.olr[name] = Number(value);
  }
  const box = (q.get("box") || "").split(",").map(Number);
  if (box.length === 4 && box.every(isFinite) && box[0] < box[1] && box[2] < box[3]) state.box = box;
}

const round = (z) => Number(z.toPrecision(4));

function startFromPointer(event) {  // pixel -> (x, y) from the plot area and the axes' ranges
  const gd = $("contour"), area = gd.querySelector(".nsewdrag");
  if (!area || !contour || !gd._fullLayout) return null;
  const r = area.getBoundingClientRect(), xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
  const u = (event.clientX - r.left) / r.width, v = (event.clientY - r.top) / r.height;
  if (u < 0 || u > 1 || v < 0 || v > 1) return null;
  return [round(xr[0] + u * (xr[1] - xr[0])), round(yr[1] - v * (yr[1] - yr[0]))];
}

function setStart(point) {
  [state.x, state.y] = point;
  showStart();
  if (result) paint(step === null ? lastStep() : step);  // the start ring follows at once; the paths when they come
  descent();
}

function moveStart(event) {
  const point = startFromPointer(event);
  if (!point) return;
  event.preventDefault();
  setStart(point);
}

function keyStart(event) {  // arrow keys: 1/50 of the view per press, 1/10 with Shift
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  if (!(event.key in moves) || !contour) return;
  event.preventDefault();
  const b = view(), scale = event.shiftKey ? 0.1 : 0.02, [dx, dy] = moves[event.key];
  setStart([round(state.x + dx * scale * (b[1] - b[0])), round(state.y + dy * scale * (b[3] - b[2]))]);
}

function setBox(box) {  // a new view box: a new contour (its own grid), the same descent
  const clamp = (v) => Math.max(-MAX_BOX, Math.min(MAX_BOX, v));
  box = box.map((v) => Number(clamp(v).toPrecision(6)));
  if (!(box[0] < box[1] && box[2] < box[3])) return;
  state.box = box;
  loadSurface(true);
}

function zoom(factor) {
  const b = view(), cx = (b[0] + b[1]) / 2, cy = (b[2] + b[3]) / 2;
  const hx = (b[1] - b[0]) * factor / 2, hy = (b[3] - b[2]) * factor / 2;
  setBox([cx - hx, cx + hx, cy - hy, cy + hy]);
}

function fit() {  // the smallest box (with a margin) that holds every finite point of every path
  if (!result) return;
  const points = result.trajectories.flatMap((t) => t.path).filter((p) => sg.num(p[0]) !== null && sg.num(p[1]) !== null)
    .filter((p) => Math.abs(p[0]) <= MAX_BOX && Math.abs(p[1]) <= MAX_BOX);
  if (!points.length) return;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 0.1 * Math.max(x1 - x0, y1 - y0, 1e-3);
  setBox([x0 - pad, x1 + pad, y0 - pad, y1 + pad]);
}

function play() {
  if (playing) { playing = false; $("play").textContent = sg.t("▶ Play"); return; }
  if (!result) return;
  const last = lastStep();
  if (step === null || step >= last) step = 0;
  playing = true;
  $("play").textContent = sg.t("❚❚ Pause");
  // by the clock, not by frames: the whole descent takes about 4 s however fast frames come;
  // every frame redraws only the paths, from the trajectories already fetched
  const began = performance.now() - (4000 * step) / Math.max(1, last);
  const frame = () => {
    if (!playing) return;
    step = Math.min(last, Math.max(step, Math.round((last * (performance.now() - began)) / 4000)));
    draw(false);
    if (step >= last) { playing = false; $("play").textContent = sg.t("▶ Play"); draw(true); return; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function optimizerRow(name) {
  return sg.el("div", { class: "opt-row" },
    sg.el("label", { class: "check" }, sg.el("input", { type: "checkbox", value: name }), name),
    sg.el("input", { type: "number", id: "lr-" + name, step: "any", min: "0", inputmode: "decimal",
      placeholder: sg.t("shared lr"), "aria-label": sg.t("learning rate for {0} (empty: the shared one)", name) }));
}

async function init() {
  const info = await sg.api("/api/surfaces");
  const select = $("surface");
  for (const s of info.surfaces) select.append(sg.el("option", { value: s.name, text: `${s.name}: ${s.formula}` }));
  select.append(sg.el("option", { value: CUSTOM, text: sg.t("your own f(x, y)") }));
  $("grammar").textContent = sg.t("numbers, x, y, {0}, + - * / ** ^ and {1}", info.expression.constants.join(", "),
    info.expression.functions.join(" "));
  for (const name of Object.keys(PRESETS)) $("optimizers").append(optimizerRow(name));
  if (sg.lang !== "en") {  // verdict reasons in the page's language, where the API can give them
    try {
      const schema = await sg.api("/openapi.json");
      langInBody = "lang" in ((schema.components.schemas.DescentIn || {}).properties || {});
    } catch (e) { langInBody = false; }
  }
  readUrl();
  const number = (id, key, after) => $(id).addEventListener("change", () => {
    const v = Number($(id).value);
    if ($(id).value !== "" && isFinite(v)) { state[key] = v; (after || descent)(); }
  });
  select.addEventListener("change", () => {
    state.s = select.value;  // start, lr, steps and view become the new surface's own once it loads
    state.box = null;
    syncControls();
    loadSurface(state.s === CUSTOM && state.x !== null);
  });
  let typing = null;
  $("f").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.f = $("f").value; state.box = null; loadSurface(state.x !== null); }, 300);
  });
  number("ca", "a", () => loadSurface(true));
  number("cb", "b", () => loadSurface(true));
  number("steps", "steps"); number("momentum", "m"); number("noise", "noise"); number("seed", "seed");
  $("lr").addEventListener("input", () => {
    state.lr = round(Math.pow(10, Number($("lr").value)));
    $("lr-input").value = String(state.lr);
    $("lr").setAttribute("aria-valuetext", sg.t("learning rate {0}", sg.fmt(state.lr, 4)));
    descent();
  });
  $("lr-input").addEventListener("change", () => {  // a typed lr is taken exactly as typed
    const v = Number($("lr-input").value);
    if (!(v > 0 && isFinite(v))) return;
    state.lr = v;
    lrRange = [Math.min(lrRange[0], Math.log10(v)), Math.max(lrRange[1], Math.log10(v))];
    [$("lr").min, $("lr").max] = lrRange.map(String);
    showLr();
    descent();
  });
  for (const [id, i] of [["sx", 0], ["sy", 1]]) $(id).addEventListener("change", () => {
    const v = Number($(id).value);
    if ($(id).value === "" || !isFinite(v)) return;
    const point = [state.x, state.y];
    point[i] = v;
    setStart(point);
  });
  for (const id of ["x0", "x1", "y0", "y1"]) $(id).addEventListener("change", () => {
    const box = ["x0", "x1", "y0", "y1"].map((k) => Number($(k).value));
    if (box.every(isFinite)) setBox(box);
  });
  $("optimizers").addEventListener("change", (event) => {
    if (event.target.type === "number") {
      const name = event.target.id.slice(3), v = Number(event.target.value);
      if (event.target.value === "") delete state.olr[name];
      else if (v > 0 && isFinite(v)) state.olr[name] = v;
      else return;
    }
    const picked = [...document.querySelectorAll("#optimizers input[type=checkbox]:checked")].map((b) => b.value);
    if (!picked.length) { syncControls(); return; }  // at least one optimizer stays
    state.opt = picked;
    descent();
  });
  const plotDiv = $("contour");
  plotDiv.addEventListener("pointerdown", (e) => {
    if (!startFromPointer(e)) return;
    dragging = true;
    try { plotDiv.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic event */ }
    moveStart(e);
  }, true);
  window.addEventListener("pointermove", (e) => { if (dragging) moveStart(e); }, true);
  for (const end of ["pointerup", "pointercancel"]) {
    window.addEventListener(end, () => { if (dragging) { dragging = false; saveUrl(); } }, true);
  }
  plotDiv.addEventListener("keydown", keyStart);
  $("flog").addEventListener("change", () => { logTouched = true; if (result) drawF(step === null ? lastStep() : step); });
  $("play").addEventListener("click", play);
  $("step").addEventListener("input", () => { playing = false; step = Number($("step").value); draw(false); });
  $("zoom-in").addEventListener("click", () => contour && zoom(0.5));
  $("zoom-out").addEventListener("click", () => contour && zoom(2));
  $("fit").addEventListener("click", fit);
  $("reset-view").addEventListener("click", () => { state.box = null; loadSurface(true); });
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(window.location.href); $("copy").textContent = sg.t("Copied"); }
    catch (e) { $("copy").textContent = sg.t("Copy the address bar"); }
  });
  let width = plotDiv.clientWidth;
  window.addEventListener("resize", () => {  // a new width: a new height for 1:1 axes
    if (plotDiv.clientWidth !== width && result) { width = plotDiv.clientWidth; drawn = null; draw(false); }
  });
  syncControls();
  await loadSurface(true);
}

init().catch((error) => sg.showError($("error"), error));
