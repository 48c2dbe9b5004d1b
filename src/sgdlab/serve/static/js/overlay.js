// Several runs' curves on one plot (chosen on the runs list).
"use strict";

const $ = (id) => document.getElementById(id);
let runs = [];

function draw() {
  const name = $("curve").value;
  const traces = runs.filter((r) => r.curves[name]).map((r, i) => ({ type: "scatter", mode: "lines",
    name: sg.plotText(`${sg.runLabel(r)} (${r.id})`), x: r.curves[name].step, y: sg.nums(r.curves[name].value),
    line: { color: sg.COLORS[i % 10], width: 1.5 } }));
  sg.plot("curves", traces, {
    xaxis: { title: { text: sg.t("step") }, type: $("logx").checked ? "log" : "linear" },
    yaxis: { title: { text: sg.plotText(name) }, type: $("logy").checked ? "log" : "linear" },
  });
}

async function load() {
  try {
    const ids = sg.query().get("ids") || "";
    runs = (await sg.api("/api/overlay?ids=" + encodeURIComponent(ids))).runs;
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.curves)))].filter((n) => n !== "step_time");
    $("curve").replaceChildren(...names.map((n) => sg.el("option", { value: n, text: n })));
    $("runs").replaceChildren(sg.table([
      ["id", (r) => sg.link("/run?id=" + encodeURIComponent(r.id), r.id)], [sg.t("run"), (r) => sg.runLabel(r)],
      [sg.t("status"), (r) => sg.statusSpan(r.status)], [sg.t("key metric"), (r) => r.key_metric === null ? "" :
        `${r.key_metric_name} = ${sg.fmt(r.key_metric, 6)}`],
    ], runs));
    draw();
  } catch (error) {
    sg.showError($("error"), error);
  }
}

for (const id of ["curve", "logy", "logx"]) $(id).addEventListener("change", () => runs.length && draw());
load();
