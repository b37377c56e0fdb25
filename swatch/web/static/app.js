// The main page: catalogue grid (lazy paging), similar designs with "why", ratings, upload, models and clusters.
import { api, composition, debounce, describe, gridKeys, h, icon, pct, storage, thumbUrl, toast } from "./common.js";

// designs per catalogue page; ?per_page=N overrides it (small pages make paging easy to see and test)
const PER_PAGE = Math.min(200, Math.max(1, Number(new URLSearchParams(location.search).get("per_page")) || 60));
const MODEL_LABELS = { color: "Colour", pattern: "Pattern", "color+pattern": "Colour + pattern" };
const CLOSE_COLOUR_DE = 12; // CIELAB distance under which two swatches count as "the same colour"

const $ = (sel) => document.querySelector(sel);

const state = {
  model: storage.get("model", "pattern"),
  versions: storage.get("versions", {}), // model -> chosen version ("" = active)
  weight: storage.get("weight", 0.5),
  topN: storage.get("topN", 24),
  models: null, // /api/models answer
  facets: null,
  catalogue: { page: 0, total: null, loading: false, seq: 0, done: false },
  query: null, // {type: "image", image} | {type: "upload", file, url, name}
  queryPalette: null,
  results: [],
  resultPage: 1,
  resultsFull: false,
  searchSeq: 0,
  ratings: new Map(),
  clusterCache: new Map(),
};

// ---------------------------------------------------------------------------------------------
// filters (the same controls in the catalogue and the results panel)
// ---------------------------------------------------------------------------------------------

function readFilters(fieldset) {
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
function filterParams(f) {
  const p = { season: f.season, quality: f.quality, design: f.design };
  if (f.fiber) { p.fiber = f.fiber; p.min = f.min || 0; }
  if (f.cluster_version && f.cluster !== "") { p.cluster_version = f.cluster_version; p.cluster = f.cluster; }
  return p;
}

/** Filters as a JSON body (POST /find-similar). */
function filterBody(f) {
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

async function clustersOf(version) {
  if (!state.clusterCache.has(version)) {
    state.clusterCache.set(version, api(`/api/clusters/${encodeURIComponent(version)}`, { params: { limit: 0 } }).catch((err) => {
      state.clusterCache.delete(version);
      throw err;
    }));
  }
  return state.clusterCache.get(version);
}

async function fillClusterSelect(fieldset) {
  const version = fieldset.elements.namedItem("cluster_version").value;
  const select = fieldset.elements.namedItem("cluster");
  select.replaceChildren(h("option", { value: "" }, "Any"));
  select.disabled = !version;
  if (!version) return;
  try {
    const data = await clustersOf(version);
    for (const c of data.clusters || []) select.append(h("option", { value: c.cluster }, `Cluster ${c.cluster} (${c.size})`));
  } catch (err) {
    toast(`Could not load clusters: ${err.message}`, "error");
  }
}

function wireFilters(fieldset, box, onChange) {
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

// ---------------------------------------------------------------------------------------------
// catalogue (left)
// ---------------------------------------------------------------------------------------------

const catFilters = () => $('[data-filters="cat"]');
const resFilters = () => $('[data-filters="res"]');

function tile(img, index) {
  const button = h("button", {
    type: "button", class: "tile", tabindex: "-1", title: img.filename,
    dataset: { id: img.id }, onclick: () => openImage(img),
  },
  // the first screenful loads at once (lazy loading waits for layout); the rest as it scrolls into view
  h("img", { src: thumbUrl(img), alt: describe(img), loading: index < 24 ? "eager" : "lazy",
    fetchpriority: index < 12 ? "high" : null, decoding: "async", width: 128, height: 128 }),
  h("span", { class: "tile-label" }, img.design || img.filename, img.colourway ? h("small", {}, ` · ${img.colourway}`) : null));
  return button;
}

async function loadCatalogue(reset) {
  const cat = state.catalogue;
  if (reset) {
    cat.seq += 1; cat.page = 0; cat.total = null; cat.done = false; cat.loading = false;
    $("#cat-grid").replaceChildren();
  }
  if (cat.loading || cat.done) return;
  cat.loading = true;
  const seq = cat.seq;
  const page = cat.page + 1;
  const grid = $("#cat-grid");
  grid.setAttribute("aria-busy", "true");
  $("#cat-more").textContent = "Loading designs…";
  try {
    const params = { page, per_page: PER_PAGE, q: $("#cat-q").value.trim(), ...filterParams(readFilters(catFilters())) };
    const data = takeEmbeddedPage(params) || await api("/api/images", { params });
    if (seq !== cat.seq) return; // a newer search replaced this one
    const images = data.images || [];
    const first = grid.children.length === 0;
    if (first && page === 1) performance.mark("swatch:catalogue-answer");
    const offset = grid.children.length;
    grid.append(...images.map((img, k) => tile(img, offset + k)));
    if (first && grid.firstElementChild) grid.firstElementChild.setAttribute("tabindex", "0");
    cat.page = page;
    cat.total = data.total;
    cat.done = images.length < PER_PAGE || grid.children.length >= data.total;
    $("#cat-count").textContent = `${Number(data.total).toLocaleString()} design${data.total === 1 ? "" : "s"}`;
    $("#cat-more").textContent = cat.done ? (data.total ? "That's all." : "No design matches: try fewer filters.") : "Scroll for more…";
    if (first && page === 1) markFirstThumbnails(grid);
  } catch (err) {
    firstShown();
    if (seq === cat.seq) {
      $("#cat-more").textContent = `Could not load the catalogue: ${err.message}`;
      toast(err.message, "error");
    }
  } finally {
    if (seq === cat.seq) {
      cat.loading = false;
      grid.setAttribute("aria-busy", "false");
      // the sentinel may still be visible (a tall screen): keep filling
      requestAnimationFrame(() => { if (sentinelVisible()) loadCatalogue(false); });
    }
  }
}

/** The first catalogue page the server put into the HTML (index.html), once, if it is the page asked for. */
function takeEmbeddedPage(params) {
  const el = document.getElementById("first-page");
  if (!el) return null;
  el.remove();
  const plain = Object.entries(params).every(([k, v]) => ["page", "per_page"].includes(k) || v === "" || v === undefined);
  try {
    const data = JSON.parse(el.textContent);
    return plain && params.page === 1 && data.per_page === params.per_page ? data : null;
  } catch {
    return null;
  }
}

function sentinelVisible() {
  const el = $("#cat-more");
  const box = el.getBoundingClientRect();
  const scroller = $("#cat-scroll").getBoundingClientRect();
  return box.top < Math.min(window.innerHeight, scroller.bottom) + 300;
}

let firstMarked = false;
let firstShown = null;
const firstPageShown = new Promise((resolve) => { firstShown = resolve; });

function markFirstThumbnails(grid) {
  if (firstMarked) return;
  firstMarked = true;
  const imgs = [...grid.querySelectorAll("img")].slice(0, 12);
  Promise.all(imgs.map((im) => im.decode().catch(() => null))).then(() => {
    requestAnimationFrame(() => {
      performance.mark("swatch:first-thumbnails");
      firstShown();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// query and results (centre)
// ---------------------------------------------------------------------------------------------

function openImage(img, push = true) {
  performance.clearMarks("swatch:click");
  performance.mark("swatch:click");
  state.query = { type: "image", image: img };
  if (push && location.hash !== `#id=${img.id}`) history.replaceState(null, "", `#id=${img.id}`);
  for (const el of document.querySelectorAll(".tile.selected")) el.classList.remove("selected");
  const t = document.querySelector(`.tile[data-id="${img.id}"]`);
  if (t) t.classList.add("selected");
  startQuery();
}

function openUpload(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    toast(`${file.name} is not an image`, "error");
    return;
  }
  performance.clearMarks("swatch:click");
  performance.mark("swatch:click");
  if (state.query && state.query.type === "upload") URL.revokeObjectURL(state.query.url);
  state.query = { type: "upload", file, url: URL.createObjectURL(file), name: file.name };
  history.replaceState(null, "", location.pathname);
  startQuery();
}

/** Show the query and search; its palette (for the colour hints) is fetched once the results are in. */
function startQuery() {
  const q = state.query;
  renderQuery();
  search(true).then(() => { if (state.query === q) loadQueryPalette(); });
}

async function loadQueryPalette() {
  const q = state.query;
  state.queryPalette = null;
  if (!q) return;
  try {
    let data;
    if (q.type === "image") {
      data = await api(`/api/images/${q.image.id}/palette`);
    } else {
      const form = new FormData();
      form.append("image", q.file);
      data = await api("/api/palette", { form });
    }
    if (state.query !== q) return;
    state.queryPalette = data.palette;
    const box = $("#query .palette");
    if (box) box.replaceChildren(...swatches(data.palette, null));
    refreshHints();
  } catch (err) {
    if (state.query === q) toast(`No palette: ${err.message}`, "error");
  }
}

function renderQuery() {
  const q = state.query;
  const box = $("#query");
  if (!q) return;
  const isImage = q.type === "image";
  const img = isImage ? q.image : null;
  box.replaceChildren(
    h("figure", { class: "query-card" },
      h("img", { src: isImage ? thumbUrl(img) : q.url, alt: isImage ? describe(img) : `Uploaded image ${q.name}` }),
      h("figcaption", {},
        h("span", { class: "eyebrow" }, isImage ? "Designs like" : "Uploaded image"),
        h("strong", { class: "query-title" }, isImage ? (img.design || img.filename) : q.name),
        isImage ? h("span", { class: "meta" }, [img.colourway ? `colourway ${img.colourway}` : null, img.season, img.quality].filter(Boolean).join(" · ")) : null,
        isImage && img.features && img.features.length ? h("span", { class: "meta" }, composition(img.features)) : null,
        h("span", { class: "palette-row" }, h("span", { class: "muted" }, "Main colours"), h("span", { class: "palette" })),
        h("span", { class: "query-actions" },
          isImage ? h("a", { href: `/images/${img.id}/file`, target: "_blank", rel: "noopener" }, "Open original") : null,
          isImage ? null : h("span", { class: "muted" }, "Ratings need a catalogue design as the query.")),
      )),
  );
}

function currentVersion() {
  return state.versions[state.model] || "";
}

function searchParams() {
  const p = { model: state.model, topN: state.topN, page: state.resultPage };
  const v = currentVersion();
  if (v) p.version = v;
  if (state.model === "color+pattern") p.weight = state.weight;
  return p;
}

async function search(reset) {
  const q = state.query;
  if (!q) return;
  if (reset) state.resultPage = 1;
  const seq = ++state.searchSeq;
  const list = $("#results");
  $("#res-status").textContent = "Searching…";
  list.setAttribute("aria-busy", "true");
  const filters = filterBody(readFilters(resFilters()));
  try {
    let data;
    if (q.type === "image") {
      data = await api("/find-similar", { json: { id: q.image.id, ...searchParams(), ...filters } });
    } else {
      const form = new FormData();
      form.append("image", q.file);
      for (const [k, v] of Object.entries(searchParams())) form.append(k, String(v));
      for (const [k, v] of Object.entries(filters)) form.append(k, typeof v === "object" ? JSON.stringify(v) : v);
      data = await api("/api/search", { form });
    }
    if (seq !== state.searchSeq) return;
    const rows = Array.isArray(data) ? data : (data.results || []);
    state.results = reset ? rows : state.results.concat(rows);
    state.resultsFull = rows.length >= state.topN;
    renderResults(reset ? 0 : state.results.length - rows.length);
  } catch (err) {
    if (seq !== state.searchSeq) return;
    $("#res-status").textContent = `Search failed: ${err.message}`;
    if (reset) list.replaceChildren();
    toast(err.message, "error");
  } finally {
    if (seq === state.searchSeq) list.setAttribute("aria-busy", "false");
  }
}

function renderResults(from) {
  const list = $("#results");
  if (from === 0) list.replaceChildren();
  const cards = state.results.slice(from).map((r, k) => resultCard(r, from + k));
  list.append(...cards);
  const first = list.querySelector(".result-thumb");
  if (from === 0 && first) first.setAttribute("tabindex", "0");
  const n = state.results.length;
  const status = $("#res-status");
  status.replaceChildren(n ? `${n} most similar design${n === 1 ? "" : "s"} by ${MODEL_LABELS[state.model].toLowerCase()}.` :
    "No similar design passes these filters.");
  if (state.resultsFull) {
    status.append(" ", h("button", { type: "button", class: "link-button", onclick: () => { state.resultPage += 1; search(false); } }, "Show more"));
  }
  for (const card of cards) paletteObserver.observe(card);
  if (from === 0) markResultsPainted(list);
}

function markResultsPainted(list) {
  const imgs = [...list.querySelectorAll("img")].slice(0, 12);
  Promise.all(imgs.map((im) => im.decode().catch(() => null))).then(() => {
    requestAnimationFrame(() => {
      performance.mark("swatch:results-painted");
      try { performance.measure("swatch:click-to-results", "swatch:click", "swatch:results-painted"); } catch { /* no click mark */ }
    });
  });
}

function resultCard(r, rank) {
  const sim = Math.max(0, Math.min(1, Number(r.similarity) || 0));
  const card = h("li", { class: "result", dataset: { id: r.id, rank, season: r.season || "", design: r.design || "" } },
    h("button", {
      type: "button", class: "result-thumb", tabindex: "-1",
      "aria-label": `${describe(r)}: ${pct(sim)} similar. Open to find designs like it.`,
      onclick: () => openImage(r),
    }, h("img", { src: thumbUrl(r), alt: describe(r), loading: "lazy", decoding: "async", width: 160, height: 160 })),
    h("div", { class: "result-body" },
      h("div", { class: "sim", title: `similarity ${sim.toFixed(3)}` },
        h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: { width: `${sim * 100}%` } })),
        h("strong", { class: "sim-value" }, pct(sim))),
      h("p", { class: "result-name", title: r.filename }, r.design || r.filename,
        r.design && r.colourway ? h("span", { class: "muted" }, ` colourway ${r.colourway}`) : null),
      h("p", { class: "meta" }, [r.season, r.quality].filter(Boolean).join(" · ") || "\u00a0"),
      r.features && r.features.length ? h("p", { class: "meta" }, composition(r.features)) : null,
      h("div", { class: "why" }, whyText(r)),
      stars(r)));
  return card;
}

/** A plain-words reason for a match: same design / quality, and shared colours once the palettes are in. */
function whyText(r) {
  const q = state.query;
  const parts = [];
  const usesPattern = state.model !== "color";
  const usesColour = state.model !== "pattern";
  if (q && q.type === "image" && q.image.design && r.design === q.image.design) {
    parts.push(h("span", { class: "tag tag-strong" }, r.colourway && r.colourway !== q.image.colourway
      ? "Same design, other colourway" : "Same design"));
  } else if (usesPattern) {
    parts.push(h("span", { class: "tag" }, "Alike pattern"));
  }
  if (q && q.type === "image" && r.quality && r.quality === q.image.quality) parts.push(h("span", { class: "tag" }, "Same quality"));
  if (usesColour) parts.push(h("span", { class: "palette-hint", dataset: { for: r.id } }, h("span", { class: "muted" }, "colours…")));
  return parts;
}

function deltaE(a, b) {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** Swatches of a palette; with `against`, colours close to one of its colours are marked shared. */
function swatches(palette, against) {
  return palette.map((c) => {
    const shared = against ? against.some((q) => deltaE(c.lab, q.lab) < CLOSE_COLOUR_DE) : false;
    return h("span", {
      class: "swatch" + (shared ? " shared" : ""),
      style: { background: c.hex, flexGrow: against ? null : String(Math.max(c.share, 0.08)) },
      title: `${c.hex} · ${Math.round(c.share * 100)} %${shared ? " · also in the query" : ""}`,
    });
  });
}

const resultPalettes = new Map();
let paletteQueue = [];
let paletteActive = 0;

function pumpPalettes() {
  while (paletteActive < 4 && paletteQueue.length) {
    const id = paletteQueue.shift();
    paletteActive += 1;
    api(`/api/images/${id}/palette`)
      .then((d) => { resultPalettes.set(id, d.palette); paintHint(id); })
      .catch(() => resultPalettes.set(id, []))
      .finally(() => { paletteActive -= 1; pumpPalettes(); });
  }
}

const paletteObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    paletteObserver.unobserve(e.target);
    if (state.model === "pattern") continue;
    const id = Number(e.target.dataset.id);
    if (resultPalettes.has(id)) paintHint(id);
    else if (!paletteQueue.includes(id)) { paletteQueue.push(id); pumpPalettes(); }
  }
}, { rootMargin: "200px" });

function paintHint(id) {
  const palette = resultPalettes.get(id);
  if (!palette) return;
  for (const box of document.querySelectorAll(`.palette-hint[data-for="${id}"]`)) {
    if (!palette.length) { box.replaceChildren(); continue; }
    const sw = swatches(palette, state.queryPalette);
    const shared = sw.filter((s) => s.classList.contains("shared")).length;
    box.replaceChildren(
      h("span", { class: "chips" + (state.queryPalette ? "" : " plain"), "aria-hidden": "true" }, ...sw),
      state.queryPalette ? h("span", { class: "muted", title: `${shared} of its ${palette.length} main colours are close to the query's` },
        `${shared}/${palette.length} shared`) : null,
    );
  }
}

function refreshHints() {
  for (const id of resultPalettes.keys()) paintHint(id);
}

function ratingKey(r) {
  const q = state.query;
  return `${q.image.id}|${r.id}|${state.model}|${currentVersion() || activeVersion(state.model)}`;
}

function stars(r) {
  const q = state.query;
  if (!q || q.type !== "image") return null;
  const current = state.ratings.get(ratingKey(r)) || 0;
  const group = h("div", { class: "stars", role: "radiogroup", "aria-label": `Rate how well ${r.design || r.filename} matches` });
  for (let n = 1; n <= 5; n++) {
    group.append(h("button", {
      type: "button", class: "star" + (n <= current ? " on" : ""), role: "radio",
      "aria-checked": n === current ? "true" : "false", "aria-label": `${n} star${n > 1 ? "s" : ""}`,
      title: ["", "Not alike", "Weak match", "Fair match", "Good match", "Excellent match"][n],
      onclick: () => rate(r, n, group),
    }, icon("star", "icon star-icon")));
  }
  return group;
}

async function rate(r, rating, group) {
  const q = state.query;
  if (!q || q.type !== "image") return;
  const body = {
    query: q.image.path || q.image.filename, result: r.path || r.filename, model: state.model,
    version: currentVersion() || activeVersion(state.model) || undefined, rating,
  };
  try {
    await api("/api/feedback", { json: body });
    state.ratings.set(ratingKey(r), rating);
    [...group.children].forEach((b, k) => {
      b.classList.toggle("on", k < rating);
      b.setAttribute("aria-checked", k + 1 === rating ? "true" : "false");
    });
    group.dataset.saved = String(rating);
    toast(`Saved ${rating} star${rating > 1 ? "s" : ""} for ${r.design || r.filename}. Thank you!`);
  } catch (err) {
    toast(`Rating not saved: ${err.message}`, "error");
  }
}

// ---------------------------------------------------------------------------------------------
// search controls: model, weight, version, topN (remembered in localStorage)
// ---------------------------------------------------------------------------------------------

function activeVersion(model) {
  const m = modelEntry(model);
  return m ? m.active : null;
}

function modelEntry(model) {
  const models = (state.models && state.models.models) || [];
  return models.find((m) => m.model === model || m.name === model) || null;
}

function versionsOf(model) {
  const m = modelEntry(model);
  return m ? (m.versions || []).map((v) => (typeof v === "string" ? { version: v } : v)) : [];
}

function fillVersionPicker() {
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

function wireControls() {
  const form = $("#search-form");
  form.addEventListener("submit", (ev) => ev.preventDefault());
  for (const radio of form.querySelectorAll("input[name=model]")) {
    radio.checked = radio.value === state.model;
    radio.addEventListener("change", () => {
      state.model = radio.value;
      storage.set("model", state.model);
      fillVersionPicker();
      showWeight();
      renderModels();
      search(true);
    });
  }
  $("#weight").addEventListener("input", (ev) => {
    state.weight = Number(ev.target.value);
    storage.set("weight", state.weight);
    showWeight();
  });
  $("#weight").addEventListener("change", () => search(true));
  $("#version").addEventListener("change", (ev) => {
    state.versions[state.model] = ev.target.value;
    storage.set("versions", state.versions);
    renderModels();
    search(true);
  });
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

function wireUpload() {
  $("#upload").addEventListener("change", (ev) => {
    openUpload(ev.target.files[0]);
    ev.target.value = "";
  });
  const zone = $("#results-panel");
  let depth = 0;
  zone.addEventListener("dragenter", (ev) => {
    if (![...ev.dataTransfer.types].includes("Files")) return;
    ev.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragover", (ev) => { if ([...ev.dataTransfer.types].includes("Files")) ev.preventDefault(); });
  zone.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) zone.classList.remove("dragging"); });
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    openUpload(ev.dataTransfer.files[0]);
  });
  // paste a screenshot or a copied image
  window.addEventListener("paste", (ev) => {
    const file = [...(ev.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) openUpload(file);
  });
}

// ---------------------------------------------------------------------------------------------
// models and clusters (right)
// ---------------------------------------------------------------------------------------------

function renderModels() {
  const list = $("#models");
  const models = (state.models && state.models.models) || [];
  if (!models.length) {
    list.replaceChildren(h("li", { class: "muted" }, "No models yet: ingest images first."));
    return;
  }
  list.replaceChildren(...models.map((m) => {
    const name = m.model || m.name;
    const versions = versionsOf(name);
    return h("li", { class: "model" + (name === state.model ? " current" : "") },
      h("div", { class: "model-name" }, MODEL_LABELS[name] || name,
        name === state.model ? h("span", { class: "badge" }, "in use") : null),
      h("ul", { class: "versions" }, ...versions.map((v) => {
        const chosen = (state.versions[name] || m.active) === v.version;
        return h("li", {},
          h("button", {
            type: "button", class: "version" + (chosen && name === state.model ? " chosen" : ""),
            "aria-pressed": chosen && name === state.model ? "true" : "false",
            title: versionTitle(v), onclick: () => chooseVersion(name, v.version),
          }, v.version, v.version === m.active ? h("span", { class: "pill" }, "active") : null,
          v.info && v.info.kind ? h("small", { class: "muted" }, ` ${v.info.kind}`) : null));
      })));
  }));
}

function versionTitle(v) {
  const bits = [v.created_at ? `created ${String(v.created_at).slice(0, 10)}` : null];
  if (v.info && v.info.metrics) bits.push(Object.entries(v.info.metrics).map(([k, x]) => `${k} ${typeof x === "number" ? x.toFixed(3) : x}`).join(", "));
  return bits.filter(Boolean).join(" · ") || v.version;
}

function chooseVersion(model, version) {
  state.model = model;
  state.versions[model] = version === activeVersion(model) ? "" : version;
  storage.set("model", model);
  storage.set("versions", state.versions);
  for (const radio of document.querySelectorAll("input[name=model]")) radio.checked = radio.value === model;
  fillVersionPicker();
  showWeight();
  renderModels();
  search(true);
}

async function loadModels() {
  try {
    state.models = await api("/api/models");
  } catch (err) {
    state.models = { models: [] };
    toast(`Models unavailable: ${err.message}`, "error");
  }
  fillVersionPicker();
  renderModels();
}

async function loadSideClusters() {
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
  select.replaceChildren(...versions.map((v) => h("option", { value: v.version },
    `${v.version} · ${MODEL_LABELS[v.model] || v.model} · ${v.k} clusters`)));
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
    box.replaceChildren(...clusters.map((c, k) => h("details", { class: "cluster", open: k === 0 },
      h("summary", {}, h("span", {}, `Cluster ${c.cluster}`), h("span", { class: "muted" }, `${c.size} designs`)),
      h("div", { class: "reps" }, ...(c.representatives || []).slice(0, 6).map((img) =>
        h("button", { type: "button", class: "rep", onclick: () => openImage(img), title: describe(img) },
          h("img", { src: thumbUrl(img), alt: describe(img), loading: "lazy", width: 64, height: 64 })))),
      h("button", { type: "button", class: "link-button", onclick: () => filterCatalogueToCluster(version, c.cluster) },
        "Show in catalogue"))));
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

// ---------------------------------------------------------------------------------------------
// start-up
// ---------------------------------------------------------------------------------------------

async function loadFacets() {
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

async function openFromHash() {
  const m = /^#id=(\d+)$/.exec(location.hash);
  if (!m) return;
  try {
    openImage(await api(`/api/images/${m[1]}`), false);
  } catch (err) {
    toast(`Design ${m[1]}: ${err.message}`, "error");
  }
}

function init() {
  performance.mark("swatch:init");
  wireControls();
  wireUpload();
  wireFilters(catFilters(), $("#cat-filter-box"), () => loadCatalogue(true));
  wireFilters(resFilters(), $("#res-filter-box"), () => search(true));
  $("#cat-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadCatalogue(true); });
  $("#cat-q").addEventListener("input", debounce(() => loadCatalogue(true), 250));
  gridKeys($("#cat-grid"), ".tile");
  gridKeys($("#results"), ".result-thumb");
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadCatalogue(false);
  }, { root: $("#cat-scroll"), rootMargin: "300px" }).observe($("#cat-more"));
  loadCatalogue(true);
  openFromHash();
  // the first thumbnails get the connections first; filters, models and clusters follow
  firstPageShown.then(() => {
    loadFacets();
    loadModels();
    loadSideClusters();
  });
  window.addEventListener("hashchange", openFromHash);
}

init();
