// The pattern versions' measured figures: what each learnt from, the figure it was judged by, why it was activated.

import { $, h, messageRow } from "../dom.js";
import { fixed } from "../format.js";

const MODE_LABELS = { ratings: "Ratings", catalogue: "Catalogue, no labels" };

/** One row per /api/train/versions entry; every field is read with care (older runs recorded fewer). */
export function showVersionFigures(versions) {
  const rows = versions.map((v) => (v.decision ? trainedRow(v) : untrainedRow(v)));
  $("#version-figures tbody").replaceChildren(...(rows.length ? rows : [messageRow(8, "No pattern versions yet.")]));
}

function nameCell(v) {
  return h("td", {}, v.version, v.active ? h("span", { class: "pill" }, "active") : null);
}

function untrainedRow(v) {
  const what = v.kind === "pretrained" ? "Pretrained network: not trained here, nothing measured." : `${v.kind}: no training figures.`;
  return h("tr", { dataset: { version: v.version } }, nameCell(v), h("td", { colspan: 7, class: "muted" }, what));
}

/** The mode a version was trained in (runs before modes existed learnt from ratings). */
function modeOf(v) {
  return (v.params && v.params.mode) || (v.metrics && v.metrics.views ? "catalogue" : "ratings");
}

function trainedRow(v) {
  const mode = modeOf(v), data = v.data || {}, secs = v.seconds || {}, decision = v.decision || {};
  const used = mode === "catalogue"
    ? `none (${data.augmented ?? 0} synthetic views)`
    : `${data.usable_train ?? 0} usable of ${data.ratings_train ?? 0} (${data.ratings_heldout ?? 0} held out)`;
  const time = typeof secs.train === "number"
    ? `${secs.train.toFixed(1)} s${typeof secs.total === "number" ? ` (${secs.total.toFixed(1)} s in all)` : ""}` : "–";
  const judged = judgedBy(v, mode);
  const needed = data.ratings_for_gain;
  return h("tr", { dataset: { version: v.version, mode } },
    nameCell(v), h("td", { class: "mode-cell" }, MODE_LABELS[mode] || mode), h("td", { class: "used-cell" }, used),
    h("td", { class: "time-cell" }, time), h("td", { class: "wrap" }, judged.what),
    h("td", { class: "metric-cell" }, judged.change),
    h("td", { class: "wrap decision-cell" }, h("strong", {}, decision.activated ? "yes" : "no"),
      decision.reason ? ` · ${decision.reason}` : ""),
    h("td", { class: "gain-cell" }, typeof needed === "number" ? String(needed)
      : mode === "catalogue" ? "none needed" : "not recorded"));
}

/** The figure a version was judged by, and its value before (the version active then) and after. */
function judgedBy(v, mode) {
  const metrics = v.metrics || {};
  const views = mode === "catalogue" && metrics.views;
  const table = (views ? metrics.views : metrics.heldout) || {};
  const key = views ? "recall_at_1" : "agreement";
  const fresh = table.new || {};
  const what = views ? `Held-out views that find their own design first (recall@1, ${fresh.views ?? 0} views)`
    : `Agreement with held-out ratings (${fresh.pairs ?? 0} pairs)`;
  const before = [v.compared_with, v.base_version].find((name) => name && table[name] && typeof table[name][key] === "number");
  const after = fresh[key];
  if (typeof after !== "number") return { what, change: "not measured" };
  if (!before) return { what, change: `${v.version} ${fixed(after)}` };
  const old = table[before][key], delta = after - old;
  return { what, change: `${before} ${fixed(old)} → ${v.version} ${fixed(after)} (${delta >= 0 ? "+" : "−"}${fixed(Math.abs(delta))})` };
}
