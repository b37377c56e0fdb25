// Searching with an image of one's own: the file button, dropping a file on the results panel, pasting.

import { $, toast } from "../dom.js";
import { startQuery } from "./results.js";
import { state } from "./state.js";

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

const hasFiles = (ev) => [...ev.dataTransfer.types].includes("Files");

export function wireUpload() {
  $("#upload").addEventListener("change", (ev) => {
    openUpload(ev.target.files[0]);
    ev.target.value = "";
  });
  const zone = $("#results-panel");
  let depth = 0;
  zone.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragover", (ev) => { if (hasFiles(ev)) ev.preventDefault(); });
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
