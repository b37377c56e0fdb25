// "Help Swatch learn": a short queue of result pairs whose rating would teach the pattern model most
// (GET /api/learn/queue), rated with the same stars as results and stored like any rating (POST /api/feedback).

import { api } from "../api.js";
import { h, icon, toast } from "../dom.js";
import { describe, plural, thumbUrl } from "../format.js";

const PAIRS = 5;

function pairCard(pair, version, onRated) {
  const card = h("li", { class: "learn-pair", dataset: { query: pair.query.id, result: pair.result.id } });
  const group = h("div", { class: "stars", role: "radiogroup", "aria-label": "How alike are these two designs?" });
  for (let n = 1; n <= 5; n++) {
    group.append(h("button", {
      type: "button", class: "star", role: "radio", "aria-checked": "false", "aria-label": plural(n, "star"),
      onclick: async () => {
        try {
          await api("/api/feedback", { json: { query: pair.query.path, result: pair.result.path, model: "pattern",
            version, rating: n } });
          card.classList.add("rated");
          [...group.children].forEach((b, k) => b.classList.toggle("on", k < n));
          onRated();
        } catch (err) {
          toast(`Rating not saved: ${err.message}`, "error");
        }
      },
    }, icon("star", "icon star-icon")));
  }
  const side = (img) => h("figure", {}, h("img", { src: thumbUrl(img), alt: describe(img), width: 140, height: 140 }),
    h("figcaption", { class: "meta" }, img.design || img.filename));
  card.append(h("div", { class: "learn-images" }, side(pair.query), side(pair.result)),
    h("p", { class: "muted" }, pair.reason), group);
  return card;
}

/** Fill the dialog with the next pairs to rate. */
async function loadPairs(dialog) {
  const list = dialog.querySelector(".learn-list");
  const status = dialog.querySelector(".learn-status");
  status.textContent = "Finding the pairs that would teach most…";
  list.replaceChildren();
  try {
    const data = await api("/api/learn/queue", { params: { n: PAIRS } });
    let rated = 0;
    const cards = data.pairs.map((p) => pairCard(p, data.version, () => {
      rated += 1;
      status.textContent = rated === data.pairs.length ? "Thank you! Ask for more whenever you like." :
        `${plural(rated, "pair")} rated of ${data.pairs.length}.`;
    }));
    list.append(...cards);
    status.textContent = data.pairs.length ? `How alike are these designs? (${data.message})` : data.message;
  } catch (err) {
    status.textContent = `Could not load pairs: ${err.message}`;
  }
}

/** Wire the "Help Swatch learn" button to its dialog. */
export function wireLearn(button, dialog) {
  if (!button || !dialog) return;
  button.addEventListener("click", () => {
    dialog.showModal();
    loadPairs(dialog);
  });
  dialog.querySelector(".learn-more").addEventListener("click", () => loadPairs(dialog));
  dialog.querySelector(".learn-close").addEventListener("click", () => dialog.close());
}
