// Colour harmony search (POST /api/harmony): a rule around the first picked colour or the selected design; the
// results list shows each design's palette with the colours that follow the rule marked.

import { api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { plural } from "../format.js";
import { colourRequest, colourState, pickedColours, showColourQuery, showColourResults } from "./colors.js";
import { state } from "./state.js";

async function searchHarmony() {
  const rule = $("#harmony-rule").value;
  const base = $("#harmony-base").value;
  const body = { rule, ...colourRequest() };
  if (base === "design") {
    const q = state.query;
    const design = q && q.type === "image" ? q.image : colourState.design;
    if (!design) { toast("Pick a design first, or use the first colour", "error"); return; }
    body.id = design.id;
  } else {
    const first = pickedColours()[0];
    if (!first) { toast("Add a colour first", "error"); return; }
    body.color = first.hex;
  }
  const seq = ++colourState.seq;
  $("#res-status").textContent = "Searching…";
  try {
    const data = await api("/api/harmony", { json: body });
    if (seq !== colourState.seq) return;
    const targets = data.targets.length ? `target hues ${data.targets.map((t) => `${Math.round(t)}°`).join(", ")} ± ${data.tolerance}°`
      : "achromatic colours";
    showColourQuery(`${label(rule)} of ${data.base.hex}`, data.query, `${data.summary}: ${targets}`);
    showColourResults(data.results, (r) => r.score, () => h("span", { class: "tag tag-strong" }, label(rule)),
      data.results.length ? `${plural(data.total, "design")} follow the ${label(rule).toLowerCase()} rule; best ${data.results.length} shown.`
        : "No design follows this rule (with these filters).");
  } catch (err) {
    if (seq === colourState.seq) { $("#res-status").textContent = `Search failed: ${err.message}`; toast(err.message, "error"); }
  }
}

function label(rule) {
  return rule.charAt(0).toUpperCase() + rule.slice(1).replace("-", " ");
}

export function wireHarmony() {
  $("#harmony-search").addEventListener("click", searchHarmony);
}
