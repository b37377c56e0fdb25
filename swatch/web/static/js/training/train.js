// Teaching the pattern model: the ratings collected so far and starting a training run.

import { adminCall, api } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { fixed, modelLabel } from "../format.js";
import { watchJob } from "./jobs.js";

/** Ratings per model version: how many, their mean, and the count of each star. */
export async function loadFeedback() {
  const body = $("#feedback-table tbody");
  try {
    const data = await api("/api/feedback/summary");
    const rows = (data.versions || []).map((v) => h("tr", {},
      h("td", {}, modelLabel(v.model)), h("td", {}, v.version), h("td", {}, v.count),
      h("td", {}, fixed(v.mean, 2)), h("td", {}, [1, 2, 3, 4, 5].map((s) => v.stars[s] ?? v.stars[String(s)] ?? 0).join(" · "))));
    body.replaceChildren(...(rows.length ? rows : [messageRow(5, "No ratings yet: rate results on the main page.")]));
  } catch (err) {
    body.replaceChildren(messageRow(5, `Ratings unavailable: ${err.message}`));
  }
}

export function wireTraining() {
  $("#train-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      await adminCall("/api/train", {
        model: "pattern", epochs: Number(f.namedItem("epochs").value), activate: f.namedItem("activate").value,
      });
      toast("Training started");
      watchJob();
    } catch (err) {
      toast(`Not started: ${err.message}`, "error");
    }
  });
}
