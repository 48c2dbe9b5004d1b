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
let following = null;  // { id, source, steps: [], losses: [] }
let refreshing = null;

function buildForm() {
  const problem = $("problem").value;
  const rows = FIELDS[problem].map(([name, text, kind, value]) => {
    const id = "opt-" + name;
    if (kind === "checkbox") {
      return sg.el("label", {}, sg.el("input", { type: "checkbox", id, name, checked: value }), " " + text);
    }
    const input = kind === "select" ?
      sg.el("select", { id, name }, CHOICES[name].map((c) => sg.el("option", { value: c, text: c, selected: c === value }))) :
      sg.el("input", { type: "text", inputmode: kind === "number" ? "decimal" : null, id, name, value });
    return [sg.el("label", { for: id, text }), input];
  });
  $("fields").replaceChildren(...rows.flat());
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
  following = { id, steps: [], losses: [], status: "queued", source: new EventSource(`/api/jobs/${id}/events`) };
  const mine = following;
  const receive = (message) => {
    const job = JSON.parse(message.data);
    for (const [s, loss] of job.points) { mine.steps.push(s); mine.losses.push(sg.num(loss)); }
    mine.status = job.status;
    mine.job = job;
    if (message.type === "end") { mine.source.close(); refreshJobs(); }
    if (mine === following) drawLive();
  };
  mine.source.addEventListener("update", receive);
  mine.source.addEventListener("end", receive);
  drawLive();
}

function drawLive() {
  const f = following, job = f.job;
  const where = job && job.queue_position ? ` (waiting: number ${job.queue_position} in line)` : "";
  const steps = job && job.steps ? ` of ${job.steps}` : "";
  $("live-title").replaceChildren(`run ${f.id}${job ? " (" + job.problem + ")" : ""}: `, sg.statusSpan(f.status),
    `${where} · ${f.losses.length} points${steps}`,
    ...(job && job.run_id ? [" · ", sg.link("/run?id=" + encodeURIComponent(job.run_id), "open run " + job.run_id)] : []),
    ...(job && job.errors.length ? [" · ", sg.el("span", { class: "error", text: job.errors.join("; ") })] : []));
  $("stop").disabled = !["queued", "running"].includes(f.status);
  document.body.dataset.livePoints = String(f.losses.length);
  document.body.dataset.liveStatus = f.status;
  sg.plot("live", [{ type: "scatter", mode: "lines", x: f.steps, y: f.losses, name: "loss",
    line: { color: sg.COLORS[0], width: 1.5 } }], { xaxis: { title: { text: "step" } },
    yaxis: { title: { text: job && job.problem === "mnist" ? "batch loss (cross-entropy)" : "loss (all rows)" },
      type: $("logy").checked ? "log" : "linear" }, showlegend: false,
    datarevision: f.losses.length });  // the arrays grow in place: tell Plotly they changed
}

async function refreshJobs() {
  clearTimeout(refreshing);
  let jobs = [];
  try { jobs = (await sg.api("/api/jobs")).jobs; } catch (error) { sg.showError($("error"), error); }
  const active = (j) => j.status === "queued" || j.status === "running";
  $("jobs").replaceChildren(jobs.length ? sg.table([
    ["#", (j) => sg.el("a", { href: "#", text: String(j.id), onclick: (e) => { e.preventDefault(); follow(j.id); } })],
    ["problem", (j) => j.problem],
    ["status", (j) => [sg.statusSpan(j.status), j.queue_position ? ` (number ${j.queue_position} in line)` : ""]],
    ["points", (j) => String(j.points_total), "num"],
    ["run", (j) => (j.run_id ? sg.link("/run?id=" + encodeURIComponent(j.run_id), j.run_id) : "")],
    ["", (j) => (active(j) ? sg.el("button", { type: "button", class: "secondary", text: j.status === "queued" ? "Cancel" : "Stop",
      onclick: () => stop(j.id) }) : "")],
  ], jobs, (j) => ({ "data-job": String(j.id) })) : sg.el("p", { class: "muted", text: "none yet" }));
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
  await refreshJobs();
}

init().catch((error) => sg.showError($("error"), error));
