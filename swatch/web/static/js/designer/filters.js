// The filter controls, the same in the catalogue and the results panel: read, count, facets, cluster pickers.

import { $, debounce, h, toast } from "../dom.js";
import { api } from "../api.js";
import { clustersOf, state } from "./state.js";

export const catFilters = () => $('[data-filters="cat"]');
export const resFilters = () => $('[data-filters="res"]');

export function readFilters(fieldset) {
  const val = (name) => fieldset.elements.namedItem(name).value.trim();
  return {
    season: val("season"), quality: val("quality"), design: val("design"),
    fiber: val("fiber"), min: val("min"), cluster_version: val("cluster_version"), cluster: val("cluster"),
  };
}

function activeFilterCount(f) {
  return ["season", "quality", "design", "fiber", "cluster_version"].filter((k) => f[k]).length;
}

/** Filters as query parameters (GET /api/images). */
export function filterParams(f) {
  const p = { season: f.season, quality: f.quality, design: f.design };
  if (f.fiber) { p.fiber = f.fiber; p.min = f.min || 0; }
  if (f.cluster_version && f.cluster !== "") { p.cluster_version = f.cluster_version; p.cluster = f.cluster; }
  return p;
}

/** Filters as a JSON body (POST /find-similar). */
export function filterBody(f) {
  const b = {};
  for (const k of ["season", "quality", "design"]) if (f[k]) b[k] = f[k];
  if (f.fiber) b.composition = { fiber: f.fiber, min: Number(f.min || 0) };
  if (f.cluster_version && f.cluster !== "") b.cluster = { version: f.cluster_version, ids: [Number(f.cluster)] };
  return b;
}

function fillFacets(fieldset, facets) {
  for (const el of fieldset.querySelectorAll("[data-facet]")) {
    const values = facets[el.dataset.facet] || [];
    const keep = el.value;
    for (const v of values) {
      const value = typeof v === "object" ? v.value ?? v.version ?? v.code : v;
      const label = typeof v === "object" ? v.label ?? value : v;
      el.append(h("option", { value }, label));
    }
    if (keep) el.value = keep;
  }
}

/** The cluster picker of a fieldset, filled with the clusters of its chosen cluster set. */
export async function fillClusterSelect(fieldset) {
  const version = fieldset.elements.namedItem("cluster_version").value;
  const select = fieldset.elements.namedItem("cluster");
  select.replaceChildren(h("option", { value: "" }, "Any"));
  select.disabled = !version;
  if (!version) return;
  try {
    const data = await clustersOf(version);
    for (const c of (data.clusters || []).filter((x) => !x.not_grouped)) {
      select.append(h("option", { value: c.cluster }, `Cluster ${c.cluster}${c.name ? ` · ${c.name}` : ""} (${c.size})`));
    }
  } catch (err) {
    toast(`Could not load clusters: ${err.message}`, "error");
  }
}

/** Keep the badge of `box` counting the active filters of `fieldset`, calling `onChange` on every change. */
export function wireFilters(fieldset, box, onChange) {
  const changed = () => {
    const n = activeFilterCount(readFilters(fieldset));
    const badge = box.querySelector("[data-count]");
    badge.hidden = n === 0;
    badge.textContent = String(n);
    onChange();
  };
  fieldset.addEventListener("change", async (ev) => {
    if (ev.target.name === "cluster_version") await fillClusterSelect(fieldset);
    changed();
  });
  fieldset.addEventListener("input", debounce((ev) => { if (ev.target.name === "design") changed(); }, 300));
  fieldset.querySelector("button[type=reset]").addEventListener("click", (ev) => {
    ev.preventDefault();
    for (const el of fieldset.elements) if (el.name) el.value = "";
    fieldset.elements.namedItem("cluster").disabled = true;
    changed();
  });
}

/** The facet values (seasons, qualities, fibres, cluster sets) into both filter panels. */
export async function loadFacets() {
  try {
    state.facets = await api("/api/facets");
  } catch (err) {
    state.facets = {};
    toast(`Filters unavailable: ${err.message}`, "error");
    return;
  }
  fillFacets(catFilters(), state.facets);
  fillFacets(resFilters(), state.facets);
}
