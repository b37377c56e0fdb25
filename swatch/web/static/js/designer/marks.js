// Marks within one search: "alike" / "not alike" on result cards re-rank the list at once (POST /find-similar/refine);
// the marks are kept as ratings for the next training.

import { h } from "../dom.js";

const marks = new Map(); // result id -> "yes" | "no", for the current query only

/** How many results are marked. */
export function markCount() {
  return marks.size;
}

/** Forget the marks (a new query). */
export function clearMarks() {
  marks.clear();
}

/** The refine request's marks: liked and disliked ids, and the list they were made on. */
export function marksBody(shownIds) {
  const liked = [], disliked = [];
  for (const [id, mark] of marks) (mark === "yes" ? liked : disliked).push(id);
  // the designs seen: the list shown now and those marked before a re-rank took the rejected ones out
  return { liked, disliked, shown: [...new Set([...shownIds, ...marks.keys()])] };
}

/** The two toggle buttons of a result card; `onChange` runs after each change (to offer the re-rank). */
export function markButtons(r, onChange) {
  const group = h("div", { class: "marks", role: "group", "aria-label": `Mark ${r.design || r.filename} for re-ranking` });
  const make = (value, label, title) => h("button", {
    type: "button", class: `mark mark-${value}`, "aria-pressed": marks.get(r.id) === value ? "true" : "false",
    title, onclick: () => {
      if (marks.get(r.id) === value) marks.delete(r.id); else marks.set(r.id, value);
      for (const b of group.children) b.setAttribute("aria-pressed", marks.get(r.id) === b.dataset.value ? "true" : "false");
      onChange();
    }, dataset: { value },
  }, label);
  group.append(make("yes", "Alike", "More like this one"), make("no", "Not alike", "Fewer like this one"));
  return group;
}
