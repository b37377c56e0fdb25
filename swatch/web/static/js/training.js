// The training and clustering page: admin token and models, cluster sets (make, compare, correct by hand),
// ratings and training, jobs, loss curve. Each part is a module under training/; this entry wires them.

import { loadModelTable, wireToken } from "./training/admin.js";
import { loadClusters, onClusterVersions, wireClusterForms } from "./training/clusters.js";
import { wireCurve } from "./training/curve.js";
import { loadJobs, onJobsDone } from "./training/jobs.js";
import { fillFixVersions, wireFix } from "./training/moves.js";
import { loadFeedback, wireTraining } from "./training/train.js";

// the correcting panel follows the cluster sets; a finished job refreshes what it may have made
onClusterVersions(fillFixVersions);
onJobsDone(() => { loadClusters(); loadModelTable(); });

wireToken();
wireClusterForms();
wireFix();
wireTraining();
wireCurve();
loadModelTable();
loadClusters();
loadFeedback();
loadJobs();
