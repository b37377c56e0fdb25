// Ratings: 1–5 stars under each result (for a catalogue design as the query), saved as feedback for training.

import { api } from "../api.js";
import { h, icon, toast } from "../dom.js";
import { plural } from "../format.js";
import { activeVersion, currentVersion, state } from "./state.js";

const STAR_TITLES = ["", "Not alike", "Weak match", "Fair match", "Good match", "Excellent match"];
const ratings = new Map(); // query|result|model|version -> stars given on this page

function ratingKey(r) {
  const q = state.query;
  return `${q.image.id}|${r.id}|${state.model}|${currentVersion() || activeVersion(state.model)}`;
}

/** The star buttons of a result card (none for an uploaded query). */
export function stars(r) {
  const q = state.query;
  if (!q || q.type !== "image") return null;
  const current = ratings.get(ratingKey(r)) || 0;
  const group = h("div", { class: "stars", role: "radiogroup", "aria-label": `Rate how well ${r.design || r.filename} matches` });
  for (let n = 1; n <= 5; n++) {
    group.append(h("button", {
      type: "button", class: "star" + (n <= current ? " on" : ""), role: "radio",
      "aria-checked": n === current ? "true" : "false", "aria-label": plural(n, "star"),
      title: STAR_TITLES[n], onclick: () => rate(r, n, group),
    }, icon("star", "icon star-icon")));
  }
  return group;
}

async function rate(r, rating, group) {
  const q = state.query;
  if (!q || q.type !== "image") return;
  const body = {
    query: q.image.path || q.image.filename, result: r.path || r.filename, model: state.model,
    version: currentVersion() || activeVersion(state.model) || undefined, rating,
  };
  try {
    await api("/api/feedback", { json: body });
    ratings.set(ratingKey(r), rating);
    [...group.children].forEach((b, k) => {
      b.classList.toggle("on", k < rating);
      b.setAttribute("aria-checked", k + 1 === rating ? "true" : "false");
    });
    group.dataset.saved = String(rating);
    toast(`Saved ${plural(rating, "star")} for ${r.design || r.filename}. Thank you!`);
  } catch (err) {
    toast(`Rating not saved: ${err.message}`, "error");
  }
}
