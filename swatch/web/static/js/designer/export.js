// Export the results shown: a CSV file (quoted, safe against formula injection) and a printable contact sheet.

import { $, h, toast } from "../dom.js";
import { composition, describe, modelLabel, pct, thumbUrl } from "../format.js";

const CSV_COLUMNS = ["rank", "id", "design", "colourway", "filename", "path", "season", "quality", "composition",
  "cluster", "similarity", "model", "version", "query"];
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field: a text that a spreadsheet would run as a formula gets a leading ', then quoted when needed. */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = String(value);
  if (FORMULA_START.test(text)) text = "'" + text;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV text of results (`search`: {results, query, model, version}), CRLF lines with a header. */
export function resultsCsv(search) {
  const q = search.query;
  const queryName = q ? (q.type === "image" ? q.image.filename : q.name) : "";
  const rows = search.results.map((r, k) => [k + 1, r.id, r.design, r.colourway, r.filename, r.path, r.season,
    r.quality, composition(r.features), r.cluster, r.similarity, search.model, r.version || search.version, queryName]);
  return [CSV_COLUMNS, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function exportName(search, ext) {
  const q = search.query;
  const base = q && q.type === "image" ? (q.image.design || `image-${q.image.id}`) + (q.image.colourway ? `-${q.image.colourway}` : "") : "upload";
  return `swatch-${base}-${search.model}.${ext}`.replace(/[^\w.+-]+/g, "_");
}

/** Download the results as CSV (UTF-8 with a byte-order mark, so spreadsheets read accents right). */
export function downloadCsv(search) {
  if (!search.results.length) {
    toast("No results to export yet: pick a design first.", "error");
    return;
  }
  const blob = new Blob(["\ufeff" + resultsCsv(search)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: exportName(search, "csv"), hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The contact sheet: the query and every result as a thumbnail with its code and similarity, styled for print. */
export function openContactSheet(search) {
  if (!search.results.length) {
    toast("No results for a contact sheet yet: pick a design first.", "error");
    return;
  }
  let sheet = $("#contact-sheet");
  if (!sheet) {
    sheet = h("section", { id: "contact-sheet", class: "overlay contact-sheet", "aria-label": "Contact sheet", hidden: true });
    sheet.closeOverlay = () => { sheet.hidden = true; document.body.classList.remove("sheet-open"); };
    document.body.append(sheet);
  }
  const q = search.query;
  const title = q && q.type === "image" ? `Designs like ${describe(q.image)}` : `Designs like the uploaded ${q ? q.name : "image"}`;
  sheet.replaceChildren(
    h("header", { class: "sheet-head" },
      h("div", {},
        h("h2", {}, title),
        h("p", { class: "muted" }, `${search.results.length} results by ${modelLabel(search.model).toLowerCase()}`
          + `${search.version ? " " + search.version : ""} · ${new Date().toISOString().slice(0, 10)}`)),
      h("div", { class: "sheet-tools" },
        h("button", { type: "button", onclick: () => window.print() }, "Print"),
        h("button", { type: "button", class: "secondary", onclick: () => sheet.closeOverlay() }, "Close"))),
    h("ol", { class: "sheet-grid" }, search.results.map((r) => h("li", { class: "sheet-item", dataset: { id: r.id } },
      h("img", { src: thumbUrl(r), alt: describe(r), width: 160, height: 160 }),
      h("strong", {}, r.design || r.filename, r.colourway ? ` · ${r.colourway}` : ""),
      h("span", {}, [r.season, r.quality].filter(Boolean).join(" · ")),
      h("span", { class: "muted" }, `${pct(Number(r.similarity) || 0)} similar`)))));
  sheet.hidden = false;
  document.body.classList.add("sheet-open");
}
