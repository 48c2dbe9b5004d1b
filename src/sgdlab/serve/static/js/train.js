// Train from the page: a form with the CLI's options, a live loss curve (server-sent events),
// a stop button, and the line of runs waiting their turn. The server checks every option.
"use strict";

const $ = (id) => document.getElementById(id);
const OPTIMIZER_FIELDS = [
  ["optimizer", "optimizer", "select", "sgd"], ["momentum", "momentum", "number", ""],
  ["nesterov", "Nesterov", "checkbox", false], ["betas", "betas (B1,B2)", "text", ""],
  ["eps", "eps", "number", ""], ["weight_decay", "weight decay", "number", ""],
];
const FIELDS = {  // name, label, kind, default ("" = the command's own default)
  linreg: [["lr", "learning rate", "number", "0.01"], ["steps", "steps", "number", "32"],
    ["epochs", "epochs (overrides steps)", "number", ""], ["batch_size", "batch size (empty: all 15 rows)", "number", ""],
    ["seed", "seed", "number", "2019"], ["dtype", "dtype", "select", "float32"],
    ["standardize", "standardize features", "checkbox", false], ...OPTIMIZER_FIELDS,
    ["plots", "draw figures", "checkbox", true]],
  mnist: [["hidden", "hidden widths", "text", "200"], ["batch_size", "batch size", "number", "100"],
    ["lr", "learning rate", "number", "0.01"], ["epochs", "epochs", "number", "1"], ["seed", "seed", "number", "0"],
    ["limit_train", "train on the first N images", "number", ""], ["limit_test", "test on the first N images", "number", ""],
    ["device", "device", "select", "auto"], ...OPTIMIZER_FIELDS, ["plots", "draw figures", "checkbox", true]],
};
const CHOICES = { dtype: ["float32", "float64"], device: ["auto", "cpu", "cuda"], optimizer: [] };
const EMA_BETA = 0.98;  // about the last 50 batches
let following = null;  // { id, source, steps: [], losses: [] }
let refreshing = null;

function buildForm() {  // two columns, the optimizer's options folded away: Start stays in view
  const problem = $("problem").value;
  const field = ([name, text, kind, value]) => {
    const id = "opt-" + name;
    if (kind === "checkbox") {
      return sg.el("div", { class: "field" }, sg.el("label", { class: "check" },
        sg.el("input", { type: "checkbox", id, name, checked: value }), " " + sg.t(text)));
    }
    const input = kind === "select" ?
      sg.el("select", { id, name }, CHOICES[name].map((c) => sg.el("option", { value: c, text: c, selected: c === value }))) :
      sg.el("input", { type: "text", inputmode: kind === "number" ? "decimal" : null, id, name, value });
    return sg.el("div", { class: "field" }, sg.el("label", { for: id, text: sg.t(text) }), input);
  };
  const optimizer = new Set(OPTIMIZER_FIELDS.map(([name]) => name));
  const main = FIELDS[problem].filter(([name]) => !optimizer.has(name));
  $("fields").replaceChildren(sg.el("div", { class: "fields" }, main.map(field)),
    sg.el("details", {}, sg.el("summary", { text: sg.t("optimizer: sgd unless you choose") }),
      sg.el("div", { class: "fields" }, OPTIMIZER_FIELDS.map(field))));
}

function options() {  // empty fields are left out: the command's defaults apply
  const body = {};
  for (const [name, , kind] of FIELDS[$("problem").value]) {
    const input = $("opt-" + name);
    if (kind === "checkbox") { body[name] = input.checked; continue; }
    const raw = input.value.trim();
    if (raw === "") continue;
    // a number when it reads as one; otherwise sent as typed, for the server to explain
    body[name] = kind === "number" && raw !== "" && isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return body;
}

async function start(event) {
  event.preventDefault();
  sg.showError($("error"), null);
  try {
    const job = await sg.api("/api/jobs/" + $("problem").value, options());
    follow(job.id);
    refreshJobs();
  } catch (error) {
    sg.showError($("error"), error);
  }
}

function follow(id) {
  if (following && following.source) following.source.close();
  $("live-why").textContent = "";
  following = { id, steps: [], losses: [], revision: 0, status: "queued", source: new EventSource(`/api/jobs/${id}/events`) };
  const mine = following;
  const receive = (message) => {
    const job = JSON.parse(message.data);
    for (const [s, loss] of job.points) { mine.steps.push(s); mine.losses.push(sg.num(loss)); }
    if (Array.isArray(job.epochs) && job.epochs.length) mine.epochs = job.epochs;  // each epoch's test accuracy, live
    mine.status = job.status;
    mine.job = job;
    mine.revision += 1;
    if (message.type === "end") { mine.source.close(); refreshJobs(); finished(mine); }
    if (mine === following) drawLive();
  };
  mine.source.addEventListener("update", receive);
  mine.source.addEventListener("end", receive);
  drawLive();
}

// The run's own record once it ends: its test accuracy per epoch beside the loss (problems
// without live epochs get them here), and, when it diverged, why (the same words as the run page
// and the command line).
async function finished(mine) {
  if (!mine.job || !mine.job.run_id) return;
  try {
    const run = await sg.api(`/api/runs/${encodeURIComponent(mine.job.run_id)}?lang=${sg.lang}`);
    if (Array.isArray(run.metrics.epochs) && run.metrics.epochs.length >= (mine.epochs || []).length) mine.epochs = run.metrics.epochs;
    mine.revision += 1;
    const divergence = run.metrics.divergence;
    if (mine === following && divergence) $("live-why").textContent = run.divergence_text || divergence.message || divergence.reason;
    if (mine === following) drawLive();
  } catch (error) { /* the curve stays as streamed */ }
}

function drawLive() {
  const f = following, job = f.job;
  const where = job && job.queue_position ? " " + sg.t("(waiting: number {0} in line)", job.queue_position) : "";
  const steps = job && job.steps ? " " + sg.t("of {0}", job.steps) : "";
  $("live-title").replaceChildren(sg.t("run {0}", f.id) + (job ? " (" + job.problem + ")" : "") + ": ", sg.statusSpan(f.status),
    `${where} · ${sg.t("{0} points", f.losses.length)}${steps}`,
    ...(job && job.run_id ? [" · ", sg.link("/run?id=" + encodeURIComponent(job.run_id), sg.t("open run") + " " + job.run_id)] : []),
    ...(job && job.errors.length ? [" · ", sg.el("span", { class: "error", text: job.errors.join("; ") })] : []));
  $("stop").disabled = !["queued", "running"].includes(f.status);
  document.body.dataset.livePoints = String(f.losses.length);
  document.body.dataset.liveStatus = f.status;
  // batch losses are noisy (batch 1: a solid band): an EMA over them shows the trend, the raw
  // points stay behind it, faint
  const smooth = $("ema").checked;
  const traces = [{ type: "scatter", mode: "lines", x: f.steps, y: f.losses, name: sg.t("loss"),
    line: { color: sg.COLORS[0], width: smooth ? 1 : 1.5 }, opacity: smooth ? 0.3 : 1 }];
  if (smooth) traces.push({ type: "scatter", mode: "lines", x: f.steps, y: sg.ema(f.losses, EMA_BETA),
    name: sg.t("smoothed (EMA, β = {0})", EMA_BETA), line: { color: sg.COLORS[0], width: 2.2 } });
  const layout = { xaxis: { title: { text: sg.t("step") } },
    yaxis: { title: { text: job && job.problem === "mnist" ? sg.t("batch loss (cross-entropy)") : sg.t("loss (all rows)") },
      type: $("logy").checked ? "log" : "linear" }, showlegend: true,
    datarevision: f.revision };  // the arrays grow in place, the epochs are replaced: tell Plotly they changed
  const accuracy = (f.epochs || []).filter((e) => typeof e.test_accuracy === "number");
  document.body.dataset.liveEpochs = String(accuracy.length);
  if (accuracy.length && job && job.steps) {  // test accuracy at each epoch's end, on its own axis
    // the step each epoch ended at (sent live); a record without it: spread over the run's steps
    const per = job.steps / Math.max(1, (f.epochs || []).length);
    traces.push({ type: "scatter", mode: "lines+markers", yaxis: "y2", name: sg.t("test accuracy"),
      x: accuracy.map((e) => (typeof e.step === "number" ? e.step : Math.round(e.epoch * per))), y: accuracy.map((e) => e.test_accuracy),
      line: { color: sg.COLORS[2], width: 2 }, marker: { size: 8 } });
    layout.yaxis2 = { title: { text: sg.t("test accuracy") }, overlaying: "y", side: "right", range: [0, 1] };
    layout.margin = { l: 60, r: 60, t: 30, b: 45 };  // room for the right axis's ticks and title
  }
  sg.plot("live", traces, layout);
  $("live").setAttribute("aria-label", sg.t("Live loss curve of run {0}: {1} points", f.id, f.losses.length));
}

async function refreshJobs() {
  clearTimeout(refreshing);
  let jobs = [];
  try { jobs = (await sg.api("/api/jobs")).jobs; } catch (error) { sg.showError($("error"), error); }
  const active = (j) => j.status === "queued" || j.status === "running";
  $("jobs").replaceChildren(jobs.length ? sg.table([
    ["#", (j) => sg.el("a", { href: "#", text: String(j.id), onclick: (e) => { e.preventDefault(); follow(j.id); } })],
    [sg.t("problem"), (j) => j.problem],
    [sg.t("status"), (j) => [sg.statusSpan(j.status), j.queue_position ? " " + sg.t("(number {0} in line)", j.queue_position) : ""]],
    [sg.t("points"), (j) => String(j.points_total), "num"],
    [sg.t("run"), (j) => (j.run_id ? sg.link("/run?id=" + encodeURIComponent(j.run_id), j.run_id) : "")],
    ["", (j) => (active(j) ? sg.el("button", { type: "button", class: "secondary", text: sg.t(j.status === "queued" ? "Cancel" : "Stop"),
      onclick: () => stop(j.id) }) : "")],
  ], jobs, (j) => ({ "data-job": String(j.id) })) : sg.el("p", { class: "muted", text: sg.t("none yet") }));
  if (jobs.some(active)) refreshing = setTimeout(refreshJobs, 1000);  // only while something runs
}

async function stop(id) {
  try { await sg.api(`/api/jobs/${id}/stop`, {}); } catch (error) { sg.showError($("error"), error); }
  refreshJobs();
}

async function init() {
  CHOICES.optimizer = (await sg.api("/api/surfaces")).optimizers;
  buildForm();
  $("problem").addEventListener("change", buildForm);
  $("form").addEventListener("submit", start);
  $("stop").addEventListener("click", () => following && stop(following.id));
  $("logy").addEventListener("change", () => following && drawLive());
  $("ema").addEventListener("change", () => following && drawLive());
  await refreshJobs();
}

init().catch((error) => sg.showError($("error"), error));
