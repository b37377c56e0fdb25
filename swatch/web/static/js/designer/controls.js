// The search controls: compare by (model), colour/pattern balance, model version, how many (remembered).

import { $, h } from "../dom.js";
import { storage } from "../storage.js";
import { search } from "./results.js";
import { activeVersion, chooseModel, currentVersion, state, versionsOf } from "./state.js";

/** The version picker of the current model: "active (vN)" first, then every version. */
export function fillVersionPicker() {
  const select = $("#version");
  const active = activeVersion(state.model);
  select.replaceChildren(h("option", { value: "" }, active ? `active (${active})` : "active"));
  for (const v of versionsOf(state.model)) {
    select.append(h("option", { value: v.version }, v.version + (v.version === active ? " · active" : "")));
  }
  const chosen = currentVersion();
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
}

function showWeight() {
  const combined = state.model === "color+pattern";
  $("#weight-box").hidden = !combined;
  const w = Number(state.weight);
  $("#weight").value = String(w);
  $("#weight-out").textContent = `${Math.round(w * 100)} % colour · ${Math.round((1 - w) * 100)} % pattern`;
}

function modelRadios() {
  return $("#search-form").querySelectorAll("input[name=model]");
}

/** The controls showing the current model, its version and the balance. */
export function syncControls() {
  for (const radio of modelRadios()) radio.checked = radio.value === state.model;
  fillVersionPicker();
  showWeight();
}

export function wireControls() {
  $("#search-form").addEventListener("submit", (ev) => ev.preventDefault());
  for (const radio of modelRadios()) {
    radio.checked = radio.value === state.model;
    radio.addEventListener("change", () => chooseModel(radio.value));
  }
  $("#weight").addEventListener("input", (ev) => {
    state.weight = Number(ev.target.value);
    storage.set("weight", state.weight);
    showWeight();
  });
  $("#weight").addEventListener("change", () => search(true));
  $("#version").addEventListener("change", (ev) => chooseModel(state.model, ev.target.value));
  const topn = $("#topn");
  if (![...topn.options].some((o) => Number(o.value) === Number(state.topN))) topn.append(h("option", { value: state.topN }, state.topN));
  topn.value = String(state.topN);
  topn.addEventListener("change", () => {
    state.topN = Number(topn.value);
    storage.set("topN", state.topN);
    search(true);
  });
  showWeight();
}
