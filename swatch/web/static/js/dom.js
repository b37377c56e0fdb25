// Element helpers shared by the pages: lookup, a small element builder, icons, messages, grid keys.

const SVG_NS = "http://www.w3.org/2000/svg";

/** The first element matching a CSS selector. */
export const $ = (sel) => document.querySelector(sel);

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

/** A table row holding one muted message across `cols` columns. */
export function messageRow(cols, text) {
  return h("tr", {}, h("td", { colspan: cols, class: "muted" }, text));
}

/** An inline icon from the sprite. */
export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG_NS, "use");
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

/** Call `fn` on the frame after the first `n` images in `container` are decoded (or failed to). */
export function afterImagesShown(container, n, fn) {
  afterDecoded([...container.querySelectorAll("img")].slice(0, n), fn);
}

/** Call `fn` on the frame after the images `imgs` are decoded (or failed to). */
export function afterDecoded(imgs, fn) {
  Promise.all(imgs.map((im) => im.decode().catch(() => null))).then(() => requestAnimationFrame(fn));
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
