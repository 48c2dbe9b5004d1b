// /docs (Swagger UI): each operation's summary is a <button> holding a deep link (<a href>), a
// focusable control inside another (axe: nested-interactive, serious). The button already opens
// the operation and deep linking is off, so the inner link loses its href and is plain text.
"use strict";
const unnest = () => {
  for (const a of document.querySelectorAll(".opblock-summary-control a[href]")) a.removeAttribute("href");
};
new MutationObserver(unnest).observe(document.documentElement,
  { childList: true, subtree: true, attributes: true, attributeFilter: ["href"] });
