// Clusters: the table of cluster sets, starting a clustering run, comparing two sets.

import { adminCall, api, clusterUrl } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { date, fixed, modelLabel, pct } from "../format.js";
import { watchJob } from "./jobs.js";

const versionListeners = [];

/** Call `fn(versions)` each time the cluster sets are (re)loaded. */
export function onClusterVersions(fn) {
  versionListeners.push(fn);
}

/** "v3 (Pattern, k=8)": a cluster set in a picker. */
export function setLabel(v) {
  return `${v.version} (${modelLabel(v.model)}, k=${v.k})`;
}

function clusterRow(v) {
  return h("tr", {},
    h("td", {}, v.version, " ", h("a", { href: clusterUrl(v.version, "/export.csv"),
      title: `Download ${v.version} as CSV (file name, design, cluster)` }, "CSV")),
    h("td", {}, `${modelLabel(v.model)} ${v.feature_version}`),
    h("td", {}, v.k), h("td", {}, fixed(v.metrics && v.metrics.silhouette)), h("td", {}, v.moves ?? 0),
    h("td", {}, date(v.created_at)));
}

/** The cluster set table (newest first) and the compare pickers (the last two sets preselected). */
export async function loadClusters() {
  const body = $("#cluster-table tbody");
  let data;
  try {
    data = await api("/api/clusters");
  } catch (err) {
    body.replaceChildren(messageRow(6, `Clusters unavailable: ${err.message}`));
    return;
  }
  const versions = data.versions || [];
  body.replaceChildren(...(versions.length ? versions.slice().reverse().map(clusterRow)
    : [messageRow(6, "No cluster sets yet: start one below.")]));
  const compare = $("#compare-form").elements;
  for (const name of ["a", "b"]) {
    compare.namedItem(name).replaceChildren(...versions.map((v) => h("option", { value: v.version }, setLabel(v))));
  }
  if (versions.length > 1) {
    compare.namedItem("a").value = versions[versions.length - 2].version;
    compare.namedItem("b").value = versions[versions.length - 1].version;
  }
  for (const fn of versionListeners) fn(versions);
}

async function startClustering(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const k = f.namedItem("k").value.trim().toLowerCase();
  const body = { model: f.namedItem("model").value, k: k === "auto" || !k ? "auto" : Number(k),
    seed: Number(f.namedItem("seed").value || 0) };
  try {
    await adminCall("/api/clusters", body);
    toast("Clustering started");
    watchJob();
  } catch (err) {
    toast(`Not started: ${err.message}`, "error");
  }
}

const clusterList = (xs) => (xs || []).map((x) => x.cluster ?? x).join(", ");

async function compareSets(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const out = $("#compare-out");
  try {
    const c = await api("/api/clusters/compare", { params: { a: f.namedItem("a").value, b: f.namedItem("b").value } });
    out.replaceChildren(
      h("p", {}, h("strong", {}, `${c.moved} of ${c.common} designs moved`), ` (${pct(c.moved_share)}); `,
        `agreement NMI ${fixed(c.nmi)}, ARI ${fixed(c.ari)}.`),
      h("p", {}, `Splits: ${(c.splits || []).map((s) => `cluster ${s.cluster} → ${clusterList(s.into)}`).join("; ") || "none"}.`),
      h("p", {}, `Merges: ${(c.merges || []).map((m) => `cluster ${m.cluster} ← ${clusterList(m.from)}`).join("; ") || "none"}.`));
  } catch (err) {
    out.replaceChildren(h("p", { class: "muted" }, `Cannot compare: ${err.message}`));
  }
}

export function wireClusterForms() {
  $("#cluster-form").addEventListener("submit", startClustering);
  $("#compare-form").addEventListener("submit", compareSets);
}
