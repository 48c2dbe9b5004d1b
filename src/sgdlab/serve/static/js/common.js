// What every page shares: calling the API, building DOM safely, formatting, Plotly defaults.
// User text (expressions, column names, run configs) only ever enters the page through
// textContent or sg.plotText (escaped for Plotly's own label markup): never as HTML.
"use strict";

const sg = {};

// -- language: the page's (chosen by the server from ?lang= or Accept-Language) ----------------
// sg.t("English text with {0}", value): the text in the page's language, from sg.MESSAGES
// (/i18n/zh.js, loaded after this file on 中文 pages); English is the key itself.
sg.lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
sg.MESSAGES = {};
sg.t = function (text, ...args) {
  const template = Object.prototype.hasOwnProperty.call(sg.MESSAGES, text) ? sg.MESSAGES[text] : text;
  return template.replace(/\{(\d+)\}/g, (m, i) => (args[Number(i)] === undefined ? m : String(args[Number(i)])));
};
// the address named the language: keep it in every address the page makes
sg.langNamed = new URLSearchParams(window.location.search).has("lang");
sg.href = function (path) {
  if (!sg.langNamed) return path;
  const url = new URL(path, window.location.origin);
  url.searchParams.set("lang", sg.lang);
  return url.pathname + url.search;
};
// a page that rewrites its own address (replaceState) keeps the language in it
sg.saveQuery = function (params) {
  if (sg.langNamed) params.set("lang", sg.lang);
  history.replaceState(null, "", "?" + params.toString());
};

// GET or POST (when body is given) a JSON API route; a non-2xx answer throws an Error whose
// .errors holds the server's one-line problems (the CLI's messages).
sg.api = async function (path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let doc = null;
  try { doc = await response.json(); } catch (e) { doc = null; }
  if (!response.ok) {
    const errors = (doc && doc.errors) || [`HTTP ${response.status}`];
    const error = new Error(errors.join("\n"));
    error.errors = errors;
    error.status = response.status;
    throw error;
  }
  return doc;
};

// The API writes NaN and infinities as strings (strict JSON); for plotting they are gaps.
sg.num = (v) => (typeof v === "number" && isFinite(v) ? v : null);
sg.nums = (values) => values.map(sg.num);

// Element builder: strings become text nodes, never markup.
sg.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

// Plotly reads a few tags (<b>, <br>, <a>) in labels: escape user text before handing it over.
sg.plotText = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
  .replace(/"/g, "&quot;");

sg.fmt = function (v, digits) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "string") return v;  // "NaN", "Infinity": shown as such
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential((digits || 4) - 1);
  return String(Number(v.toPrecision(digits || 4)));
};

sg.query = () => new URLSearchParams(window.location.search);

sg.COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22"];

sg.plotConfig = { displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
  modeBarButtonsToRemove: ["sendDataToCloud"],
  locale: sg.lang === "zh" ? "zh-CN" : "en" };  // zh: the toolbar in 中文 (vendor/plotly-locale-zh-cn, registered by its script)

// Exponential moving average (bias-corrected, as Adam's), over the finite values; gaps stay gaps.
sg.ema = function (values, beta) {
  let avg = 0, n = 0;
  return values.map((v) => {
    if (v === null) return null;
    avg = beta * avg + (1 - beta) * v;
    n += 1;
    return avg / (1 - Math.pow(beta, n));
  });
};

sg.plot = function (div, traces, layout, config) {
  const base = { margin: { l: 60, r: 20, t: 30, b: 45 }, paper_bgcolor: "#fff",
    plot_bgcolor: "#fff", font: { family: "system-ui, sans-serif", size: 12 },
    legend: { orientation: "h", y: -0.18 } };
  return Plotly.react(div, traces, Object.assign(base, layout || {}), Object.assign({}, sg.plotConfig, config || {}));
};

// One table from rows and [header, cell(row) -> Node|string] columns.
sg.table = function (columns, rows, rowAttrs) {
  const head = sg.el("tr", {}, columns.map(([title]) => sg.el("th", { text: title })));
  const body = rows.map((row) => sg.el("tr", rowAttrs ? rowAttrs(row) : {},
    columns.map(([, cell, cls]) => sg.el("td", { class: cls || null }, cell(row)))));
  // wide tables scroll inside their own box (focusable, so a keyboard can scroll it too)
  return sg.el("div", { class: "table-wrap", tabindex: "0" },
    sg.el("table", {}, sg.el("thead", {}, head), sg.el("tbody", {}, body)));
};

sg.link = (href, text) => sg.el("a", { href: sg.href(href) }, text);
sg.statusSpan = (status) => sg.el("span", { class: "s-" + status, text: sg.t(status) });

// A run named by what it is: the server's label (its command and hyperparameters).
sg.runLabel = (r) => r.label || r.command;

sg.showError = function (node, error) {
  node.textContent = error ? (error.errors ? error.errors.join("\n") : String(error.message || error)) : "";
};

// Mark the current page in the header; the language switch takes the address as it is now
// (pages rewrite their own address as they change).
document.addEventListener("DOMContentLoaded", () => {
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.pathname === window.location.pathname) { a.classList.add("here"); a.setAttribute("aria-current", "page"); }
  }
  const change = document.getElementById("lang-switch");
  if (change) change.addEventListener("click", (event) => {
    event.preventDefault();
    const url = new URL(window.location.href);
    url.searchParams.set("lang", sg.lang === "zh" ? "en" : "zh");
    window.location.href = url.toString();
  });
});
