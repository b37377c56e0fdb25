// Shared helpers for Swatch pages: JSON requests with a delayed loading bar, small DOM builders, messages.

const BUSY_DELAY_MS = 100; // show the loading bar only for anything slower than this
let pending = 0;
let busyTimer = null;

function busyStart() {
  pending += 1;
  if (pending === 1) {
    busyTimer = setTimeout(() => {
      const bar = document.getElementById("busy");
      if (bar) { bar.hidden = false; bar.setAttribute("aria-hidden", "false"); }
      document.body.classList.add("is-busy");
    }, BUSY_DELAY_MS);
  }
}

function busyEnd() {
  pending = Math.max(0, pending - 1);
  if (pending === 0) {
    clearTimeout(busyTimer);
    const bar = document.getElementById("busy");
    if (bar) { bar.hidden = true; bar.setAttribute("aria-hidden", "true"); }
    document.body.classList.remove("is-busy");
  }
}

/** An Error carrying the HTTP status and the server's {"error": ...} message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * fetch() a JSON endpoint. `json` is sent as a JSON body, `form` as multipart; `params` become the query string
 * (arrays repeat the key). Rejects with ApiError on a non-2xx answer; AbortError passes through.
 */
export async function api(path, { method, params, json, form, signal, headers } = {}) {
  const url = withQuery(path, params);
  const init = { method: method || (json || form ? "POST" : "GET"), signal, headers: { ...(headers || {}) } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (form) {
    init.body = form;
  }
  busyStart();
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const msg = (data && data.error) || `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, msg);
    }
    return data;
  } finally {
    busyEnd();
  }
}

/** path?query for a flat object of parameters. */
export function withQuery(path, params) {
  const qs = params ? toQuery(params) : "";
  return qs ? path + (path.includes("?") ? "&" : "?") + qs : path;
}

/** URLSearchParams text of a flat object; empty values left out, arrays repeated. */
export function toQuery(params) {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) qs.append(key, String(v));
  }
  return qs.toString();
}

/** h("div", {class: "x", onclick: fn}, child, "text") -> element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
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

/** An inline icon from the sprite. */
export function icon(name, cls = "icon") {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", "/static/icons.svg#" + name);
  svg.append(use);
  return svg;
}

let toastTimer = null;
/** A short message at the bottom of the page (errors stay a little longer). */
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("show"), kind === "error" ? 6000 : 2500);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function pct(x) {
  return `${Math.round(Math.max(0, Math.min(1, x)) * 100)} %`;
}

/** "WV 60 % · PES 40 %" from [["WV", 60], ["PES", 40]]. */
export function composition(features) {
  return (features || []).map(([fibre, share]) => `${fibre} ${Math.round(share)} %`).join(" · ");
}

export const storage = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem("swatch." + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem("swatch." + key, JSON.stringify(value)); } catch { /* private mode */ }
  },
};

/** Admin token for state-changing actions, kept for this browser tab only. */
export function adminHeaders() {
  const token = sessionStorage.getItem("swatch.adminToken") || "";
  return token ? { Authorization: "Bearer " + token } : {};
}

/**
 * Roving focus for a grid of buttons: one tab stop, arrow keys / Home / End move between items
 * (rows are worked out from the layout, so it follows the responsive column count).
 */
export function gridKeys(container, itemSelector) {
  container.addEventListener("keydown", (ev) => {
    const items = [...container.querySelectorAll(itemSelector)];
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    let next = -1;
    const secondRow = items.findIndex((el) => el.offsetTop !== items[0].offsetTop);
    const cols = secondRow > 0 ? secondRow : items.length;
    switch (ev.key) {
      case "ArrowRight": next = Math.min(items.length - 1, i + 1); break;
      case "ArrowLeft": next = Math.max(0, i - 1); break;
      case "ArrowDown": next = Math.min(items.length - 1, i + cols); break;
      case "ArrowUp": next = i - cols >= 0 ? i - cols : i; break;
      case "Home": next = 0; break;
      case "End": next = items.length - 1; break;
      default: return;
    }
    ev.preventDefault();
    focusItem(items, next);
  });
  container.addEventListener("focusin", (ev) => {
    const items = [...container.querySelectorAll(itemSelector)];
    if (items.includes(ev.target)) focusItem(items, items.indexOf(ev.target), false);
  });
}

function focusItem(items, index, move = true) {
  items.forEach((el, k) => el.setAttribute("tabindex", k === index ? "0" : "-1"));
  if (move && items[index]) {
    items[index].focus();
    items[index].scrollIntoView({ block: "nearest" });
  }
}
