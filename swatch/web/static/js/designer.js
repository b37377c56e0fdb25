// The designer page: catalogue (left), similar designs with "why" and ratings (centre), models and clusters (right).
// Each panel is a module under designer/; this entry wires them and decides what loads first.

import { api } from "./api.js";
import { toast } from "./dom.js";
import { firstPageShown, loadCatalogue, wireCatalogue } from "./designer/catalogue.js";
import { syncControls, wireControls } from "./designer/controls.js";
import { loadFacets } from "./designer/filters.js";
import { openImage, search, wireResults } from "./designer/results.js";
import { loadModelList, loadSideClusters, renderModels } from "./designer/side.js";
import { onSettingsChange } from "./designer/state.js";
import { wireUpload } from "./designer/upload.js";

/** Open the design named in the address (#id=N), as a shared link or the back button does. */
async function openFromHash() {
  const m = /^#id=(\d+)$/.exec(location.hash);
  if (!m) return;
  try {
    openImage(await api(`/api/images/${m[1]}`), false);
  } catch (err) {
    toast(`Design ${m[1]}: ${err.message}`, "error");
  }
}

function init() {
  performance.mark("swatch:init");
  // a new model or version: the controls and the model list show it, then the search runs again
  onSettingsChange(syncControls);
  onSettingsChange(renderModels);
  onSettingsChange(() => search(true));
  wireControls();
  wireUpload();
  wireCatalogue();
  wireResults();
  loadCatalogue(true);
  openFromHash();
  // the first thumbnails get the connections first; filters, models and clusters follow
  firstPageShown.then(() => {
    loadFacets();
    loadModelList();
    loadSideClusters();
  });
  window.addEventListener("hashchange", openFromHash);
}

init();
