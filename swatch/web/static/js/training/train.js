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
    const mode = f.namedItem("mode").value;
    const note = $("#train-result");
    try {
      const started = await adminCall("/api/train", {
        model: "pattern", mode, epochs: Number(f.namedItem("epochs").value), activate: f.namedItem("activate").value,
      });
      note.dataset.kind = "ok";
      note.textContent = `Training started (${mode === "catalogue" ? "from the catalogue, without labels" : "from ratings"}):`
        + ` job ${started.job}. The new version appears under “Pattern versions” when it is done.`;
      toast("Training started");
      watchJob();
    } catch (err) {
      note.dataset.kind = "error";
      note.textContent = `Not started: ${err.message}`;
      toast(`Not started: ${err.message}`, "error");
    }
  });
}
