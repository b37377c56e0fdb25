// Main colours: the query's palette, each visible result's palette (a few requests at a time) and shared colours.

import { api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { state } from "./state.js";

const CLOSE_COLOUR_DE = 12; // CIELAB distance under which two swatches count as "the same colour"
const PARALLEL = 4; // result palettes requested at once

const resultPalettes = new Map(); // image id -> palette ([] when it could not be had)
const paletteQueue = [];
let paletteActive = 0;

/** The query's palette into its card, then the "shared colours" hints of the results. */
export async function loadQueryPalette() {
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

function pumpPalettes() {
  while (paletteActive < PARALLEL && paletteQueue.length) {
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

/** Fetch the palette of a result card once it comes near the screen. */
export function watchPalette(card) {
  paletteObserver.observe(card);
}

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
