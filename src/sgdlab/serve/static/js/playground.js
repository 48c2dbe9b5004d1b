// The descent playground: every number comes from the server (sgdlab.surface: the same compiled
// f, optimizers, verdicts and 2/λmax as `sgdlab surface`); this file only draws and listens.
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
const state = { s: "bowl", f: "", a: 1, b: 10, lr: null, steps: null, opt: ["sgd"], m: 0.9,
  noise: 0, seed: 0, x: null, y: null };
let contour = null;       // the /api/contour answer for the current surface
let contourTrace = null;  // kept as one object, so redraws while dragging do not recompute it
let result = null;        // the last /api/descent answer
let step = null;          // the step shown (null: whole trajectories)
let playing = false;
let lrRange = [-4, 1];    // log10 of the slider's ends

// -- talking to the server ---------------------------------------------------------------------
function surfaceBody() {
  const custom = state.s === CUSTOM;
  return { surface: custom ? null : state.s, f: custom ? state.f : null, curvature: [state.a, state.b] };
}

function descentBody() {
  return Object.assign(surfaceBody(), {
    start: [state.x, state.y], lr: state.lr, steps: state.steps, noise: state.noise, seed: state.seed,
    optimizers: state.opt.map((name) => PRESETS[name](state.m)),
  });
}

async function loadSurface(keep) {
  const input = $("f");
  try {
    contour = await sg.api("/api/contour", Object.assign(surfaceBody(), { n: 101 }));
  } catch (error) {
    sg.showError(state.s === CUSTOM ? $("f-error") : $("error"), error);
    input.classList.toggle("bad", state.s === CUSTOM);
    return;
  }
  sg.showError($("f-error"), null);
  input.classList.remove("bad");
  if (!keep || state.x === null) [state.x, state.y] = contour.start;
  if (!keep || state.lr === null) state.lr = contour.lr;
  if (!keep || state.steps === null) state.steps = contour.steps;
  const center = Math.log10(contour.lr);
  lrRange = [Math.min(center - 3, Math.log10(state.lr)), Math.max(center + 1.5, Math.log10(state.lr))];
  contourTrace = {
    type: "contour", x: contour.x, y: contour.y, z: contour.z_shown, ncontours: 28, colorscale: "YlGnBu", reversescale: true,
    contours: { coloring: "heatmap" }, line: { width: 0.5, color: "rgba(0,0,0,0.25)" },
    colorbar: { title: { text: sg.plotText(contour.shown_as), side: "right" }, thickness: 12 },
    hovertemplate: "x %{x:.3g}, y %{y:.3g}<extra></extra>", showlegend: false,
  };
  syncControls();
  await descent();
}

let inflight = false, pending = false;
async function descent() {  // one request at a time; the latest state wins
  if (inflight) { pending = true; return; }
  inflight = true;
  saveUrl();
  try {
    result = await sg.api("/api/descent", descentBody());
    sg.showError($("error"), null);
    if (!playing) step = null;
    draw();
  } catch (error) {
    sg.showError($("error"), error);
  } finally {
    inflight = false;
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
    if (pending) { pending = false; descent(); }
  }
}

// -- drawing -----------------------------------------------------------------------------------
function label(trajectory, i) {
  const name = state.opt[i] || trajectory.optimizer.name;
  return trajectory.optimizer.momentum ? `${name} β=${trajectory.optimizer.momentum}` : name;
}

function draw() {
  if (!result || !contour) return;
  const last = Math.max(...result.trajectories.map((t) => t.path.length - 1));
  const k = step === null ? last : Math.min(step, last);
  const box = contour.box;
  const traces = [contourTrace];
  result.trajectories.forEach((t, i) => {
    const path = t.path.slice(0, k + 1);
    traces.push({ type: "scatter", mode: "lines+markers", x: path.map((p) => sg.num(p[0])),
      y: path.map((p) => sg.num(p[1])), name: sg.plotText(label(t, i)), hoverinfo: "skip",
      line: { color: sg.COLORS[i % 10], width: 2 }, marker: { size: 3 } });
    const at = path[path.length - 1];
    traces.push({ type: "scatter", mode: "markers", x: [sg.num(at[0])], y: [sg.num(at[1])],
      showlegend: false, hoverinfo: "skip", marker: { size: 9, color: sg.COLORS[i % 10] } });
  });
  const marks = (points, symbol, name) => ({ type: "scatter", mode: "markers", name,
    x: points.map((p) => p[0]), y: points.map((p) => p[1]), hoverinfo: "skip",
    marker: { symbol, size: 11, color: "#333" } });
  if (contour.minima.length) traces.push(marks(contour.minima, "star", "minimum"));
  if (contour.saddle) traces.push(marks([contour.saddle], "x", "saddle"));
  traces.push({ type: "scatter", mode: "markers", x: [state.x], y: [state.y], name: "start",
    hoverinfo: "skip", marker: { size: 14, color: "rgba(0,0,0,0)", line: { color: "#000", width: 2.5 } } });
  sg.plot("contour", traces, { dragmode: false, hovermode: "closest", margin: { l: 50, r: 10, t: 10, b: 40 },
    xaxis: { range: [box[0], box[1]], title: { text: "x" }, fixedrange: true },
    yaxis: { range: [box[2], box[3]], title: { text: "y" }, fixedrange: true }, legend: { orientation: "h", y: -0.12 } });
  drawF(k);
  drawVerdicts();
  drawTheory();
  $("step").max = String(last);
  $("step").value = String(k);
  $("step-text").textContent = `${k} / ${last}`;
}

let logTouched = false;  // until the user picks, f is on a log scale when it stays positive

function drawF(k) {
  if (!logTouched) {
    $("flog").checked = result.trajectories.every((t) => t.f.every((v) => typeof v === "number" && v > 0));
  }
  const logY = $("flog").checked;
  const traces = result.trajectories.map((t, i) => ({ type: "scatter", mode: "lines",
    x: t.f.map((_, j) => j), y: sg.nums(t.f), name: sg.plotText(label(t, i)),
    line: { color: sg.COLORS[i % 10] } }));
  sg.plot("fplot", traces, { xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "f(x, y)" }, type: logY ? "log" : "linear" },
    shapes: [{ type: "line", x0: k, x1: k, yref: "paper", y0: 0, y1: 1, line: { color: "#999", dash: "dot" } }] });
}

function drawVerdicts() {
  const rows = result.trajectories.map((t, i) => Object.assign({ i, name: label(t, i) }, t));
  const at = (t) => t.verdict === "escaped saddle" ? t.escape_step : t.diverged_step;
  $("verdicts").replaceChildren(sg.table([
    ["optimizer", (t) => [sg.el("span", { class: "dot", style: `background:${sg.COLORS[t.i % 10]}` }), t.name]],
    ["verdict", (t) => sg.el("span", { class: "verdict v-" + t.verdict.replace(/ /g, "-"), text: t.verdict })],
    ["at step", (t) => sg.fmt(at(t)), "num"],
    ["final f", (t) => sg.fmt(t.final.f), "num"],
    ["|∇f| at the end", (t) => sg.fmt(t.final.grad_norm), "num"],
    ["lr / (2/λmax)", (t) => sg.fmt(t.lr_over_bound, 3), "num"],
    ["why", (t) => sg.el("span", { class: "muted", text: t.reason })],
  ], rows, (t) => ({ "data-optimizer": t.name })));
}

function drawTheory() {
  const h = result.hessian_start, lines = [];
  const vec = (v) => "(" + v.map((x) => sg.fmt(x)).join(", ") + ")";
  lines.push(`f(start) = ${sg.fmt(result.start_point.f)}, ∇f = ${vec(result.start_point.gradient)}`);
  lines.push(`Hessian eigenvalues: ${h.eigenvalues.map((x) => sg.fmt(x)).join(", ")}: ${h.curvature}`);
  lines.push(result.lr_bound === null ? `no stable-step bound: ${result.lr_bound_kind}` :
    `2/λmax = ${sg.fmt(result.lr_bound)}, ${result.lr_bound_kind}`);
  if (result.critical_point) lines.push(`at ${vec(result.critical_point.point)}: ${result.critical_point.kind}`);
  const nc = result.noise_check;
  if (nc) lines.push(`E[J] = ∇f? mean of ${nc.samples} noisy gradients ${vec(nc.mean)} vs ∇f ` +
    `${vec(nc.true_gradient)}: ${nc.agrees ? "inside" : "outside"} the 95% interval`);
  $("theory").replaceChildren(...lines.map((text) => sg.el("div", { text })));
  const mark = $("bound-mark");
  mark.hidden = result.lr_bound === null;
  if (result.lr_bound !== null) {
    const where = (Math.log10(result.lr_bound) - lrRange[0]) / (lrRange[1] - lrRange[0]);
    mark.style.left = `${Math.min(100, Math.max(0, 100 * where))}%`;
    $("bound-label").textContent = `2/λmax = ${sg.fmt(result.lr_bound, 3)}`;
  }
  $("bound-text").textContent = result.lr_bound === null ? "no 2/λmax: no positive curvature at the start" : "";
}

// -- controls and the address bar ---------------------------------------------------------------
function syncControls() {
  $("surface").value = state.s;
  $("custom").hidden = state.s !== CUSTOM;
  $("bowl-curvature").hidden = state.s !== "bowl";
  $("f").value = state.f;
  [$("ca").value, $("cb").value] = [state.a, state.b];
  const slider = $("lr");
  [slider.min, slider.max] = lrRange.map(String);
  slider.value = String(Math.log10(state.lr));
  $("lr-value").textContent = sg.fmt(state.lr, 4);
  $("steps").value = state.steps;
  $("momentum").value = state.m;
  $("noise").value = state.noise;
  $("seed").value = state.seed;
  for (const box of document.querySelectorAll("#optimizers input")) box.checked = state.opt.includes(box.value);
  $("start-text").textContent = `(${sg.fmt(state.x)}, ${sg.fmt(state.y)})`;
}

function saveUrl() {
  const p = new URLSearchParams({ s: state.s });
  if (state.s === CUSTOM) p.set("f", state.f);
  if (state.s === "bowl") { p.set("a", state.a); p.set("b", state.b); }
  for (const key of ["lr", "steps", "x", "y", "m", "noise", "seed"]) p.set(key, state[key]);
  p.set("opt", state.opt.join(","));
  history.replaceState(null, "", "?" + p.toString());
}

function readUrl() {
  const q = sg.query();
  const number = (key) => (q.has(key) && q.get(key) !== "" && isFinite(Number(q.get(key))) ? Number(q.get(key)) : null);
  if (q.has("s")) state.s = q.get("s");
  if (q.has("f")) state.f = q.get("f");
  for (const key of ["a", "b", "m", "noise", "seed"]) if (number(key) !== null) state[key] = number(key);
  for (const key of ["lr", "steps", "x", "y"]) state[key] = number(key);
  if (q.has("opt")) state.opt = q.get("opt").split(",").filter((name) => name in PRESETS);
}

function startFromPointer(event) {  // pixel -> (x, y) from the plot area and our own axis ranges
  const area = $("contour").querySelector(".nsewdrag");
  if (!area || !contour) return null;
  const r = area.getBoundingClientRect(), box = contour.box;
  const u = (event.clientX - r.left) / r.width, v = (event.clientY - r.top) / r.height;
  if (u < 0 || u > 1 || v < 0 || v > 1) return null;
  const round = (z) => Number(z.toPrecision(4));
  return [round(box[0] + u * (box[1] - box[0])), round(box[3] - v * (box[3] - box[2]))];
}

function moveStart(event) {
  const point = startFromPointer(event);
  if (!point) return;
  event.preventDefault();
  [state.x, state.y] = point;
  $("start-text").textContent = `(${sg.fmt(state.x)}, ${sg.fmt(state.y)})`;
  descent();
}

function play() {
  if (playing) { playing = false; $("play").textContent = "▶ Play"; return; }
  if (!result) return;
  const last = Number($("step").max);
  if (step === null || step >= last) step = 0;
  playing = true;
  $("play").textContent = "❚❚ Pause";
  // by the clock, not by frames: the whole descent takes about 4 s however slow a redraw is
  const began = performance.now() - (4000 * step) / Math.max(1, last);
  const frame = () => {
    if (!playing) return;
    const elapsed = performance.now() - began;  // (a frame's own timestamp may use another clock)
    step = Math.min(last, Math.max(step, Math.round((last * elapsed) / 4000)));
    draw();
    if (step >= last) { playing = false; $("play").textContent = "▶ Play"; return; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

async function init() {
  const info = await sg.api("/api/surfaces");
  const select = $("surface");
  for (const s of info.surfaces) select.append(sg.el("option", { value: s.name, text: `${s.name}: ${s.formula}` }));
  select.append(sg.el("option", { value: CUSTOM, text: "your own f(x, y)" }));
  $("grammar").textContent = `numbers, x, y, ${info.expression.constants.join(", ")}, + - * / ** and ` +
    info.expression.functions.join(" ");
  for (const name of Object.keys(PRESETS)) {
    $("optimizers").append(sg.el("label", {}, sg.el("input", { type: "checkbox", value: name }), name));
  }
  readUrl();
  const number = (id, key, after) => $(id).addEventListener("change", () => {
    const v = Number($(id).value);
    if ($(id).value !== "" && isFinite(v)) { state[key] = v; (after || descent)(); }
  });
  select.addEventListener("change", () => {
    state.s = select.value;  // start, lr and steps become the new surface's own once it loads
    syncControls();
    if (state.s !== CUSTOM) loadSurface(false);
    else if (state.f) loadSurface(true);
  });
  let typing = null;
  $("f").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.f = $("f").value; loadSurface(state.x !== null); }, 300);
  });
  number("ca", "a", () => loadSurface(true));
  number("cb", "b", () => loadSurface(true));
  number("steps", "steps"); number("momentum", "m"); number("noise", "noise"); number("seed", "seed");
  $("lr").addEventListener("input", () => {
    state.lr = Number(Math.pow(10, Number($("lr").value)).toPrecision(4));
    $("lr-value").textContent = sg.fmt(state.lr, 4);
    descent();
  });
  $("optimizers").addEventListener("change", () => {
    state.opt = [...document.querySelectorAll("#optimizers input:checked")].map((b) => b.value);
    descent();
  });
  const plotDiv = $("contour");
  let dragging = false;
  plotDiv.addEventListener("pointerdown", (e) => { if (startFromPointer(e)) { dragging = true; moveStart(e); } }, true);
  window.addEventListener("pointermove", (e) => { if (dragging) moveStart(e); }, true);
  window.addEventListener("pointerup", () => { dragging = false; }, true);
  $("flog").addEventListener("change", () => { logTouched = true; draw(); });
  $("play").addEventListener("click", play);
  $("step").addEventListener("input", () => { playing = false; step = Number($("step").value); draw(); });
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(window.location.href); $("copy").textContent = "Copied"; }
    catch (e) { $("copy").textContent = "Copy the address bar"; }
  });
  syncControls();
  if (state.s === CUSTOM && !state.f) return;
  await loadSurface(true);
}

init().catch((error) => sg.showError($("error"), error));
