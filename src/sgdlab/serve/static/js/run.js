// One run: summary, interactive curves (log axes, zoom), config, metrics, figures.
"use strict";

const $ = (id) => document.getElementById(id);
let curves = null;

function drawCurves() {
  const traces = Object.entries(curves).filter(([name]) => name !== "step_time")
    .map(([name, c], i) => ({ type: "scatter", mode: "lines", name: sg.plotText(name),
      x: c.step, y: sg.nums(c.value), line: { color: sg.COLORS[i % 10], width: 1.5 } }));
  sg.plot("curves", traces, {
    xaxis: { title: { text: sg.t("step") }, type: $("logx").checked ? "log" : "linear" },
    yaxis: { title: { text: sg.t("loss") }, type: $("logy").checked ? "log" : "linear" },
  });
}

async function load() {
  const id = sg.query().get("id") || "";
  try {
    const run = await sg.api(`/api/runs/${encodeURIComponent(id)}?lang=${sg.lang}`);
    curves = (await sg.api(`/api/runs/${encodeURIComponent(id)}/curves?max_points=4000`)).curves;
    $("title").replaceChildren(sg.t("Run {0}: {1}", run.id, sg.runLabel(run)) + " ", sg.statusSpan(run.status));
    $("curves").setAttribute("aria-label", sg.t("Curves of run {0}", run.id));
    const facts = [[sg.t("created"), run.created], ["sgdlab", run.sgdlab_version], ["torch", run.torch_version]];
    if (run.key_metric_name) facts.push([run.key_metric_name, sg.fmt(run.key_metric, 6)]);
    const summary = [sg.el("p", {}, facts.map(([k, v]) => sg.el("span", {}, sg.el("b", { text: k + ": " }), v, "  ")))];
    if (run.sweep_id) summary.push(sg.el("p", {}, sg.t("sweep") + ": ", sg.link("/sweep?id=" + encodeURIComponent(run.sweep_id), run.sweep_id)));
    const divergence = run.metrics.divergence;
    if (divergence) summary.push(sg.el("p", { class: "s-diverged", text: run.divergence_text || divergence.message || divergence.reason }));
    $("summary").replaceChildren(...summary);
    $("config").textContent = JSON.stringify(run.config, null, 2);
    $("metrics").textContent = JSON.stringify(run.metrics, null, 2);
    // alt text says what the figure shows (its name, in words), not where the server keeps it
    const what = (path) => path.split(/[\\/]/).pop().replace(/\.(png|svg)$/i, "").replace(/[_-]+/g, " ");
    $("figures").replaceChildren(...run.figures.map((path, i) => run.figure_urls[i] ?
      sg.el("figure", {}, sg.el("img", { src: run.figure_urls[i], alt: sg.t("Figure {0} of run {1}: {2}", i + 1, run.id, what(path)) }),
        sg.el("figcaption", { class: "muted", text: what(path) })) :
      sg.el("p", { class: "muted", text: sg.t("{0}: not served (outside the run store's folder, or missing)", what(path)) })));
    if (!run.figures.length) $("figures").textContent = sg.t("no figures recorded");
    drawCurves();
  } catch (error) {
    sg.showError($("error"), error);
  }
}

$("logy").addEventListener("change", () => curves && drawCurves());
$("logx").addEventListener("change", () => curves && drawCurves());
load();
