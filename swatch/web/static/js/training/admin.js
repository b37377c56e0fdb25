// Admin access: the admin token of this tab, and the model versions table with activation.

import { adminCall, adminToken, api, setAdminToken } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { date, modelLabel, modelName } from "../format.js";
import { loadCurves } from "./curve.js";

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

/** The models table (one row per version, "Activate" on the inactive ones), then the loss curves. */
export async function loadModelTable() {
  const body = $("#models-table tbody");
  let models;
  try {
    models = (await api("/api/models")).models || [];
  } catch (err) {
    body.replaceChildren(messageRow(5, `Models unavailable: ${err.message}`));
    return;
  }
  const rows = [];
  for (const m of models) {
    const name = modelName(m);
    for (const v of m.versions || []) {
      const active = v.version === m.active;
      rows.push(h("tr", {},
        h("td", {}, modelLabel(name)), h("td", {}, v.version, active ? h("span", { class: "pill" }, "active") : null),
        h("td", {}, (v.info && v.info.kind) || ""), h("td", {}, date(v.created_at)),
        h("td", {}, active ? "" : h("button", { type: "button", class: "secondary", onclick: () => activate(name, v.version) }, "Activate"))));
    }
  }
  body.replaceChildren(...(rows.length ? rows : [messageRow(5, "No model versions yet.")]));
  loadCurves(models);
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
