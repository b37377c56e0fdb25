// The search in the address: the query design (#id=N) and model, version, weight, how many and the result
// filters (query string), one history entry per search, so Back returns to the previous one and a link repeats it.

import { $, h } from "../dom.js";
import { fillClusterSelect, readFilters, resFilters } from "./filters.js";
import { currentVersion, state } from "./state.js";

const URL_FILTERS = ["season", "quality", "design", "fiber", "min", "cluster_version", "cluster"];
const URL_KEYS = ["model", "version", "weight", "topN", ...URL_FILTERS];
const URL_MODELS = ["color", "pattern", "color+pattern"];
const urlFlags = { restoring: false };

/** The address of the current search: other parameters (per_page, ...) kept, ours written in a fixed order. */
export function searchAddress() {
  const url = new URL(location.href);
  for (const key of URL_KEYS) url.searchParams.delete(key);
  url.searchParams.delete("login");
  url.searchParams.set("model", state.model);
  const version = currentVersion();
  if (version) url.searchParams.set("version", version);
  if (state.model === "color+pattern") url.searchParams.set("weight", String(state.weight));
  url.searchParams.set("topN", String(state.topN));
  const f = readFilters(resFilters());
  for (const key of URL_FILTERS) {
    if (key === "min" && !f.fiber) continue;
    if (key === "cluster" && !f.cluster_version) continue;
    if (f[key]) url.searchParams.set(key, f[key]);
  }
  const q = state.query;
  url.hash = q && q.type === "image" ? `id=${q.image.id}` : "";
  return url.pathname + url.search + url.hash;
}

/** Write the search that is starting into the address: a new history entry, unless it is the one shown
 * (a restore from the address, or the first search of a fresh page, replaces instead). */
export function recordSearch() {
  const q = state.query;
  if (!q || q.type !== "image") return;
  const next = searchAddress();
  const here = location.pathname + location.search + location.hash;
  if (next === here) return;
  if (urlFlags.restoring || !/^#id=\d+$/.test(location.hash)) history.replaceState({ swatch: 1 }, "", next);
  else history.pushState({ swatch: 1 }, "", next);
}

/** The search written in the address: {id, model, version, weight, topN, filters} (absent parts undefined). */
export function readAddress() {
  const p = new URLSearchParams(location.search);
  const m = /^#id=(\d+)$/.exec(location.hash);
  const model = p.get("model");
  const weight = Number(p.get("weight"));
  const topN = Number(p.get("topN"));
  const filters = {};
  for (const key of URL_FILTERS) filters[key] = (p.get(key) || "").slice(0, 200);
  return {
    id: m ? Number(m[1]) : null,
    model: URL_MODELS.includes(model) ? model : undefined,
    version: /^v\d{1,6}$/.test(p.get("version") || "") ? p.get("version") : p.has("model") ? "" : undefined,
    weight: p.has("weight") && weight >= 0 && weight <= 1 ? weight : undefined,
    topN: Number.isInteger(topN) && topN >= 1 && topN <= 1000 ? topN : undefined,
    filters,
    hasFilters: URL_FILTERS.some((k) => p.has(k)) || p.has("model"),
  };
}

function urlOption(select, value) {
  if (value && ![...select.options].some((o) => o.value === value)) select.append(h("option", { value }, value));
  select.value = value;
}

/** The address's settings into the page's state and result filters (not remembered for the next visit). */
export async function applyAddress(found) {
  if (found.model) state.model = found.model;
  if (found.version !== undefined) state.versions = { ...state.versions, [state.model]: found.version };
  if (found.weight !== undefined) state.weight = found.weight;
  if (found.topN !== undefined) state.topN = found.topN;
  const topn = $("#topn");
  urlOption(topn, String(state.topN));
  if (!found.hasFilters) return;
  const fieldset = resFilters();
  const el = (name) => fieldset.elements.namedItem(name);
  for (const key of ["season", "quality", "fiber", "cluster_version"]) urlOption(el(key), found.filters[key]);
  el("design").value = found.filters.design;
  el("min").value = found.filters.min;
  await fillClusterSelect(fieldset);
  if (found.filters.cluster_version) urlOption(el("cluster"), found.filters.cluster);
  const n = ["season", "quality", "design", "fiber", "cluster_version"].filter((k) => found.filters[k]).length;
  const badge = $("#res-filter-box [data-count]");
  badge.hidden = n === 0;
  badge.textContent = String(n);
}

/** Run `fn` (a restore from the address) with its searches replacing the current history entry. */
export async function whileRestoring(fn) {
  urlFlags.restoring = true;
  try {
    await fn();
  } finally {
    urlFlags.restoring = false;
  }
}
