// The training and clustering page: admin token and models, cluster sets (make, compare, correct by hand),
// ratings and training, jobs, loss curve, each version's figures. Each part is a module under training/; this entry wires them.

import { redeemAdminLink } from "./api.js";
import { loadModelTable, wireModelNotes, wireToken } from "./training/admin.js";
import { loadClusters, onClusterVersions, wireClusterForms } from "./training/clusters.js";
import { onTrainedVersions, wireCurve } from "./training/curve.js";
import { loadJobs, onJobsDone } from "./training/jobs.js";
import { fillFixVersions, loadSetNotes, wireFix } from "./training/moves.js";
import { onNotesChanged } from "./training/notes.js";
import { loadFeedback, wireTraining } from "./training/train.js";
import { showVersionFigures } from "./training/versions.js";

// the correcting panel follows the cluster sets; a finished job refreshes what it may have made
onClusterVersions(fillFixVersions);
onTrainedVersions(showVersionFigures);
onJobsDone(() => { loadClusters(); loadModelTable(); });
onNotesChanged(() => { loadClusters(); loadModelTable(); loadSetNotes(); });

redeemAdminLink().finally(wireToken); // the admin link of `swatch serve` logs this tab in first
wireClusterForms();
wireFix();
wireModelNotes();
wireTraining();
wireCurve();
loadModelTable();
loadClusters();
loadFeedback();
loadJobs();
