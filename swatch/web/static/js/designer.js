// The designer page: catalogue (left), similar designs with "why" and ratings (centre), models and clusters (right).
// Each panel is a module under designer/; this entry wires them and decides what loads first.

import { api } from "./api.js";
import { $, toast } from "./dom.js";
import { firstPageShown, loadCatalogue, wireCatalogue } from "./designer/catalogue.js";
import { syncControls, wireControls } from "./designer/controls.js";
import { loadFacets } from "./designer/filters.js";
import { currentResults, openImage, search, wireResults } from "./designer/results.js";
import { loadModelList, loadSideClusters, renderModels } from "./designer/side.js";
import { onSettingsChange, state } from "./designer/state.js";
import { wireUpload } from "./designer/upload.js";
import { wireColours } from "./designer/colors.js";
import { wireHarmony } from "./designer/harmony.js";
import { clearPicks, pickCount } from "./designer/compare.js";
import { downloadCsv, openContactSheet } from "./designer/export.js";
import { showKeysHelp, wireKeys } from "./designer/keys.js";
import { wireLearn } from "./designer/learn.js";
import { applyAddress, readAddress, whileRestoring } from "./designer/urlstate.js";
import { wireChanges } from "./designer/changes.js";

const emptyQuery = $("#query").cloneNode(true).children;

/** The search written in the address (#id=N and its settings), as a shared link or the Back button gives it. */
async function openFromHash() {
  const found = readAddress();
  await whileRestoring(async () => {
    await applyAddress(found);
    syncControls();
    if (state.models) renderModels();
    if (found.id === null) {
      state.query = null;
      $("#query").replaceChildren(...[...emptyQuery].map((el) => el.cloneNode(true)));
      $("#results").replaceChildren();
      $("#res-status").textContent = "";
      return;
    }
    try {
      openImage(await api(`/api/images/${found.id}`));
    } catch (err) {
      toast(`Design ${found.id}: ${err.message}`, "error");
    }
  });
}

/** Esc without an overlay open: empty the compare tray, else the catalogue search. */
function clearSomething() {
  if (pickCount()) {
    clearPicks();
    return;
  }
  const box = $("#cat-q");
  if (box.value) {
    box.value = "";
    box.dispatchEvent(new Event("input"));
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
  wireColours();
  wireHarmony();
  wireCatalogue();
  wireResults();
  loadCatalogue(true);
  openFromHash();
  // the first thumbnails get the connections first; filters, models and clusters follow
  firstPageShown.then(() => {
    loadFacets();
    loadModelList();
    loadSideClusters();
    wireChanges();
  });
  window.addEventListener("popstate", openFromHash); // Back and Forward through searches, an edited #id=N
  wireKeys(clearSomething);
  $("#export-csv").addEventListener("click", () => downloadCsv(currentResults()));
  $("#contact-sheet-open").addEventListener("click", () => openContactSheet(currentResults()));
  $("#keys-open").addEventListener("click", showKeysHelp);
  wireLearn($("#learn-open"), $("#learn-dialog"));
}

init();
