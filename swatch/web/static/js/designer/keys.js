// Keyboard shortcuts of the designer page: / search, Esc close or clear, 1-5 rate the focused result, ? the keys.
// None fires while typing in a field (Esc there only closes an open overlay).

import { $, h, toast } from "../dom.js";

const KEY_HELP = [
  ["/", "Search the catalogue"],
  ["Esc", "Close the open view (compare, zoom, contact sheet, this help); else clear the compare tray or the search"],
  ["1 – 5", "Rate the focused result with that many stars"],
  ["← → ↑ ↓  Home  End", "Move through the catalogue or the results"],
  ["Enter", "Find designs like the focused one"],
  ["?", "Show these keys"],
];

function typingIn(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  return tag === "INPUT" && !["checkbox", "radio", "button", "submit", "reset", "range", "file"].includes(el.type);
}

/** The open overlays (dialogs and the contact sheet), the top one last. */
function openOverlays() {
  return [...document.querySelectorAll(".overlay")].filter((el) => (el.tagName === "DIALOG" ? el.open : !el.hidden));
}

/** Show the keys. */
export function showKeysHelp() {
  let dlg = $("#keys-help");
  if (!dlg) {
    dlg = h("dialog", { id: "keys-help", class: "overlay keys-help", "aria-labelledby": "keys-title" },
      h("h2", { id: "keys-title" }, "Keyboard"),
      h("dl", {}, KEY_HELP.flatMap(([k, what]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, what)])),
      h("p", { class: "muted" }, "Shortcuts wait while you type in a field."),
      h("button", { type: "button", onclick: () => dlg.close() }, "Close"));
    dlg.closeOverlay = () => dlg.close();
    document.body.append(dlg);
  }
  if (!dlg.open) dlg.showModal();
}

function rateFocused(stars) {
  const card = document.activeElement && document.activeElement.closest("#results .result");
  if (!card) {
    toast("Focus a result first (Tab to the results, arrow keys to move), then press 1–5.");
    return;
  }
  const button = card.querySelectorAll(".stars .star")[stars - 1];
  if (!button) {
    toast("Ratings need a catalogue design as the query.", "error");
    return;
  }
  button.click();
}

/** Install the shortcuts; `clear` is called by Esc when no overlay is open (it says whether it cleared anything). */
export function wireKeys(clear) {
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    if (ev.key === "Escape") {
      const top = openOverlays().pop();
      if (top) {
        ev.preventDefault();
        top.closeOverlay();
      } else if (!typingIn(ev.target)) {
        clear();
      }
      return;
    }
    if (typingIn(ev.target)) return;
    if (ev.key === "/") {
      ev.preventDefault();
      $("#cat-q").focus();
    } else if (ev.key === "?") {
      ev.preventDefault();
      showKeysHelp();
    } else if (/^[1-5]$/.test(ev.key) && !openOverlays().length) {
      ev.preventDefault();
      rateFocused(Number(ev.key));
    }
  });
}
