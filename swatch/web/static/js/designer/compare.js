// Compare: 2-4 designs picked from the results or the catalogue (a tray), shown side by side at full resolution
// with one zoom and pan for all panes, their palettes, the metadata that differs and each pair's similarity per model.

import { api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { composition, describe, modelLabel, pct, thumbUrl } from "../format.js";

const COMPARE_MAX = 4;
const ZOOM_STEP = 1.5;
const picks = new Map(); // image id -> image record, in the order picked
const view = { scale: 1, x: 0, y: 0, fit: 1, drag: null };
const COMPARE_ROWS = [
  ["design", "Design", (d) => d.design || d.filename],
  ["colourway", "Colourway", (d) => d.colourway || "–"],
  ["season", "Season", (d) => d.season || "–"],
  ["quality", "Quality", (d) => d.quality || "–"],
  ["features", "Fibres", (d) => composition(d.features) || "–"],
  ["cluster", "Cluster", (d) => (d.cluster === null || d.cluster === undefined ? "–" : String(d.cluster))],
];

/** Whether a design is in the compare tray. */
export function isPicked(id) {
  return picks.has(Number(id));
}

/** How many designs the tray holds. */
export function pickCount() {
  return picks.size;
}

/** Put a design into the tray or take it out (at most four). */
export function togglePick(img, on = !isPicked(img.id)) {
  const id = Number(img.id);
  if (on && !picks.has(id)) {
    if (picks.size >= COMPARE_MAX) {
      toast(`Compare takes at most ${COMPARE_MAX} designs: take one out of the tray first.`, "error");
      paintPicks();
      return false;
    }
    picks.set(id, img);
  } else if (!on) {
    picks.delete(id);
  }
  paintPicks();
  return true;
}

/** Empty the tray. */
export function clearPicks() {
  picks.clear();
  paintPicks();
}

/** The "Compare" checkbox of a result card or the query card. */
export function pickBox(img) {
  const box = h("input", { type: "checkbox", class: "pick-box", dataset: { pick: img.id } });
  box.checked = isPicked(img.id);
  box.addEventListener("change", () => togglePick(img, box.checked));
  return h("label", { class: "pick", title: "Add to the compare tray (2–4 designs)" }, box, "Compare");
}

function paintPicks() {
  for (const box of document.querySelectorAll("input[data-pick]")) box.checked = isPicked(box.dataset.pick);
  let tray = $("#compare-tray");
  if (!tray) {
    tray = h("aside", { id: "compare-tray", class: "compare-tray", "aria-label": "Designs to compare" });
    document.body.append(tray);
  }
  tray.hidden = picks.size === 0;
  tray.replaceChildren(
    h("strong", {}, `Compare ${picks.size} of ${COMPARE_MAX}`),
    h("ul", { class: "tray-list" }, [...picks.values()].map((img) => h("li", { dataset: { id: img.id } },
      h("img", { src: thumbUrl(img), alt: describe(img), width: 44, height: 44 }),
      h("button", { type: "button", class: "link-button", "aria-label": `Take ${describe(img)} out`,
        onclick: () => togglePick(img, false) }, "×")))),
    h("button", { type: "button", id: "compare-open", disabled: picks.size < 2, onclick: () => openCompare([...picks.keys()]) },
      picks.size < 2 ? "Pick 2–4 designs" : `Compare ${picks.size} side by side`),
    h("button", { type: "button", class: "secondary", onclick: clearPicks }, "Clear"));
}

function compareDialog() {
  let dlg = $("#compare-dialog");
  if (!dlg) {
    dlg = h("dialog", { id: "compare-dialog", class: "overlay compare-dialog", "aria-labelledby": "compare-title" });
    dlg.closeOverlay = () => dlg.close();
    document.body.append(dlg);
  }
  return dlg;
}

/** One design at full resolution in the zoom view (a results card's "Zoom"). */
export function openZoom(img) {
  showPanes([img], null, `${describe(img)}: the original`);
}

/** Compare 2-4 designs: the server's metadata, differences and similarities, then the panes. */
export async function openCompare(ids) {
  let data;
  try {
    data = await api("/api/compare", { json: { ids } });
  } catch (err) {
    toast(`Compare failed: ${err.message}`, "error");
    return;
  }
  showPanes(data.designs, data, `Comparing ${data.designs.length} designs`);
}

function showPanes(designs, data, title) {
  const dlg = compareDialog();
  const diff = new Set(data ? data.differences : []);
  const panes = designs.map((d) => h("figure", { class: "compare-pane", dataset: { id: d.id } },
    h("div", { class: "zoom-view" }, h("img", { class: "zoom-img", src: `/images/${d.id}/file`, alt: describe(d), draggable: "false" })),
    h("figcaption", {},
      h("strong", {}, d.design || d.filename),
      h("span", { class: "palette compare-palette", dataset: { for: d.id } }),
      h("dl", { class: "compare-meta" }, COMPARE_ROWS.flatMap(([key, label, show]) => [
        h("dt", {}, label), h("dd", { class: diff.has(key) ? "diff" : null, dataset: { field: key } }, show(d))])))));
  dlg.replaceChildren(
    h("header", { class: "compare-head" },
      h("h2", { id: "compare-title" }, title),
      h("div", { class: "zoom-tools", role: "group", "aria-label": "Zoom (all panes together)" },
        h("button", { type: "button", class: "secondary", dataset: { zoom: "out" }, onclick: () => zoomBy(1 / ZOOM_STEP) }, "−"),
        h("button", { type: "button", class: "secondary", dataset: { zoom: "fit" }, onclick: zoomFit }, "Fit"),
        h("button", { type: "button", class: "secondary", dataset: { zoom: "full" }, onclick: () => zoomTo(1) }, "100 % (full resolution)"),
        h("button", { type: "button", class: "secondary", dataset: { zoom: "in" }, onclick: () => zoomBy(ZOOM_STEP) }, "+"),
        h("output", { id: "zoom-level" }, "")),
      h("button", { type: "button", class: "secondary", onclick: () => dlg.close() }, "Close")),
    h("div", { class: `compare-panes n${designs.length}` }, panes),
    data ? similarityTable(data) : h("p", { class: "muted" }, "Drag to pan, the wheel or + / − to zoom; 100 % shows the original's own pixels."));
  if (!dlg.open) dlg.showModal();
  for (const pane of dlg.querySelectorAll(".zoom-view")) wirePan(pane);
  Promise.all([...dlg.querySelectorAll(".zoom-img")].map((im) => im.decode().catch(() => null))).then(zoomFit);
  for (const d of designs) comparePalette(d.id);
}

function similarityTable(data) {
  const name = new Map(data.designs.map((d) => [d.id, `${d.design || d.filename}${d.colourway ? " · " + d.colourway : ""}`]));
  const pairs = data.models[0] ? data.models[0].pairs : [];
  return h("table", { class: "compare-sims" },
    h("caption", {}, "Similarity of each pair (100 % = identical), under the active version of each model"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Pair"),
      data.models.map((m) => h("th", { scope: "col" }, `${modelLabel(m.model)}${m.version ? " " + m.version : ""}`)))),
    h("tbody", {}, pairs.map((p, k) => h("tr", { dataset: { a: p.a, b: p.b } },
      h("th", { scope: "row" }, `${name.get(p.a)} ↔ ${name.get(p.b)}`),
      data.models.map((m) => {
        const s = m.pairs[k] ? m.pairs[k].similarity : null;
        return h("td", { dataset: { model: m.model }, title: s === null ? m.reason || "no features yet" : s.toFixed(4) },
          s === null ? "–" : pct(s));
      })))));
}

async function comparePalette(id) {
  try {
    const data = await api(`/api/images/${id}/palette`);
    const box = document.querySelector(`.compare-palette[data-for="${id}"]`);
    if (box) box.replaceChildren(...data.palette.map((c) => h("span", { class: "swatch", title: `${c.hex} · ${Math.round(c.share * 100)} %`, style: { background: c.hex, flexGrow: String(Math.max(c.share, 0.08)) } })));
  } catch { /* a missing palette leaves the row empty */ }
}

function zoomImages() {
  return [...document.querySelectorAll("#compare-dialog .zoom-img")];
}

function paintZoom() {
  for (const im of zoomImages()) {
    im.style.width = `${im.naturalWidth}px`;
    im.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
  }
  const out = $("#zoom-level");
  if (out) out.textContent = `${Math.round(view.scale * 100)} %`;
}

/** Every original fits its pane (the smallest fit of all panes, so they stay in step), centred. */
function zoomFit() {
  const imgs = zoomImages().filter((im) => im.naturalWidth);
  if (!imgs.length) return;
  view.fit = Math.min(...imgs.map((im) => {
    const box = im.parentElement.getBoundingClientRect();
    return Math.min(box.width / im.naturalWidth, box.height / im.naturalHeight);
  }));
  zoomTo(view.fit);
}

/** Zoom to `scale` (1 = the original's pixels) about the centre of the panes. */
function zoomTo(scale, cx, cy) {
  const first = zoomImages()[0];
  if (!first) return;
  const box = first.parentElement.getBoundingClientRect();
  const px = cx === undefined ? box.width / 2 : cx;
  const py = cy === undefined ? box.height / 2 : cy;
  const next = Math.max(Math.min(view.fit, 0.05), Math.min(8, scale));
  if (cx === undefined && Math.abs(scale - view.fit) < 1e-9) {
    view.x = (box.width - first.naturalWidth * next) / 2;
    view.y = (box.height - first.naturalHeight * next) / 2;
  } else {
    view.x = px - ((px - view.x) * next) / view.scale;
    view.y = py - ((py - view.y) * next) / view.scale;
  }
  view.scale = next;
  paintZoom();
}

function zoomBy(factor, cx, cy) {
  zoomTo(view.scale * factor, cx, cy);
}

function wirePan(pane) {
  pane.addEventListener("pointerdown", (ev) => {
    view.drag = { x: ev.clientX - view.x, y: ev.clientY - view.y };
    pane.setPointerCapture(ev.pointerId);
    pane.classList.add("dragging");
  });
  pane.addEventListener("pointermove", (ev) => {
    if (!view.drag) return;
    view.x = ev.clientX - view.drag.x;
    view.y = ev.clientY - view.drag.y;
    paintZoom();
  });
  const stop = () => { view.drag = null; pane.classList.remove("dragging"); };
  pane.addEventListener("pointerup", stop);
  pane.addEventListener("pointercancel", stop);
  pane.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const box = pane.getBoundingClientRect();
    zoomBy(ev.deltaY < 0 ? 1.2 : 1 / 1.2, ev.clientX - box.left, ev.clientY - box.top);
  }, { passive: false });
}
