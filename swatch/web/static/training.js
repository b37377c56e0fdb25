// The training and clustering page: cluster versions, start/compare clustering, browse and correct a cluster set
// (hand moves), ratings, training, jobs, loss curve.
import { adminHeaders, api, describe, h, pct, storage, thumbUrl, toast } from "./common.js";

const $ = (sel) => document.querySelector(sel);
const MODEL_LABELS = { color: "Colour", pattern: "Pattern", "color+pattern": "Colour + pattern" };
let models = [];
let trainedVersions = []; // /api/train/versions: pattern versions with data used, loss curve, metrics

function day(ts) {
  return ts ? String(ts).slice(0, 16).replace("T", " ") : "";
}

function fixed(x, digits = 3) {
  return typeof x === "number" ? x.toFixed(digits) : "–";
}

// -- admin token --------------------------------------------------------------------------------

function showTokenState() {
  const has = Boolean(sessionStorage.getItem("swatch.adminToken"));
  $("#token-state").textContent = has ? "A token is set for this tab." : "No token set: you can look, not change.";
}

function wireToken() {
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("#token").value.trim();
    if (value) sessionStorage.setItem("swatch.adminToken", value);
    else sessionStorage.removeItem("swatch.adminToken");
    $("#token").value = "";
    showTokenState();
  });
  showTokenState();
}

async function adminCall(path, json) {
  return api(path, { json, headers: adminHeaders() });
}

// -- models -------------------------------------------------------------------------------------

async function loadModels() {
  const body = $("#models-table tbody");
  try {
    models = (await api("/api/models")).models || [];
  } catch (err) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, `Models unavailable: ${err.message}`)));
    return;
  }
  const rows = [];
  for (const m of models) {
    const name = m.model || m.name;
    for (const v of m.versions || []) {
      const active = v.version === m.active;
      rows.push(h("tr", {},
        h("td", {}, MODEL_LABELS[name] || name), h("td", {}, v.version, active ? h("span", { class: "pill" }, "active") : null),
        h("td", {}, (v.info && v.info.kind) || ""), h("td", {}, String(v.created_at || "").slice(0, 10)),
        h("td", {}, active ? "" : h("button", { type: "button", class: "secondary", onclick: () => activate(name, v.version) }, "Activate"))));
    }
  }
  body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No model versions yet."))]));
  loadTrainedVersions();
}

async function loadTrainedVersions() {
  try {
    trainedVersions = (await api("/api/train/versions")).versions || [];
  } catch {
    trainedVersions = []; // training not available on this server: versions from /api/models only
  }
  fillCurveVersions();
}

async function activate(model, version) {
  try {
    await adminCall("/api/models", { model, version });
    toast(`${MODEL_LABELS[model] || model} ${version} is now active`);
    loadModels();
  } catch (err) {
    toast(`Not activated: ${err.message}`, "error");
  }
}

// -- clusters -----------------------------------------------------------------------------------

async function loadClusters() {
  const body = $("#cluster-table tbody");
  let data;
  try {
    data = await api("/api/clusters");
  } catch (err) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "muted" }, `Clusters unavailable: ${err.message}`)));
    return;
  }
  const versions = data.versions || [];
  body.replaceChildren(...(versions.length ? versions.slice().reverse().map((v) => h("tr", {},
    h("td", {}, v.version, " ", h("a", { href: `/api/clusters/${encodeURIComponent(v.version)}/export.csv`,
      title: `Download ${v.version} as CSV (file name, design, cluster)` }, "CSV")),
    h("td", {}, `${MODEL_LABELS[v.model] || v.model} ${v.feature_version}`),
    h("td", {}, v.k), h("td", {}, fixed(v.metrics && v.metrics.silhouette)), h("td", {}, v.moves ?? 0),
    h("td", {}, String(v.created_at || "").slice(0, 10))))
    : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No cluster sets yet: start one below."))]));
  for (const name of ["a", "b"]) {
    const select = $("#compare-form").elements.namedItem(name);
    select.replaceChildren(...versions.map((v) => h("option", { value: v.version }, `${v.version} (${MODEL_LABELS[v.model] || v.model}, k=${v.k})`)));
  }
  if (versions.length > 1) {
    $("#compare-form").elements.namedItem("a").value = versions[versions.length - 2].version;
    $("#compare-form").elements.namedItem("b").value = versions[versions.length - 1].version;
  }
  fillFixVersions(versions);
}

function wireClusterForms() {
  $("#cluster-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const k = f.namedItem("k").value.trim().toLowerCase();
    const body = { model: f.namedItem("model").value, k: k === "auto" || !k ? "auto" : Number(k),
      seed: Number(f.namedItem("seed").value || 0) };
    try {
      const res = await adminCall("/api/clusters", body);
      toast("Clustering started");
      watchJob(res.job);
    } catch (err) {
      toast(`Not started: ${err.message}`, "error");
    }
  });
  $("#compare-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const out = $("#compare-out");
    try {
      const c = await api("/api/clusters/compare", { params: { a: f.namedItem("a").value, b: f.namedItem("b").value } });
      out.replaceChildren(
        h("p", {}, h("strong", {}, `${c.moved} of ${c.common} designs moved`), ` (${pct(c.moved_share)}); `,
          `agreement NMI ${fixed(c.nmi)}, ARI ${fixed(c.ari)}.`),
        h("p", {}, `Splits: ${(c.splits || []).map((s) => `cluster ${s.cluster} → ${(s.into || []).map((x) => x.cluster ?? x).join(", ")}`).join("; ") || "none"}.`),
        h("p", {}, `Merges: ${(c.merges || []).map((m) => `cluster ${m.cluster} ← ${(m.from || []).map((x) => x.cluster ?? x).join(", ")}`).join("; ") || "none"}.`));
    } catch (err) {
      out.replaceChildren(h("p", { class: "muted" }, `Cannot compare: ${err.message}`));
    }
  });
}

// -- browse and correct a cluster set (hand moves) ----------------------------------------------

const fix = { version: "", k: 0, clusters: [], seq: 0, known: new Map() }; // known: image id -> record

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The set picker follows the cluster table; the choice is kept while the set exists (newest set otherwise). */
function fillFixVersions(versions) {
  const select = $("#fix-version");
  const keep = versions.some((v) => v.version === fix.version) ? fix.version : (versions.at(-1) || {}).version || "";
  select.replaceChildren(...versions.slice().reverse().map((v) =>
    h("option", { value: v.version }, `${v.version} (${MODEL_LABELS[v.model] || v.model}, k=${v.k})`)));
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

/** Sizes of every cluster of a set (no members), then the chosen cluster's members and the set's moves. */
async function loadFixVersion(version, cluster) {
  fix.version = version;
  const seq = ++fix.seq;
  let data;
  try {
    data = await api(`/api/clusters/${encodeURIComponent(version)}`, { params: { limit: 0 } });
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
    `Cluster ${c.cluster} · ${plural(c.size, "design")}` + (c.kmeans_size != null && c.kmeans_size !== c.size ? ` (k-means ${c.kmeans_size})` : ""))));
  select.value = String(previous < fix.k ? previous : 0);
  await Promise.all([loadMembers(), loadMoves()]);
}

async function loadMembers() {
  const list = $("#fix-members");
  const cluster = Number($("#fix-cluster").value);
  const seq = fix.seq;
  list.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api(`/api/clusters/${encodeURIComponent(fix.version)}`, { params: { cluster, limit: 200 } });
  } catch (err) {
    if (seq === fix.seq) list.replaceChildren(h("li", { class: "muted" }, `Members unavailable: ${err.message}`));
    list.setAttribute("aria-busy", "false");
    return;
  }
  if (seq !== fix.seq) return;
  const c = (data.clusters || [])[0] || { members: [], size: 0 };
  c.members.forEach((m) => fix.known.set(m.id, m));
  $("#fix-legend").textContent = `Designs in cluster ${cluster} of ${fix.version}`;
  list.replaceChildren(...(c.members.length ? c.members.map(memberTile)
    : [h("li", { class: "muted" }, "This cluster is empty.")]));
  if (c.size > c.members.length) list.append(h("li", { class: "muted pick-more" }, `Showing the ${c.members.length} nearest the centre of ${c.size}.`));
  list.setAttribute("aria-busy", "false");
  const target = $("#fix-target");
  const chosen = target.value;
  target.replaceChildren(...fix.clusters.filter((x) => x.cluster !== cluster).map((x) =>
    h("option", { value: x.cluster }, `cluster ${x.cluster} (${x.size})`)));
  if ([...target.options].some((o) => o.value === chosen)) target.value = chosen;
  updatePicked();
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
}

function showFix(message, kind) {
  const out = $("#fix-result");
  out.textContent = message;
  out.dataset.kind = kind;
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
    res = await adminCall(`/api/clusters/${encodeURIComponent(fix.version)}/move`, { ids, to, ...(by ? { by } : {}) });
  } catch (err) {
    const why = err.status === 401 ? "Moving needs the admin token: paste it under Admin access first."
      : err.status === 403 ? `The server refused: ${err.message}. Check the admin token under Admin access.`
        : `Not moved: ${err.message}`;
    showFix(why, "error");
    toast(why, "error");
    return;
  }
  const moved = res.moved.length, same = res.unchanged.length;
  showFix(`Moved ${plural(moved, "design")} from cluster ${from} to cluster ${res.to} of ${res.version}`
    + ` (by ${res.moved_by}, ${day(res.moved_at)} UTC).` + (same ? ` ${plural(same, "design")} already there.` : ""), "ok");
  toast(`Moved ${plural(moved, "design")} to cluster ${res.to}`);
  await Promise.all([loadFixVersion(fix.version, from), loadClusters()]);
}

async function loadMoves() {
  const body = $("#moves-table tbody");
  const seq = fix.seq;
  let rows;
  try {
    rows = (await api(`/api/clusters/${encodeURIComponent(fix.version)}/moves`, { params: { limit: 50 } })).moves || [];
  } catch (err) {
    if (seq === fix.seq) body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, `Moves unavailable: ${err.message}`)));
    return;
  }
  const missing = [...new Set(rows.map((r) => r.image_id).filter((id) => !fix.known.has(id)))];
  await Promise.allSettled(missing.map(async (id) => fix.known.set(id, await api(`/api/images/${id}`))));
  if (seq !== fix.seq) return;
  body.replaceChildren(...(rows.length ? rows.map((r) => {
    const img = fix.known.get(r.image_id) || { id: r.image_id, filename: `design #${r.image_id}` };
    return h("tr", { dataset: { id: r.image_id } }, h("td", {}, `${day(r.moved_at)} UTC`),
      h("td", {}, h("span", { class: "design-cell" },
        h("img", { class: "mini", src: thumbUrl(img), alt: "", width: 32, height: 32 }), describe(img))),
      h("td", {}, `cluster ${r.from}`), h("td", {}, `cluster ${r.to}`), h("td", {}, r.moved_by || ""));
  }) : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No moves yet in this set."))]));
}

function wireFix() {
  $("#fix-version").addEventListener("change", (ev) => { showFix("", ""); loadFixVersion(ev.target.value, 0); });
  $("#fix-cluster").addEventListener("change", () => { fix.seq += 1; showFix("", ""); loadMembers(); });
  $("#fix-target").addEventListener("change", updatePicked);
  $("#fix-all").addEventListener("click", () => {
    document.querySelectorAll("#fix-members input").forEach((el) => { el.checked = true; });
    updatePicked();
  });
  $("#fix-none").addEventListener("click", () => {
    document.querySelectorAll("#fix-members input").forEach((el) => { el.checked = false; });
    updatePicked();
  });
  $("#fix-move").addEventListener("click", moveSelected);
  $("#fix-by").value = storage.get("movedBy", "");
}

// -- ratings and training -----------------------------------------------------------------------

async function loadFeedback() {
  const body = $("#feedback-table tbody");
  try {
    const data = await api("/api/feedback/summary");
    const rows = (data.versions || []).map((v) => h("tr", {},
      h("td", {}, MODEL_LABELS[v.model] || v.model), h("td", {}, v.version), h("td", {}, v.count),
      h("td", {}, fixed(v.mean, 2)), h("td", {}, [1, 2, 3, 4, 5].map((s) => v.stars[s] ?? v.stars[String(s)] ?? 0).join(" · "))));
    body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No ratings yet: rate results on the main page."))]));
  } catch (err) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, `Ratings unavailable: ${err.message}`)));
  }
}

function wireTraining() {
  $("#train-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      const res = await adminCall("/api/train", {
        model: "pattern", epochs: Number(f.namedItem("epochs").value), activate: f.namedItem("activate").value,
      });
      toast("Training started");
      watchJob(res.job || res.id);
    } catch (err) {
      toast(`Not started: ${err.message}`, "error");
    }
  });
  $("#curve-version").addEventListener("change", drawCurve);
}

/** Pattern versions, each with `info` holding what training recorded (loss curve, data, metrics). */
function patternVersions() {
  if (trainedVersions.length) return trainedVersions.map((v) => ({ ...v, info: v }));
  const m = models.find((x) => (x.model || x.name) === "pattern");
  return m ? m.versions || [] : [];
}

/** The per-epoch losses of a trained version: `loss_curve` in its info or one level down (e.g. info.training). */
function lossCurve(info) {
  if (!info || typeof info !== "object") return null;
  const nested = Object.values(info).filter((v) => v && typeof v === "object" && !Array.isArray(v));
  const curve = [info, ...nested].map((o) => o.loss_curve).find((c) => Array.isArray(c) && c.length);
  return curve ? curve.map((x) => (typeof x === "object" ? x.loss : x)).filter((x) => typeof x === "number") : null;
}

function fillCurveVersions() {
  const select = $("#curve-version");
  const trained = patternVersions().filter((v) => (lossCurve(v.info) || []).length);
  select.hidden = !trained.length;
  select.replaceChildren(...trained.map((v) => h("option", { value: v.version }, `pattern ${v.version}`)));
  if (trained.length) select.value = trained[trained.length - 1].version;
  drawCurve();
}

function drawCurve() {
  const canvas = $("#loss-chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, hgt = canvas.height, pad = 34;
  ctx.clearRect(0, 0, w, hgt);
  const v = patternVersions().find((x) => x.version === $("#curve-version").value);
  const curve = v && lossCurve(v.info);
  canvas.hidden = !(curve && curve.length);
  if (canvas.hidden) return;
  ctx.strokeStyle = "#d6d2c8";
  ctx.strokeRect(pad, 8, w - pad - 8, hgt - pad - 8);
  const lo = Math.min(...curve), hi = Math.max(...curve);
  const x = (i) => pad + (i / Math.max(1, curve.length - 1)) * (w - pad - 8);
  const y = (val) => 8 + (1 - (val - lo) / Math.max(1e-9, hi - lo)) * (hgt - pad - 8);
  ctx.strokeStyle = "#0f766e";
  ctx.lineWidth = 2;
  ctx.beginPath();
  curve.forEach((val, i) => (i ? ctx.lineTo(x(i), y(val)) : ctx.moveTo(x(i), y(val))));
  ctx.stroke();
  ctx.fillStyle = "#5f6670";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(hi.toFixed(3), 2, 18);
  ctx.fillText(lo.toFixed(3), 2, hgt - pad);
  ctx.fillText(`epoch 1 … ${curve.length}`, pad, hgt - 10);
  const decision = v.info.decision && v.info.decision.reason ? ` ${v.info.decision.reason}` : "";
  $("#curve-note").textContent =
    `Loss per epoch of pattern ${v.version}: ${curve[0].toFixed(3)} → ${curve[curve.length - 1].toFixed(3)}.${decision}`;
}

// -- jobs ---------------------------------------------------------------------------------------

let polling = null;

function jobView(j) {
  const running = j.state === "queued" || j.state === "running";
  return h("div", { class: "job" },
    h("div", { class: "job-head" }, h("strong", {}, `${j.kind} · ${day(j.created_at)}`),
      h("span", { class: `state state-${j.state}` }, j.state)),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": Math.round((j.progress || 0) * 100), "aria-label": `${j.kind} progress` },
    h("span", { style: { width: `${(j.progress || 0) * 100}%` } })),
    h("div", { class: "muted" }, j.state === "done" && j.result && j.result.version
      ? `made ${j.kind === "cluster" ? "cluster set" : "version"} ${j.result.version}` : j.message || (running ? "working…" : "")),
    running ? h("button", { type: "button", class: "link-button", onclick: () => cancelJob(j.id) }, "Cancel") : null);
}

async function loadJobs() {
  try {
    const jobs = (await api("/api/jobs")).jobs || [];
    $("#jobs").replaceChildren(...(jobs.length ? jobs.slice(0, 8).map(jobView) : [h("p", { class: "muted" }, "No jobs yet.")]));
    const busy = jobs.some((j) => j.state === "queued" || j.state === "running");
    if (busy && !polling) polling = setInterval(loadJobs, 1000);
    if (!busy && polling) {
      clearInterval(polling);
      polling = null;
      loadClusters();
      loadModels();
    }
  } catch (err) {
    $("#jobs").replaceChildren(h("p", { class: "muted" }, `Jobs unavailable: ${err.message}`));
  }
}

function watchJob() {
  loadJobs();
  if (!polling) polling = setInterval(loadJobs, 1000);
}

async function cancelJob(id) {
  try {
    await adminCall(`/api/jobs/${encodeURIComponent(id)}/cancel`, {});
    toast("Cancelling…");
    loadJobs();
  } catch (err) {
    toast(`Not cancelled: ${err.message}`, "error");
  }
}

wireToken();
wireClusterForms();
wireFix();
wireTraining();
loadModels();
loadClusters();
loadFeedback();
loadJobs();
