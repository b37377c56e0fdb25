// Clusters: the table of cluster sets (with their comments), starting a clustering run (k-means, DBSCAN with a
// suggested eps, agglomerative), comparing two sets.

import { adminCall, api, clusterUrl } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { date, fixed, modelLabel, pct } from "../format.js";
import { watchJob } from "./jobs.js";
import { notesCell } from "./notes.js";

const METHOD_LABELS = { kmeans: "k-means", dbscan: "density", agglomerative: "agglomerative" };

const versionListeners = [];

/** Call `fn(versions)` each time the cluster sets are (re)loaded. */
export function onClusterVersions(fn) {
  versionListeners.push(fn);
}

/** "v3 (Pattern, k=8)": a cluster set in a picker (its method named when not k-means). */
export function setLabel(v) {
  const how = v.method && v.method !== "kmeans" ? `${METHOD_LABELS[v.method] || v.method}, ` : "";
  return `${v.version} (${modelLabel(v.model)}, ${how}k=${v.k})`;
}

/** "k-means", "density, eps 0.31, 12 not grouped", "agglomerative, ward". */
function methodText(v) {
  const p = v.params || {};
  if (v.method === "dbscan") return `density, eps ${fixed(p.eps)}, ${(v.metrics || {}).not_grouped ?? 0} not grouped`;
  if (v.method === "agglomerative") return `agglomerative, ${p.linkage}`;
  return "k-means";
}

function clusterRow(v) {
  return h("tr", { dataset: { version: v.version } },
    h("td", {}, v.version, " ", h("a", { href: clusterUrl(v.version, "/export.csv"),
      title: `Download ${v.version} as CSV (file name, design, cluster)` }, "CSV")),
    h("td", {}, `${modelLabel(v.model)} ${v.feature_version}`),
    h("td", {}, v.k), h("td", {}, fixed(v.metrics && v.metrics.silhouette)), h("td", {}, v.moves ?? 0),
    h("td", { class: "method-cell" }, methodText(v)), notesCell(v.comments), h("td", {}, date(v.created_at)));
}

/** The cluster set table (newest first) and the compare pickers (the last two sets preselected). */
export async function loadClusters() {
  const body = $("#cluster-table tbody");
  let data;
  try {
    data = await api("/api/clusters");
  } catch (err) {
    body.replaceChildren(messageRow(8, `Clusters unavailable: ${err.message}`));
    return;
  }
  const versions = data.versions || [];
  body.replaceChildren(...(versions.length ? versions.slice().reverse().map(clusterRow)
    : [messageRow(8, "No cluster sets yet: start one below.")]));
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

/** The request body of the clustering form, for the method chosen. */
function clusterBody(f) {
  const method = f.namedItem("method").value;
  const body = { model: f.namedItem("model").value, method };
  if (method === "dbscan") {
    const eps = f.namedItem("eps").value.trim();
    if (eps) body.eps = Number(eps);
    body.min_samples = Number(f.namedItem("min_samples").value || 5);
    return body;
  }
  const k = f.namedItem("k").value.trim().toLowerCase();
  body.k = k === "auto" || !k ? "auto" : Number(k);
  body.seed = Number(f.namedItem("seed").value || 0);
  if (method === "agglomerative") body.linkage = f.namedItem("linkage").value;
  return body;
}

let suggestSeq = 0;

/** Pre-fill DBSCAN's eps with the server's suggestion (the knee of the k-distance curve) for the model chosen. */
async function suggestEps() {
  const f = $("#cluster-form").elements;
  const note = $("#method-note");
  const seq = ++suggestSeq;
  const min = Number(f.namedItem("min_samples").value || 5);
  try {
    const s = await api("/api/clusters/suggest-eps", { params: { model: f.namedItem("model").value, min_samples: min } });
    if (seq !== suggestSeq) return;
    f.namedItem("eps").value = String(s.eps);
    note.textContent = `Suggested eps ${s.eps} (knee of the distance to the ${s.min_samples}th nearest design, `
      + `${s.sample} designs sampled). Designs in no dense group are shown as “not grouped”.`;
  } catch (err) {
    if (seq === suggestSeq) note.textContent = `No eps suggestion: ${err.message}`;
  }
}

/** Show the fields of the chosen method only; a density run gets its eps suggested. */
function showMethodFields() {
  const f = $("#cluster-form");
  const method = f.elements.namedItem("method").value;
  f.querySelectorAll("[data-method]").forEach((el) => { el.hidden = !el.dataset.method.split(" ").includes(method); });
  const k = f.elements.namedItem("k");
  if (method === "agglomerative" && k.value.trim().toLowerCase() === "auto") k.value = "12";
  $("#method-note").textContent = method === "agglomerative"
    ? "Agglomerative clusters a sample of at most 5,000 designs; the rest join the nearest cluster." : "";
  if (method === "dbscan") suggestEps();
}

async function startClustering(ev) {
  ev.preventDefault();
  const body = clusterBody(ev.target.elements);
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
  const form = $("#cluster-form");
  form.addEventListener("submit", startClustering);
  form.elements.namedItem("method").addEventListener("change", showMethodFields);
  for (const name of ["model", "min_samples"]) {
    form.elements.namedItem(name).addEventListener("change", () => {
      if (form.elements.namedItem("method").value === "dbscan") suggestEps();
    });
  }
  $("#compare-form").addEventListener("submit", compareSets);
}
