// Catalogue change alerts (above the catalogue): what changed in the folders since the last ingest, a few
// previews of new files, "Check now" and "Apply" (an ingest job with progress; admin), the folder list.

import { ApiError, adminHeaders, adminToken, api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { plural } from "../format.js";
import { loadCatalogue } from "./catalogue.js";

const CHANGES_POLL_MS = 60_000; // how often the page reads the server's last check (the server checks on its own)
const INGEST_POLL_MS = 400;
const CHANGE_PREVIEWS = 6;

function changePreviewUrl(folder, path) {
  return `/api/folders/${folder}/preview?path=${encodeURIComponent(path)}`;
}

function changeCountsLine(totals) {
  const parts = [];
  if (totals.new) parts.push(plural(totals.new, "new file"));
  if (totals.changed) parts.push(`${totals.changed} changed`);
  if (totals.removed) parts.push(`${totals.removed} removed`);
  if (totals.metadata) parts.push(plural(totals.metadata, "metadata file") + " changed");
  return parts.join(", ");
}

function renderChanges(data) {
  const box = $("#change-alert");
  const pending = data.folders.filter((f) => f.pending);
  const running = data.jobs.length > 0;
  box.hidden = !pending.length && !running;
  if (box.hidden) return;
  const totals = { new: 0, changed: 0, removed: 0, metadata: 0 };
  for (const f of pending) {
    totals.new += f.counts.new;
    totals.changed += f.counts.changed;
    totals.removed += f.counts.removed;
    totals.metadata += f.metadata_changed ? 1 : 0;
  }
  const thumbs = pending.flatMap((f) => f.new.map((p) => ({ folder: f.folder, path: p }))).slice(0, CHANGE_PREVIEWS);
  const where = pending.map((f) => f.name).join(", ");
  $("#change-text").textContent = pending.length
    ? `${changeCountsLine(totals)} in ${where}, not yet in the catalogue.` : "Applying the catalogue changes…";
  $("#change-thumbs").replaceChildren(...thumbs.map((t) => h("figure", { class: "change-thumb" },
    h("img", { src: changePreviewUrl(t.folder, t.path), alt: t.path, loading: "lazy", width: 64, height: 64 }),
    h("figcaption", {}, t.path.split("/").pop()))));
  $("#change-apply").disabled = running || !pending.length;
  if (running) followIngest(data.jobs[0].id);
}

/** The server's last check of the folders. */
export async function loadChanges() {
  try {
    renderChanges(await api("/api/changes"));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
}

let followedJob = null;
/** Show an ingest job's progress until it ends, then reload the catalogue and the alert. */
async function followIngest(jobId) {
  if (followedJob === jobId) return;
  followedJob = jobId;
  const bar = $("#change-progress");
  const line = $("#change-job");
  bar.hidden = false;
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    bar.value = job.progress;
    line.textContent = job.message || job.state;
    if (job.state !== "queued" && job.state !== "running") {
      followedJob = null;
      bar.hidden = true;
      toast(job.state === "done" ? "Catalogue updated" : `Ingest ${job.state}: ${job.message}`,
        job.state === "done" ? "info" : "error");
      if (job.state === "done") line.textContent = "";
      loadCatalogue(true);
      loadChanges();
      loadFolders();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, INGEST_POLL_MS));
  }
}

async function changesAdminPost(path, json) {
  if (!adminToken()) {
    toast("Applying changes needs the admin token (set it on the Training page)", "error");
    return null;
  }
  try {
    return await api(path, { json: json || {}, headers: adminHeaders() });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    toast(err.message, "error");
    return null;
  }
}

async function applyChanges() {
  const started = await changesAdminPost("/api/ingest", {});
  if (started) {
    $("#change-apply").disabled = true;
    followIngest(started.job);
  }
}

async function checkFoldersNow() {
  const data = await changesAdminPost("/api/changes/check", {});
  if (data) {
    renderChanges(data);
    if (!data.pending) toast("No changes in the catalogue's folders");
  }
}

/** The catalogue's folders, each with its designs and (admin) a Remove button. */
export async function loadFolders() {
  const list = $("#folder-list");
  let data;
  try {
    data = await api("/api/folders");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return;
  }
  list.replaceChildren(...data.folders.map((f) => h("li", { class: f.removed ? "folder removed" : "folder" },
    h("span", { class: "folder-name" }, f.name),
    h("span", { class: "muted" }, f.removed ? "removed" : plural(f.images, "design")),
    f.removed
      ? h("button", { type: "button", class: "secondary", onclick: () => readdFolder(f) }, "Add again")
      : h("button", { type: "button", class: "secondary", onclick: () => removeFolder(f) }, "Remove"))));
}

async function removeFolder(folder) {
  if (!confirm(`Remove the ${folder.images} designs of ${folder.name} from the catalogue? Files stay on disk.`)) return;
  const started = await changesAdminPost(`/api/folders/${folder.id}/remove`, {});
  if (started) followIngest(started.job);
}

async function readdFolder(folder) {
  const started = await changesAdminPost("/api/ingest", { folder: folder.id });
  if (started) followIngest(started.job);
}

export function wireChanges() {
  $("#change-apply").addEventListener("click", applyChanges);
  $("#change-check").addEventListener("click", checkFoldersNow);
  $("#folders-box").addEventListener("toggle", () => { if ($("#folders-box").open) loadFolders(); });
  loadChanges();
  setInterval(loadChanges, CHANGES_POLL_MS);
}
