// The Colours panel: up to five picked colours (picker, hex, share slider), "use this design's palette", and the
// search by picked colours (POST /api/search/colors); results go into the normal results list with swatches.

import { api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { describe, pct, plural, thumbUrl } from "../format.js";
import { filterBody, readFilters, resFilters } from "./filters.js";
import { openImage } from "./results.js";
import { state } from "./state.js";

const MAX_COLOURS = 5;
const HEX = /^#[0-9a-fA-F]{6}$/;
export const colourState = { design: null, seq: 0 }; // the last catalogue design searched with (for its palette)

/** The picked colours as the API wants them ({hex, share}; shares are relative, sent with normalise). */
export function pickedColours() {
  return [...document.querySelectorAll("#colour-rows .colour-row")].map((row) => ({
    hex: row.querySelector(".colour-hex").value.trim().toLowerCase(),
    share: Number(row.querySelector(".colour-share").value) / 100,
  }));
}

function refreshShares() {
  const rows = [...document.querySelectorAll("#colour-rows .colour-row")];
  const total = rows.reduce((s, r) => s + Number(r.querySelector(".colour-share").value), 0) || 1;
  for (const row of rows) {
    row.querySelector("output").textContent = `${Math.round((Number(row.querySelector(".colour-share").value) / total) * 100)} %`;
    row.querySelector(".colour-remove").disabled = rows.length === 1;
  }
  $("#colour-add").disabled = rows.length >= MAX_COLOURS;
}

function colourRow(hex, share) {
  const n = document.querySelectorAll("#colour-rows .colour-row").length + 1;
  const picker = h("input", { type: "color", class: "colour-picker", value: hex, "aria-label": `Colour ${n}` });
  const text = h("input", { type: "text", class: "colour-hex", value: hex, size: 8, maxlength: 7, spellcheck: "false",
    pattern: "#[0-9a-fA-F]{6}", "aria-label": `Colour ${n} as hex` });
  const slider = h("input", { type: "range", class: "colour-share", min: 1, max: 100, value: Math.round(share * 100),
    "aria-label": `Share of colour ${n}` });
  picker.addEventListener("input", () => { text.value = picker.value; text.removeAttribute("aria-invalid"); });
  text.addEventListener("input", () => {
    const ok = HEX.test(text.value.trim());
    if (ok) picker.value = text.value.trim().toLowerCase();
    if (ok) text.removeAttribute("aria-invalid"); else text.setAttribute("aria-invalid", "true");
  });
  slider.addEventListener("input", refreshShares);
  const row = h("li", { class: "colour-row" }, picker, text, slider, h("output", { class: "colour-pct" }),
    h("button", { type: "button", class: "link-button colour-remove", "aria-label": `Remove colour ${n}`,
      onclick: () => { row.remove(); refreshShares(); } }, "Remove"));
  return row;
}

/** Replace the picked colours (at most five). */
export function setColours(colours) {
  $("#colour-rows").replaceChildren();
  for (const c of colours.slice(0, MAX_COLOURS)) $("#colour-rows").append(colourRow(c.hex, Math.max(c.share, 0.01)));
  refreshShares();
}

async function useDesignPalette() {
  const q = state.query;
  const design = q && q.type === "image" ? q.image : colourState.design;
  if (!design) { toast("Pick a design first: its palette fills the colours", "error"); return; }
  try {
    const data = await api(`/api/images/${design.id}/palette`);
    setColours(data.palette);
    colourState.design = design;
  } catch (err) {
    toast(`No palette: ${err.message}`, "error");
  }
}

/** A row of swatches; those in `matched` (by hex) are marked. */
export function swatchRow(colours, matched, label) {
  const hit = new Set((matched || []).map((c) => c.hex));
  return h("span", { class: "chips" + (matched ? "" : " plain"), role: "img", "aria-label": label },
    ...colours.map((c) => h("span", {
      class: "swatch" + (hit.has(c.hex) ? " shared" : ""), style: { background: c.hex },
      title: `${c.hex} · ${Math.round(c.share * 100)} %${hit.has(c.hex) ? " · matched" : ""}`,
    })));
}

/** The query card of a colour search: what was asked, with its swatches. */
export function showColourQuery(title, colours, note) {
  $("#query").replaceChildren(h("div", { class: "query-card colour-query" },
    h("span", { class: "eyebrow" }, "Colours"),
    h("strong", { class: "query-title" }, title),
    h("span", { class: "palette colour-query-palette" }, ...colours.map((c) => h("span", {
      class: "swatch", style: { background: c.hex, flexGrow: String(Math.max(c.share, 0.08)) },
      title: `${c.hex} · ${Math.round(c.share * 100)} %` }))),
    note ? h("span", { class: "meta" }, note) : null));
}

/** One result card: thumbnail (opens it as a search), the score bar, metadata and its matched swatches. */
export function colourCard(r, rank, value, why) {
  const v = Math.max(0, Math.min(1, Number(value) || 0));
  return h("li", { class: "result colour-result", dataset: { id: r.id, rank } },
    h("button", { type: "button", class: "result-thumb", tabindex: rank ? "-1" : "0",
      "aria-label": `${describe(r)}: ${pct(v)}. Open to find designs like it.`, onclick: () => openImage(r) },
    h("img", { src: thumbUrl(r), alt: describe(r), loading: "lazy", decoding: "async", width: 160, height: 160 })),
    h("div", { class: "result-body" },
      h("div", { class: "sim", title: `score ${v.toFixed(3)}` },
        h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: { width: `${v * 100}%` } })),
        h("strong", { class: "sim-value" }, pct(v))),
      h("p", { class: "result-name", title: r.filename }, r.design || r.filename,
        r.design && r.colourway ? h("span", { class: "muted" }, ` colourway ${r.colourway}`) : null),
      h("p", { class: "meta" }, [r.season, r.quality].filter(Boolean).join(" · ") || "\u00a0"),
      h("div", { class: "why" }, why,
        swatchRow(r.palette || [], r.matched || [], `matched ${(r.matched || []).map((c) => c.hex).join(", ") || "none"}`),
        h("span", { class: "muted matched-count" }, `${(r.matched || []).length}/${(r.palette || []).length} matched`))));
}

/** Put colour results into the results list (the normal search stops answering into it until the next click). */
export function showColourResults(rows, valueOf, whyOf, status) {
  if (state.query && state.query.type === "image") colourState.design = state.query.image;
  state.query = null;
  for (const el of document.querySelectorAll(".tile.selected")) el.classList.remove("selected");
  $("#results").replaceChildren(...rows.map((r, k) => colourCard(r, k, valueOf(r), whyOf(r))));
  $("#res-status").textContent = status;
}

/** The request's common part: number of results and the result filters. */
export function colourRequest() {
  return { topN: state.topN, ...filterBody(readFilters(resFilters())) };
}

async function searchColours() {
  const colours = pickedColours();
  const bad = colours.find((c) => !HEX.test(c.hex));
  if (bad) { toast(`${bad.hex || "an empty colour"} is not a #rrggbb colour`, "error"); return; }
  const seq = ++colourState.seq;
  $("#res-status").textContent = "Searching…";
  try {
    const rows = await api("/api/search/colors", { json: { colors: colours, normalise: true, ...colourRequest() } });
    if (seq !== colourState.seq) return;
    const total = colours.reduce((s, c) => s + c.share, 0);
    const shown = colours.map((c) => ({ hex: c.hex, share: c.share / total }));
    showColourQuery("Designs with these colours", shown, shown.map((c) => `${c.hex} ${Math.round(c.share * 100)} %`).join(" · "));
    showColourResults(rows, (r) => r.similarity, () => h("span", { class: "tag" }, "Colour story"),
      rows.length ? `${plural(rows.length, "design")} with this colour story, most alike first.` : "No design passes these filters.");
  } catch (err) {
    if (seq === colourState.seq) { $("#res-status").textContent = `Search failed: ${err.message}`; toast(err.message, "error"); }
  }
}

export function wireColours() {
  setColours([{ hex: "#c0603a", share: 0.6 }, { hex: "#1f2a44", share: 0.4 }]);
  $("#colour-add").addEventListener("click", () => {
    if (document.querySelectorAll("#colour-rows .colour-row").length >= MAX_COLOURS) return;
    $("#colour-rows").append(colourRow("#808080", 0.2));
    refreshShares();
  });
  $("#colour-from-design").addEventListener("click", useDesignPalette);
  $("#colour-search").addEventListener("click", searchColours);
}
