// A sweep: the summary table over seeds, a heatmap of final loss over lr x batch size, curves.
"use strict";

const $ = (id) => document.getElementById(id);
let doc = null;

function drawHeatmap(optimizer) {
  const groups = doc.groups.filter((g) => !optimizer || g.optimizer === optimizer);
  const lrs = [...new Set(groups.map((g) => g.lr))].sort((a, b) => a - b);
  const sizes = [...new Set(groups.map((g) => g.batch_size))].sort((a, b) => (a ?? 0) - (b ?? 0));
  // several groups in one cell (other axes: momentum, betas...): the best of them is shown
  const z = sizes.map((b) => lrs.map((lr) => {
    const values = groups.filter((g) => g.lr === lr && g.batch_size === b).map((g) => sg.num(g.final_loss_mean))
      .filter((v) => v !== null);
    return values.length ? Math.min(...values) : null;
  }));
  const text = z.map((row) => row.map((v) => (v === null ? "diverged / none" : sg.fmt(v, 4))));
  sg.plot("heatmap", [{ type: "heatmap", x: lrs.map(String), y: sizes.map((b) => String(b ?? "full")), z, text,
    texttemplate: "%{text}", colorscale: "Viridis", reversescale: true,
    hovertemplate: "lr %{x}, batch %{y}: %{text}<extra></extra>", colorbar: { title: { text: "final loss" } } }],
  { xaxis: { title: { text: "learning rate" }, type: "category" },
    yaxis: { title: { text: "batch size" }, type: "category" } });
}

function drawCurves() {
  const traces = doc.curves.map((c, i) => ({ type: "scatter", mode: "lines", x: c.step, y: sg.nums(c.value),
    name: sg.plotText(`lr ${c.lr} · b ${c.batch_size ?? "full"} · ${c.optimizer} · seed ${c.seed}`),
    line: { color: sg.COLORS[i % 10], width: 1.2, dash: c.status === "diverged" ? "dot" : "solid" } }));
  sg.plot("curves", traces, { xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "loss" }, type: $("logy").checked ? "log" : "linear" } });
}

async function load() {
  const id = sg.query().get("id") || "";
  try {
    doc = await sg.api("/api/sweeps/" + encodeURIComponent(id));
    $("title").textContent = `Sweep ${doc.sweep_id} (${doc.problem}), ${doc.cells.length} cells`;
    const axes = Object.keys(doc.axes).filter((a) => a !== "seed");
    $("best").textContent = doc.best ? "Best: " + axes.map((a) => `${a} = ${sg.fmt(doc.best[a])}`).join(", ") +
      `: final loss ${sg.fmt(doc.best.final_loss_mean, 6)}` : "no cell finished without diverging";
    const accuracy = doc.groups.some((g) => "accuracy_mean" in g);
    $("groups").replaceChildren(sg.table([
      ...axes.map((a) => [a, (g) => sg.fmt(g[a])]),
      ["seeds", (g) => String(g.seeds), "num"],
      ["final loss", (g) => `${sg.fmt(g.final_loss_mean, 5)} ± ${sg.fmt(g.final_loss_std, 2)}`, "num"],
      ...(accuracy ? [["accuracy", (g) => sg.fmt(g.accuracy_mean, 4), "num"]] : []),
      ["best loss", (g) => sg.fmt(g.best_loss_mean, 5), "num"],
      ["steps to target", (g) => sg.fmt(g.steps_to_target_mean), "num"],
      ["seconds", (g) => sg.fmt(g.seconds_mean, 3), "num"],
      ["diverged", (g) => String(g.diverged), "num"],
    ], doc.groups));
    $("cells").replaceChildren(sg.table([
      ["run", (c) => sg.link("/run?id=" + encodeURIComponent(c.run_id), c.run_id)],
      ...axes.map((a) => [a, (c) => sg.fmt(c[a])]), ["seed", (c) => sg.fmt(c.seed)],
      ["status", (c) => sg.statusSpan(c.status)], ["final loss", (c) => sg.fmt(c.final_loss, 6), "num"],
      ["best loss", (c) => sg.fmt(c.best_loss, 6), "num"], ["seconds", (c) => sg.fmt(c.seconds, 3), "num"],
    ], doc.cells));
    const optimizers = [...new Set(doc.groups.map((g) => g.optimizer))];
    if (optimizers.length > 1) {
      const select = sg.el("select", { id: "heat-optimizer" }, optimizers.map((o) => sg.el("option", { value: o, text: o })));
      select.addEventListener("change", () => drawHeatmap(select.value));
      $("heat-tools").replaceChildren(sg.el("label", {}, "optimizer ", select));
    }
    drawHeatmap(optimizers.length > 1 ? optimizers[0] : null);
    drawCurves();
  } catch (error) {
    sg.showError($("error"), error);
  }
}

$("logy").addEventListener("change", () => doc && drawCurves());
load();
