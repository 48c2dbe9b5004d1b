// The run store as a list: filters (command, status, sweep) live in the address bar.
"use strict";

const $ = (id) => document.getElementById(id);
const chosen = new Set();

function metric(r) {
  return r.key_metric === null ? "" : `${r.key_metric_name} = ${sg.fmt(r.key_metric, 6)}`;
}

async function load() {
  const q = sg.query();
  const params = new URLSearchParams();
  for (const key of ["command", "status", "sweep"]) if (q.get(key)) params.set(key, q.get(key));
  try {
    const doc = await sg.api("/api/runs?" + params.toString());
    $("store").textContent = `· ${doc.store}` + (doc.exists ? "" : " " + sg.t("(nothing recorded yet)"));
    for (const key of ["command", "status"]) {
      const select = $(key);
      const current = q.get(key) || "";
      select.replaceChildren(sg.el("option", { value: "", text: sg.t("all") }),
        ...doc.facets[key].map((v) => sg.el("option", { value: v, text: key === "status" ? sg.t(v) : v })));
      select.value = current;
    }
    $("sweep").value = q.get("sweep") || "";
    $("runs").replaceChildren(doc.runs.length ? sg.table([
      ["", (r) => sg.el("label", { class: "check" }, sg.el("input", { type: "checkbox", value: r.id, checked: chosen.has(r.id),
        "aria-label": sg.t("choose {0}", r.id), onchange: (e) => choose(r.id, e.target.checked) }))],
      ["id", (r) => sg.link("/run?id=" + encodeURIComponent(r.id), r.id)],
      [sg.t("run"), (r) => sg.runLabel(r)],
      [sg.t("time"), (r) => r.created.replace("T", " ").slice(0, 19)],
      [sg.t("status"), (r) => sg.statusSpan(r.status)],
      [sg.t("sweep"), (r) => r.sweep_id ? sg.link("/sweep?id=" + encodeURIComponent(r.sweep_id), r.sweep_id) : ""],
      [sg.t("key metric"), (r) => metric(r)],
    ], doc.runs, (r) => ({ "data-run": r.id })) : sg.el("p", { class: "muted", text: sg.t("no runs match") }));
    const sweeps = (await sg.api("/api/sweeps")).sweeps;
    $("sweeps").replaceChildren(sweeps.length ? sg.table([
      ["id", (s) => sg.link("/sweep?id=" + encodeURIComponent(s.id), s.id)],
      [sg.t("problem"), (s) => s.problem], [sg.t("created"), (s) => s.created.replace("T", " ").slice(0, 19)],
      [sg.t("runs"), (s) => String(s.runs), "num"],
    ], sweeps) : sg.el("p", { class: "muted", text: sg.t("no sweeps recorded") }));
  } catch (error) {
    sg.showError($("error"), error);
  }
}

function choose(id, on) {
  if (on) chosen.add(id); else chosen.delete(id);
  $("overlay").disabled = chosen.size === 0;
}

function filter() {
  const p = new URLSearchParams();
  for (const key of ["command", "status", "sweep"]) if ($(key).value) p.set(key, $(key).value.trim());
  sg.saveQuery(p);
  load();
}

$("command").addEventListener("change", filter);
$("status").addEventListener("change", filter);
$("sweep").addEventListener("change", filter);
$("overlay").addEventListener("click", () => {
  window.location.href = sg.href("/overlay?ids=" + encodeURIComponent([...chosen].join(",")));
});
load();
