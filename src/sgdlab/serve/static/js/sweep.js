// A sweep: the summary table over seeds, a heatmap of final loss over lr x batch size, curves.
"use strict";

const $ = (id) => document.getElementById(id);
let doc = null;

function drawHeatmap(optimizer) {
  const groups = doc.groups.filter((g) => !optimizer || g.optimizer === optimizer);
  // a batch-size study has no lr axis: its one column is the lr all its runs share
  const lrOf = (g) => g.lr ?? (doc.base && doc.base.lr) ?? sg.t("the study's lr");
  const lrs = [...new Set(groups.map(lrOf))].sort((a, b) => (typeof a === "number" ? a - b : 0));
  const sizes = [...new Set(groups.map((g) => g.batch_size))].sort((a, b) => (a ?? 0) - (b ?? 0));
  // several groups in one cell (other axes: momentum, betas...): the best of them is shown
  const z = sizes.map((b) => lrs.map((lr) => {
    const values = groups.filter((g) => lrOf(g) === lr && g.batch_size === b).map((g) => sg.num(g.final_loss_mean))
      .filter((v) => v !== null);
    return values.length ? Math.min(...values) : null;
  }));
  const text = z.map((row) => row.map((v) => (v === null ? sg.t("diverged / none") : sg.fmt(v, 4))));
  sg.plot("heatmap", [{ type: "heatmap", x: lrs.map(String), y: sizes.map((b) => String(b ?? sg.t("full"))), z, text,
    texttemplate: "%{text}", colorscale: "Viridis", reversescale: true,
    hovertemplate: "lr %{x}, batch %{y}: %{text}<extra></extra>", colorbar: { title: { text: sg.t("final loss") } } }],
  { xaxis: { title: { text: sg.t("learning rate") }, type: "category" },
    yaxis: { title: { text: sg.t("batch size") }, type: "category" } });
  $("heatmap").setAttribute("aria-label", sg.t("Final loss over learning rate and batch size, {0} cells", lrs.length * sizes.length));
}

// against samples seen (step x batch size), a small batch no longer "wins" by making more
// updates; a full-batch curve has no batch size here, so it is left out of that view (said so)
function drawCurves() {
  const samples = $("samples").checked;
  const shown = doc.curves.filter((c) => !samples || typeof c.batch_size === "number");
  const traces = shown.map((c, i) => ({ type: "scatter", mode: "lines", y: sg.nums(c.value),
    x: samples ? c.step.map((s) => (s + 1) * c.batch_size) : c.step,  // step s (from 0) has seen s + 1 batches
    name: sg.plotText(`lr ${c.lr ?? "-"} · b ${c.batch_size ?? sg.t("full")} · ${c.optimizer ?? ""} · ${sg.t("seed")} ${c.seed}`),
    line: { color: sg.COLORS[i % 10], width: 1.2, dash: c.status === "diverged" ? "dot" : "solid" } }));
  sg.plot("curves", traces, { xaxis: { title: { text: samples ? sg.t("samples seen (step × batch size)") : sg.t("step") } },
    yaxis: { title: { text: sg.t("loss") }, type: $("logy").checked ? "log" : "linear" } });
  $("samples-note").textContent = shown.length < doc.curves.length ?
    sg.t("{0} full-batch curves are not shown against samples seen", doc.curves.length - shown.length) : "";
}

async function load() {
  const id = sg.query().get("id") || "";
  try {
    doc = await sg.api("/api/sweeps/" + encodeURIComponent(id));
    $("title").textContent = sg.t("Sweep {0} ({1}), {2} cells", doc.sweep_id, doc.problem, doc.cells.length);
    const axes = Object.keys(doc.axes).filter((a) => a !== "seed");
    $("best").textContent = doc.best ? sg.t("Best: {0}: final loss {1}", axes.map((a) => `${a} = ${sg.fmt(doc.best[a])}`).join(", "),
      sg.fmt(doc.best.final_loss_mean, 6)) : sg.t("no cell finished without diverging");
    const accuracy = doc.groups.some((g) => "accuracy_mean" in g);
    $("groups").replaceChildren(sg.table([
      ...axes.map((a) => [a, (g) => sg.fmt(g[a])]),
      [sg.t("seeds"), (g) => String(g.seeds), "num"],
      [sg.t("final loss"), (g) => `${sg.fmt(g.final_loss_mean, 5)} ± ${sg.fmt(g.final_loss_std, 2)}`, "num"],
      ...(accuracy ? [[sg.t("accuracy"), (g) => sg.fmt(g.accuracy_mean, 4), "num"]] : []),
      [sg.t("best loss"), (g) => sg.fmt(g.best_loss_mean, 5), "num"],
      [sg.t("steps to target"), (g) => sg.fmt(g.steps_to_target_mean), "num"],
      [sg.t("seconds"), (g) => sg.fmt(g.seconds_mean, 3), "num"],
      [sg.t("diverged"), (g) => String(g.diverged), "num"],
    ], doc.groups));
    $("cells").replaceChildren(sg.table([
      [sg.t("run"), (c) => sg.link("/run?id=" + encodeURIComponent(c.run_id), c.run_id)],
      ...axes.map((a) => [a, (c) => sg.fmt(c[a])]), [sg.t("seed"), (c) => sg.fmt(c.seed)],
      [sg.t("status"), (c) => sg.statusSpan(c.status)], [sg.t("final loss"), (c) => sg.fmt(c.final_loss, 6), "num"],
      [sg.t("best loss"), (c) => sg.fmt(c.best_loss, 6), "num"], [sg.t("seconds"), (c) => sg.fmt(c.seconds, 3), "num"],
    ], doc.cells));
    const optimizers = [...new Set(doc.groups.map((g) => g.optimizer))];
    if (optimizers.length > 1) {
      const select = sg.el("select", { id: "heat-optimizer" }, optimizers.map((o) => sg.el("option", { value: o, text: o })));
      select.addEventListener("change", () => drawHeatmap(select.value));
      $("heat-tools").replaceChildren(sg.el("label", {}, sg.t("optimizer") + " ", select));
    }
    drawHeatmap(optimizers.length > 1 ? optimizers[0] : null);
    drawCurves();
  } catch (error) {
    sg.showError($("error"), error);
  }
}

$("logy").addEventListener("change", () => doc && drawCurves());
$("samples").addEventListener("change", () => doc && drawCurves());
load();
