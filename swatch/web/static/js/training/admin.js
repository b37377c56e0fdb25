// Admin access: the admin token of this tab, and the model versions table with activation.

import { adminCall, adminToken, api, setAdminToken } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { date, modelLabel, modelName } from "../format.js";
import { loadCurves } from "./curve.js";
import { addNote, loadNotes, notesCell } from "./notes.js";

function showTokenState() {
  $("#token-state").textContent = adminToken() ? "A token is set for this tab." : "No token set: you can look, not change.";
}

export function wireToken() {
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setAdminToken($("#token").value.trim());
    $("#token").value = "";
    showTokenState();
  });
  showTokenState();
}

/** The models table (one row per version with its comments, "Activate" on the inactive ones), then the loss
 * curves. */
export async function loadModelTable() {
  const body = $("#models-table tbody");
  let models, notes;
  try {
    [models, notes] = await Promise.all([api("/api/models").then((d) => d.models || []), loadNotes("model")]);
  } catch (err) {
    body.replaceChildren(messageRow(6, `Models unavailable: ${err.message}`));
    return;
  }
  const subjects = [];
  const rows = [];
  for (const m of models) {
    const name = modelName(m);
    for (const v of m.versions || []) {
      const active = v.version === m.active;
      const subject = `${name}/${v.version}`;
      subjects.push(subject);
      rows.push(h("tr", { dataset: { subject } },
        h("td", {}, modelLabel(name)), h("td", {}, v.version, active ? h("span", { class: "pill" }, "active") : null),
        h("td", {}, (v.info && v.info.kind) || ""), h("td", {}, date(v.created_at)), notesCell(notes.get(subject)),
        h("td", {}, active ? "" : h("button", { type: "button", class: "secondary", onclick: () => activate(name, v.version) }, "Activate"))));
    }
  }
  body.replaceChildren(...(rows.length ? rows : [messageRow(6, "No model versions yet.")]));
  const pick = $("#model-note-form").elements.namedItem("subject");
  const chosen = pick.value;
  pick.replaceChildren(...subjects.map((s) => h("option", { value: s }, s)));
  if (subjects.includes(chosen)) pick.value = chosen;
  loadCurves(models);
}

/** The "comment on a model version" form under the models table. */
export function wireModelNotes() {
  $("#model-note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    if (await addNote("model", f.namedItem("subject").value, f.namedItem("body").value)) f.namedItem("body").value = "";
  });
}

async function activate(model, version) {
  try {
    await adminCall("/api/models", { model, version });
    toast(`${modelLabel(model)} ${version} is now active`);
    loadModelTable();
  } catch (err) {
    toast(`Not activated: ${err.message}`, "error");
  }
}
