// The catalogue panel (left): a grid of designs paged in as it scrolls, searched and filtered.

import { api } from "../api.js";
import { $, afterImagesShown, debounce, gridKeys, h, toast } from "../dom.js";
import { describe, thumbUrl } from "../format.js";
import { catFilters, filterParams, readFilters, wireFilters } from "./filters.js";
import { openImage } from "./results.js";

// designs per catalogue page; ?per_page=N overrides it (small pages make paging easy to see and test)
const PER_PAGE = Math.min(200, Math.max(1, Number(new URLSearchParams(location.search).get("per_page")) || 60));

const cat = { page: 0, total: null, loading: false, seq: 0, done: false };

let firstMarked = false;
let firstShown = null;
/** Resolves once the first thumbnails are on screen (or the first page failed). */
export const firstPageShown = new Promise((resolve) => { firstShown = resolve; });

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

/** Load the next page of the catalogue (`reset`: start again from page 1 with the current search). */
export async function loadCatalogue(reset) {
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
    showPage(grid, page, data);
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

function showPage(grid, page, data) {
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

function markFirstThumbnails(grid) {
  if (firstMarked) return;
  firstMarked = true;
  afterImagesShown(grid, 12, () => {
    performance.mark("swatch:first-thumbnails");
    firstShown();
  });
}

/** Search box, filters, keyboard and paging by scrolling; then the first page. */
export function wireCatalogue() {
  wireFilters(catFilters(), $("#cat-filter-box"), () => loadCatalogue(true));
  $("#cat-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadCatalogue(true); });
  $("#cat-q").addEventListener("input", debounce(() => loadCatalogue(true), 250));
  gridKeys($("#cat-grid"), ".tile");
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadCatalogue(false);
  }, { root: $("#cat-scroll"), rootMargin: "300px" }).observe($("#cat-more"));
}
