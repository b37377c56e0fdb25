// Moves: browse a cluster set's clusters, tick designs and move them by hand (or into a new cluster), name
// clusters; the set's comments and history of moves.

import { adminCall, api, clusterUrl } from "../api.js";
import { $, h, messageRow, toast } from "../dom.js";
import { describe, minute, plural, thumbUrl } from "../format.js";
import { storage } from "../storage.js";
import { loadClusters, setLabel } from "./clusters.js";
import { addNote, noteItem } from "./notes.js";

const MEMBERS_SHOWN = 200; // designs of a cluster shown, nearest the centre first
const MOVES_SHOWN = 50;

const fix = { version: "", k: 0, clusters: [], seq: 0, known: new Map() }; // known: image id -> record

/** The set picker follows the cluster table; the choice is kept while the set exists (newest set otherwise). */
export function fillFixVersions(versions) {
  const select = $("#fix-version");
  const keep = versions.some((v) => v.version === fix.version) ? fix.version : (versions.at(-1) || {}).version || "";
  select.replaceChildren(...versions.slice().reverse().map((v) => h("option", { value: v.version }, setLabel(v))));
  select.value = keep;
  if (!keep) {
    fix.version = "";
    $("#fix-cluster").replaceChildren();
    $("#fix-members").replaceChildren(h("li", { class: "muted" }, "No cluster sets yet: make one above."));
    updatePicked();
  } else if (keep !== fix.version) {
    loadFixVersion(keep);
  }
}

/** "Not grouped" for DBSCAN's -1, else "Cluster 3" with its name when it has one. */
function clusterName(c) {
  if (c.not_grouped) return "Not grouped";
  return `Cluster ${c.cluster}` + (c.name ? ` “${c.name}”` : "");
}

/** Sizes of every cluster of a set (no members), then the chosen cluster's members, the set's comments and moves. */
async function loadFixVersion(version, cluster) {
  fix.version = version;
  const seq = ++fix.seq;
  let data;
  try {
    data = await api(clusterUrl(version), { params: { limit: 0 } });
  } catch (err) {
    if (seq === fix.seq) showFix(`Cannot load cluster set ${version}: ${err.message}`, "error");
    return;
  }
  if (seq !== fix.seq) return;
  fix.k = data.k;
  fix.clusters = data.clusters || [];
  const select = $("#fix-cluster");
  const previous = cluster ?? (select.value === "" ? 0 : Number(select.value));
  select.replaceChildren(...fix.clusters.map((c) => h("option", { value: c.cluster },
    `${clusterName(c)} · ${plural(c.size, "design")}` + (c.kmeans_size != null && c.kmeans_size !== c.size ? ` (at the run ${c.kmeans_size})` : ""))));
  const ids = fix.clusters.map((c) => c.cluster);
  select.value = String(ids.includes(previous) ? previous : ids.find((c) => c >= 0) ?? ids[0] ?? 0);
  await Promise.all([loadMembers(), loadMoves(), loadSetNotes()]);
}

/** The comments on the chosen set. */
export async function loadSetNotes() {
  const list = $("#set-notes");
  if (!fix.version) return;
  const version = fix.version;
  try {
    const notes = (await api("/api/comments", { params: { kind: "cluster", subject: version } })).comments || [];
    if (version !== fix.version) return;
    list.replaceChildren(...(notes.length ? notes.map((n) => noteItem(n)) : [h("li", { class: "muted" }, "No comments yet.")]));
  } catch (err) {
    list.replaceChildren(h("li", { class: "muted" }, `Comments unavailable: ${err.message}`));
  }
}

async function loadMembers() {
  const list = $("#fix-members");
  const cluster = Number($("#fix-cluster").value);
  const seq = fix.seq;
  list.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api(clusterUrl(fix.version), { params: { cluster, limit: MEMBERS_SHOWN } });
  } catch (err) {
    if (seq === fix.seq) list.replaceChildren(h("li", { class: "muted" }, `Members unavailable: ${err.message}`));
    list.setAttribute("aria-busy", "false");
    return;
  }
  if (seq !== fix.seq) return;
  const c = (data.clusters || [])[0] || { members: [], size: 0, cluster };
  c.members.forEach((m) => fix.known.set(m.id, m));
  $("#fix-legend").textContent = `Designs in ${c.not_grouped ? "the not grouped set" : `cluster ${cluster}`} of ${fix.version}`;
  $("#fix-members").classList.toggle("not-grouped", !!c.not_grouped);
  $("#fix-name").value = c.not_grouped ? "" : c.name || "";
  $("#fix-name").placeholder = c.not_grouped ? "designs in no dense group" : "no name yet";
  list.replaceChildren(...(c.members.length ? c.members.map(memberTile)
    : [h("li", { class: "muted" }, "This cluster is empty.")]));
  if (c.size > c.members.length) list.append(h("li", { class: "muted pick-more" }, `Showing the ${c.members.length} nearest the centre of ${c.size}.`));
  list.setAttribute("aria-busy", "false");
  fillTargets(cluster);
  updatePicked();
}

/** "Move selected to": every other cluster of the set (the choice kept when still there). */
function fillTargets(cluster) {
  const target = $("#fix-target");
  const chosen = target.value;
  target.replaceChildren(...fix.clusters.filter((x) => x.cluster !== cluster).map((x) =>
    h("option", { value: x.cluster }, `${clusterName(x).replace(/^C/, "c").replace(/^Not/, "not")} (${x.size})`)));
  if ([...target.options].some((o) => o.value === chosen)) target.value = chosen;
}

function memberTile(img) {
  const box = h("input", { type: "checkbox", value: img.id, onchange: updatePicked });
  return h("li", {}, h("label", { class: "pick", title: img.filename, dataset: { id: img.id } }, box,
    h("img", { src: thumbUrl(img), alt: describe(img), loading: "lazy", width: 120, height: 120 }),
    h("span", { class: "pick-label" }, img.design || img.filename,
      img.colourway ? h("small", {}, ` · ${img.colourway}`) : null,
      img.moved ? h("span", { class: "tag", title: "moved here by hand" }, "moved") : null)));
}

function picked() {
  return [...document.querySelectorAll("#fix-members input:checked")].map((el) => Number(el.value));
}

function updatePicked() {
  document.querySelectorAll("#fix-members .pick").forEach((el) => el.classList.toggle("on", el.querySelector("input").checked));
  const n = picked().length;
  $("#fix-count").textContent = n ? `${plural(n, "design")} selected.` : "No designs selected.";
  $("#fix-move").disabled = !n || !$("#fix-target").value;
  $("#fix-new").disabled = !n || !$("#fix-new-name").value.trim();
}

function showFix(message, kind) {
  const out = $("#fix-result");
  out.textContent = message;
  out.dataset.kind = kind;
}

function moveError(err) {
  if (err.status === 401) return "Moving needs the admin token: paste it under Admin access first.";
  if (err.status === 403) return `The server refused: ${err.message}. Check the admin token under Admin access.`;
  return `Not moved: ${err.message}`;
}

async function moveSelected() {
  const ids = picked();
  const to = Number($("#fix-target").value);
  const from = Number($("#fix-cluster").value);
  const by = $("#fix-by").value.trim();
  storage.set("movedBy", by);
  if (!ids.length) return;
  let res;
  try {
    res = await adminCall(clusterUrl(fix.version, "/move"), { ids, to, ...(by ? { by } : {}) });
  } catch (err) {
    const why = moveError(err);
    showFix(why, "error");
    toast(why, "error");
    return;
  }
  const moved = res.moved.length, same = res.unchanged.length;
  showFix(`Moved ${plural(moved, "design")} from cluster ${from} to cluster ${res.to} of ${res.version}`
    + ` (by ${res.moved_by}, ${minute(res.moved_at)} UTC).` + (same ? ` ${plural(same, "design")} already there.` : ""), "ok");
  toast(`Moved ${plural(moved, "design")} to cluster ${res.to}`);
  await Promise.all([loadFixVersion(fix.version, from), loadClusters()]);
}

async function newCluster() {
  const ids = picked();
  const name = $("#fix-new-name").value.trim();
  const by = $("#fix-by").value.trim();
  if (!ids.length || !name) return;
  let res;
  try {
    res = await adminCall(clusterUrl(fix.version, "/clusters"), { ids, name, ...(by ? { by } : {}) });
  } catch (err) {
    const why = moveError(err).replace("Not moved", "No new cluster");
    showFix(why, "error");
    toast(why, "error");
    return;
  }
  showFix(`New cluster ${res.cluster} “${res.name}” of ${res.version} with ${plural(res.moved.length, "design")}.`, "ok");
  toast(`Cluster ${res.cluster} “${res.name}” made`);
  $("#fix-new-name").value = "";
  await Promise.all([loadFixVersion(fix.version, res.cluster), loadClusters()]);
}

async function renameCluster(ev) {
  ev.preventDefault();
  const cluster = Number($("#fix-cluster").value);
  const name = $("#fix-name").value.trim();
  const by = $("#fix-by").value.trim();
  if (!fix.version || !name) return;
  try {
    await adminCall(clusterUrl(fix.version, "/rename"), { cluster, name, ...(by ? { by } : {}) });
  } catch (err) {
    const why = moveError(err).replace("Not moved", "Not renamed");
    showFix(why, "error");
    toast(why, "error");
    return;
  }
  showFix(`Cluster ${cluster} of ${fix.version} is now “${name}”.`, "ok");
  toast("Renamed");
  await loadFixVersion(fix.version, cluster);
}

function moveRow(r) {
  const img = fix.known.get(r.image_id) || { id: r.image_id, filename: `design #${r.image_id}` };
  return h("tr", { dataset: { id: r.image_id } }, h("td", {}, `${minute(r.moved_at)} UTC`),
    h("td", {}, h("span", { class: "design-cell" },
      h("img", { class: "mini", src: thumbUrl(img), alt: "", width: 32, height: 32 }), describe(img))),
    h("td", {}, `cluster ${r.from}`), h("td", {}, `cluster ${r.to}`), h("td", {}, r.moved_by || ""));
}

async function loadMoves() {
  const body = $("#moves-table tbody");
  const seq = fix.seq;
  let rows;
  try {
    rows = (await api(clusterUrl(fix.version, "/moves"), { params: { limit: MOVES_SHOWN } })).moves || [];
  } catch (err) {
    if (seq === fix.seq) body.replaceChildren(messageRow(5, `Moves unavailable: ${err.message}`));
    return;
  }
  const missing = [...new Set(rows.map((r) => r.image_id).filter((id) => !fix.known.has(id)))];
  await Promise.allSettled(missing.map(async (id) => fix.known.set(id, await api(`/api/images/${id}`))));
  if (seq !== fix.seq) return;
  body.replaceChildren(...(rows.length ? rows.map(moveRow) : [messageRow(5, "No moves yet in this set.")]));
}

function checkAll(on) {
  document.querySelectorAll("#fix-members input").forEach((el) => { el.checked = on; });
  updatePicked();
}

export function wireFix() {
  $("#fix-version").addEventListener("change", (ev) => { showFix("", ""); loadFixVersion(ev.target.value, 0); });
  $("#fix-cluster").addEventListener("change", () => { fix.seq += 1; showFix("", ""); loadMembers(); });
  $("#fix-target").addEventListener("change", updatePicked);
  $("#fix-all").addEventListener("click", () => checkAll(true));
  $("#fix-none").addEventListener("click", () => checkAll(false));
  $("#fix-move").addEventListener("click", moveSelected);
  $("#fix-new").addEventListener("click", newCluster);
  $("#fix-new-name").addEventListener("input", updatePicked);
  $("#fix-rename").addEventListener("submit", renameCluster);
  $("#set-note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = ev.target.elements.namedItem("body");
    if (await addNote("cluster", fix.version, input.value)) input.value = "";
  });
  $("#fix-by").value = storage.get("movedBy", "");
}
