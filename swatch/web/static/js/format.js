// How the pages word things: model names, image captions, percentages, dates, counts, thumbnail URLs.

export const MODEL_LABELS = { color: "Colour", pattern: "Pattern", "color+pattern": "Colour + pattern" };

/** "Colour" for "color"; unknown models keep their name. */
export function modelLabel(model) {
  return MODEL_LABELS[model] || model;
}

/** The model name of an /api/models entry (older servers called it `name`). */
export function modelName(entry) {
  return entry.model || entry.name;
}

/** Alt text / caption of a catalogue image: "KM10001 colourway 2, 2024-AW, quality". */
export function describe(img) {
  const name = img.design ? `${img.design}${img.colourway ? " colourway " + img.colourway : ""}` : img.filename;
  const meta = [img.season, img.quality].filter(Boolean).join(", ");
  return meta ? `${name}, ${meta}` : name;
}

/** An image's thumbnail URL (by id when the record carries none). */
export function thumbUrl(img) {
  return img.thumbnail || `/images/${img.id}/thumbnail`;
}

export function pct(x) {
  return `${Math.round(Math.max(0, Math.min(1, x)) * 100)} %`;
}

/** "WV 60 % · PES 40 %" from [["WV", 60], ["PES", 40]]. */
export function composition(features) {
  return (features || []).map(([fibre, share]) => `${fibre} ${Math.round(share)} %`).join(" · ");
}

/** "2024-05-01" of a timestamp ("" without one). */
export function date(ts) {
  return String(ts || "").slice(0, 10);
}

/** "2024-05-01 12:30" of a timestamp ("" without one). */
export function minute(ts) {
  return ts ? String(ts).slice(0, 16).replace("T", " ") : "";
}

/** A number with `digits` decimals, or a dash when it is not a number. */
export function fixed(x, digits = 3) {
  return typeof x === "number" ? x.toFixed(digits) : "–";
}

/** "1 design", "3 designs". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
