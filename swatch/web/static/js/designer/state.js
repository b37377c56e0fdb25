// The designer page's shared state: the search settings, the models answer, the cluster cache, the query.

import { api, clusterUrl } from "../api.js";
import { storage } from "../storage.js";

export const state = {
  model: storage.get("model", "pattern"),
  versions: storage.get("versions", {}), // model -> chosen version ("" = active)
  weight: storage.get("weight", 0.5),
  topN: storage.get("topN", 24),
  models: null, // /api/models answer
  facets: null,
  query: null, // {type: "image", image} | {type: "upload", file, url, name}
  queryPalette: null,
  clusterCache: new Map(),
};

const settingsListeners = [];

/** Call `fn` (after the others) whenever the model or its version changes. */
export function onSettingsChange(fn) {
  settingsListeners.push(fn);
}

/** Search with `model` (and, when given, `version` of it; "" = the active one); remembered for the next visit. */
export function chooseModel(model, version) {
  state.model = model;
  storage.set("model", model);
  if (version !== undefined) {
    state.versions[model] = version;
    storage.set("versions", state.versions);
  }
  for (const fn of settingsListeners) fn();
}

/** The version picked for the current model ("" = the active one). */
export function currentVersion() {
  return state.versions[state.model] || "";
}

export function modelEntry(model) {
  const models = (state.models && state.models.models) || [];
  return models.find((m) => m.model === model || m.name === model) || null;
}

export function activeVersion(model) {
  const m = modelEntry(model);
  return m ? m.active : null;
}

/** The versions of a model as records ({version, info, created_at}). */
export function versionsOf(model) {
  const m = modelEntry(model);
  return m ? (m.versions || []).map((v) => (typeof v === "string" ? { version: v } : v)) : [];
}

/** The clusters (sizes, representatives) of a cluster set, fetched once per page. */
export async function clustersOf(version) {
  if (!state.clusterCache.has(version)) {
    state.clusterCache.set(version, api(clusterUrl(version), { params: { limit: 0 } }).catch((err) => {
      state.clusterCache.delete(version);
      throw err;
    }));
  }
  return state.clusterCache.get(version);
}
