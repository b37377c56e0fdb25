// The side panel (right): the models with their versions (and comments) to pick from, and the cluster sets to open.

import { api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { date, describe, modelLabel, modelName, thumbUrl } from "../format.js";
import { storage } from "../storage.js";
import { fillVersionPicker } from "./controls.js";
import { catFilters, fillClusterSelect } from "./filters.js";
import { openImage } from "./results.js";
import { activeVersion, chooseModel, clustersOf, state, versionsOf } from "./state.js";

let modelNotes = new Map(); // "pattern/v2" -> its comments (training page)
let setNotes = new Map(); // "v3" -> the cluster set's comments

const notesLine = (notes) => (notes && notes.length
  ? h("small", { class: "muted version-notes" }, notes.map((n) => n.body).join(" · ")) : null);

/** The model list: each model's versions as buttons (with their comments), the one in use marked. */
export function renderModels() {
  const list = $("#models");
  const models = (state.models && state.models.models) || [];
  if (!models.length) {
    list.replaceChildren(h("li", { class: "muted" }, "No models yet: ingest images first."));
    return;
  }
  list.replaceChildren(...models.map((m) => {
    const name = modelName(m);
    const inUse = name === state.model;
    return h("li", { class: "model" + (inUse ? " current" : "") },
      h("div", { class: "model-name" }, modelLabel(name), inUse ? h("span", { class: "badge" }, "in use") : null),
      h("ul", { class: "versions" }, ...versionsOf(name).map((v) => {
        const chosen = (state.versions[name] || m.active) === v.version && inUse;
        return h("li", {},
          h("button", {
            type: "button", class: "version" + (chosen ? " chosen" : ""), "aria-pressed": chosen ? "true" : "false",
            title: versionTitle(v), onclick: () => chooseVersion(name, v.version),
          }, v.version, v.version === m.active ? h("span", { class: "pill" }, "active") : null,
          v.info && v.info.kind ? h("small", { class: "muted" }, ` ${v.info.kind}`) : null),
          notesLine(modelNotes.get(`${name}/${v.version}`)));
      })));
  }));
}

function versionTitle(v) {
  const bits = [v.created_at ? `created ${date(v.created_at)}` : null];
  if (v.info && v.info.metrics) bits.push(Object.entries(v.info.metrics).map(([k, x]) => `${k} ${typeof x === "number" ? x.toFixed(3) : x}`).join(", "));
  return bits.filter(Boolean).join(" · ") || v.version;
}

function chooseVersion(model, version) {
  chooseModel(model, version === activeVersion(model) ? "" : version);
}

export async function loadModelList() {
  try {
    const notes = api("/api/comments", { params: { kind: "model" } }).catch(() => ({ comments: [] }));
    state.models = await api("/api/models");
    modelNotes = new Map();
    for (const n of (await notes).comments || []) modelNotes.set(n.subject, [...(modelNotes.get(n.subject) || []), n]);
  } catch (err) {
    state.models = { models: [] };
    toast(`Models unavailable: ${err.message}`, "error");
  }
  fillVersionPicker();
  renderModels();
}

/** The cluster set picker (the last one chosen, else the newest) and its clusters. */
export async function loadSideClusters() {
  const select = $("#side-cluster-version");
  let versions = [];
  try {
    versions = (await api("/api/clusters")).versions || [];
  } catch (err) {
    const why = err.status === 404 ? "clustering is not available on this server." : err.message;
    $("#clusters").replaceChildren(h("p", { class: "muted" }, `Clusters unavailable: ${why}`));
    return;
  }
  if (!versions.length) {
    $("#clusters").replaceChildren(h("p", { class: "muted" }, "No cluster sets yet: make one on the training page."));
    return;
  }
  setNotes = new Map(versions.map((v) => [v.version, v.comments || []]));
  select.replaceChildren(...versions.map((v) => h("option", { value: v.version },
    `${v.version} · ${modelLabel(v.model)} · ${v.k} clusters` + (v.method && v.method !== "kmeans" ? ` (${v.method})` : ""))));
  const saved = storage.get("clusterVersion", "");
  select.value = versions.some((v) => v.version === saved) ? saved : versions[versions.length - 1].version;
  select.addEventListener("change", () => { storage.set("clusterVersion", select.value); showClusters(select.value); });
  showClusters(select.value);
}

async function showClusters(version) {
  const box = $("#clusters");
  if (!version) { box.replaceChildren(); return; }
  box.replaceChildren(h("p", { class: "muted" }, "Loading clusters…"));
  try {
    const data = await clustersOf(version);
    const clusters = (data.clusters || []).slice().sort((a, b) => b.size - a.size);
    box.replaceChildren(notesLine(setNotes.get(version)) || "", ...clusters.map((c, k) => h("details", { class: "cluster", open: k === 0 },
      h("summary", {}, h("span", {}, c.not_grouped ? "Not grouped" : `Cluster ${c.cluster}` + (c.name ? ` · ${c.name}` : "")),
        h("span", { class: "muted" }, `${c.size} designs`)),
      h("div", { class: "reps" }, ...(c.representatives || []).slice(0, 6).map((img) =>
        h("button", { type: "button", class: "rep", onclick: () => openImage(img), title: describe(img) },
          h("img", { src: thumbUrl(img), alt: describe(img), loading: "lazy", width: 64, height: 64 })))),
      c.not_grouped ? null : h("button", { type: "button", class: "link-button",
        onclick: () => filterCatalogueToCluster(version, c.cluster) }, "Show in catalogue"))));
  } catch (err) {
    box.replaceChildren(h("p", { class: "muted" }, `Clusters unavailable: ${err.message}`));
  }
}

async function filterCatalogueToCluster(version, id) {
  const fs = catFilters();
  fs.elements.namedItem("cluster_version").value = version;
  await fillClusterSelect(fs);
  fs.elements.namedItem("cluster").value = String(id);
  $("#cat-filter-box").open = true;
  fs.dispatchEvent(new Event("change", { bubbles: true }));
}
