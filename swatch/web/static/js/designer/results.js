// The results panel (centre): the query card, the search itself and the cards of the most similar designs.

import { api } from "../api.js";
import { $, afterDecoded, gridKeys, h, toast } from "../dom.js";
import { composition, describe, modelLabel, pct, plural, thumbUrl } from "../format.js";
import { filterBody, readFilters, resFilters, wireFilters } from "./filters.js";
import { loadQueryPalette, watchPalette } from "./palettes.js";
import { stars } from "./ratings.js";
import { currentVersion, state } from "./state.js";
import { openZoom, pickBox } from "./compare.js";
import { recordSearch } from "./urlstate.js";
import { clearMarks, markButtons, markCount, marksBody } from "./marks.js";

const found = { results: [], page: 1, full: false, seq: 0, refine: false, shown: Promise.resolve(), rowShown: false };
// a new list draws its first cards at once, their thumbnails loading eagerly (about a screenful, the first rows
// ahead of the rest); the other cards follow a frame later, their thumbnails loading as they come near the screen
const FIRST_SCREEN = 12;
const HIGH_PRIORITY = 8;

/** Search with a catalogue design (the search goes into the address: designer/urlstate.js). */
export function openImage(img) {
  performance.clearMarks("swatch:click");
  performance.mark("swatch:click");
  state.query = { type: "image", image: img };
  clearMarks();
  for (const el of document.querySelectorAll(".tile.selected")) el.classList.remove("selected");
  const t = document.querySelector(`.tile[data-id="${img.id}"]`);
  if (t) t.classList.add("selected");
  startQuery();
}

/** Show the query and search; its palette (for the colour hints) is fetched once the first results are shown. */
export function startQuery() {
  const q = state.query;
  renderQuery();
  search(true).then(() => found.shown).then(() => { if (state.query === q) loadQueryPalette(); });
}

function renderQuery() {
  const q = state.query;
  if (!q) return;
  const isImage = q.type === "image";
  const img = isImage ? q.image : null;
  $("#query").replaceChildren(
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
          isImage ? h("button", { type: "button", class: "link-button", onclick: () => openZoom(img) }, "Zoom") : null,
          isImage ? pickBox(img) : null,
          isImage ? null : h("span", { class: "muted" }, "Ratings need a catalogue design as the query.")),
      )),
  );
}

function searchParams() {
  const p = { model: state.model, topN: state.topN, page: found.page };
  const v = currentVersion();
  if (v) p.version = v;
  if (state.model === "color+pattern") p.weight = state.weight;
  return p;
}

/** The query's search answer: a catalogue design by id (JSON) or an upload (multipart). */
function ask(q, filters) {
  if (q.type === "image" && found.refine) {  // re-rank the list from the marks on it (designer/marks.js)
    const body = { ids: [q.image.id], ...marksBody(found.results.map((r) => r.id)), ...searchParams(), ...filters };
    return api("/find-similar/refine", { json: body });
  }
  if (q.type === "image") return api("/find-similar", { json: { id: q.image.id, ...searchParams(), ...filters } });
  const form = new FormData();
  form.append("image", q.file);
  for (const [k, v] of Object.entries(searchParams())) form.append(k, String(v));
  for (const [k, v] of Object.entries(filters)) form.append(k, typeof v === "object" ? JSON.stringify(v) : v);
  return api("/api/search", { form });
}

/** Search again with the current settings (`reset`: from the first page; otherwise the next page is added). */
export async function search(reset) {
  const q = state.query;
  if (!q) return;
  if (reset) found.page = 1;
  if (reset && q.type === "image") recordSearch();
  const seq = ++found.seq;
  const list = $("#results");
  $("#res-status").textContent = "Searching…";
  list.setAttribute("aria-busy", "true");
  const filters = filterBody(readFilters(resFilters()));
  try {
    const data = await ask(q, filters);
    if (seq !== found.seq) return;
    const rows = Array.isArray(data) ? data : (data.results || []);
    found.results = reset ? rows : found.results.concat(rows);
    found.full = rows.length >= state.topN;
    await renderResults(reset ? 0 : found.results.length - rows.length, seq);
  } catch (err) {
    if (seq !== found.seq) return;
    $("#res-status").textContent = `Search failed: ${err.message}`;
    if (reset) list.replaceChildren();
    toast(err.message, "error");
  } finally {
    if (seq === found.seq) list.setAttribute("aria-busy", "false");
  }
}

/** Draw the results from `from` on (0: a new list, its first screenful first); resolves once all are drawn. */
async function renderResults(from, seq) {
  const list = $("#results");
  if (from > 0) {
    const cards = found.results.slice(from).map((r, k) => resultCard(r, from + k));
    list.append(...cards);
    renderStatus();
    for (const card of cards) watchPalette(card);
    return;
  }
  const first = found.results.slice(0, FIRST_SCREEN).map((r, k) => resultCard(r, k));
  list.replaceChildren(...first);
  if (first.length) first[0].querySelector(".result-thumb").setAttribute("tabindex", "0");
  found.rowShown = false;
  found.shown = markResultsPainted(first, seq).then(() => {
    found.rowShown = true;
    // the palettes of the colour hints wait for the first row's thumbnails: those get the connections first
    if (seq === found.seq) for (const card of list.children) watchPalette(card);
  });
  if (found.results.length > FIRST_SCREEN) {
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    if (seq !== found.seq) return;
    const rest = found.results.slice(FIRST_SCREEN).map((r, k) => resultCard(r, FIRST_SCREEN + k));
    list.append(...rest);
    if (found.rowShown) for (const card of rest) watchPalette(card);
  }
  renderStatus();
}

/** The line above the results: how many, "Show more", and "Re-rank" once results are marked. */
function renderStatus() {
  const n = found.results.length;
  const status = $("#res-status");
  status.replaceChildren(n ? `${plural(n, "most similar design")} by ${modelLabel(state.model).toLowerCase()}.` :
    "No similar design passes these filters.");
  if (found.full && !found.refine) {
    status.append(" ", h("button", { type: "button", class: "link-button", onclick: () => { found.page += 1; search(false); } }, "Show more"));
  }
  const marked = markCount();
  if (marked && state.query && state.query.type === "image") {
    status.append(" ", h("button", {
      type: "button", class: "link-button", id: "rerank",
      title: "Move the search toward the designs marked alike and away from the others (the marks are saved as ratings)",
      onclick: async () => {
        found.refine = true;
        try { await search(true); } finally { found.refine = false; }
      },
    }, `Re-rank with ${plural(marked, "mark")}`));
  }
}

/** The click's marks: `swatch:click-to-first-row` (the thumbnails of the cards level with the first card decoded,
 * then a frame; the promise resolves then) and `swatch:click-to-results` (the first 12 thumbnails likewise). */
function markResultsPainted(cards, seq) {
  const measure = (name, end) => {
    if (seq !== found.seq) return; // a newer search has replaced these cards
    performance.mark(end);
    try { performance.measure(name, "swatch:click", end); } catch { /* no click mark */ }
  };
  const thumbs = (some) => some.map((c) => c.querySelector("img")).filter(Boolean);
  afterDecoded(thumbs(cards.slice(0, 12)), () => measure("swatch:click-to-results", "swatch:results-painted"));
  return new Promise((resolve) => requestAnimationFrame(() => {
    const top = cards.length ? cards[0].offsetTop : 0;
    afterDecoded(thumbs(cards.filter((c) => c.offsetTop === top)), () => {
      measure("swatch:click-to-first-row", "swatch:first-row-painted");
      resolve();
    });
  }));
}

function resultCard(r, rank) {
  const sim = Math.max(0, Math.min(1, Number(r.similarity) || 0));
  return h("li", { class: "result", dataset: { id: r.id, rank, season: r.season || "", design: r.design || "" } },
    h("button", {
      type: "button", class: "result-thumb", tabindex: "-1",
      "aria-label": `${describe(r)}: ${pct(sim)} similar. Open to find designs like it.`,
      onclick: () => openImage(r),
    }, h("img", { src: thumbUrl(r), alt: describe(r), loading: rank < FIRST_SCREEN ? "eager" : "lazy",
      fetchpriority: rank < HIGH_PRIORITY ? "high" : null, decoding: "async", width: 160, height: 160 })),
    h("div", { class: "result-body" },
      h("div", { class: "sim", title: `similarity ${sim.toFixed(3)}` },
        h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: { width: `${sim * 100}%` } })),
        h("strong", { class: "sim-value" }, pct(sim))),
      h("p", { class: "result-name", title: r.filename }, r.design || r.filename,
        r.design && r.colourway ? h("span", { class: "muted" }, ` colourway ${r.colourway}`) : null),
      h("p", { class: "meta" }, [r.season, r.quality].filter(Boolean).join(" · ") || "\u00a0"),
      r.features && r.features.length ? h("p", { class: "meta" }, composition(r.features)) : null,
      h("div", { class: "why" }, whyText(r)),
      stars(r),
      state.query && state.query.type === "image" ? markButtons(r, renderStatus) : null,
      h("div", { class: "card-tools" }, pickBox(r),
        h("button", { type: "button", class: "link-button zoom-button", onclick: () => openZoom(r) }, "Zoom"))));
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

/** The results shown, with what produced them (for export). */
export function currentResults() {
  return { results: found.results, query: state.query, model: state.model, version: currentVersion() };
}

/** Result filters and keyboard moves through the result grid. */
export function wireResults() {
  wireFilters(resFilters(), $("#res-filter-box"), () => search(true));
  gridKeys($("#results"), ".result-thumb");
}
