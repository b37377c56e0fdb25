// Jobs: clustering and training runs in the background, polled every second while one is queued or running.

import { adminCall, api } from "../api.js";
import { $, h, toast } from "../dom.js";
import { minute } from "../format.js";

const POLL_MS = 1000;
const doneListeners = [];
let polling = null;

/** Call `fn` when the last running job has finished (to refresh what it made). */
export function onJobsDone(fn) {
  doneListeners.push(fn);
}

const isRunning = (j) => j.state === "queued" || j.state === "running";

function jobView(j) {
  const running = isRunning(j);
  return h("div", { class: "job" },
    h("div", { class: "job-head" }, h("strong", {}, `${j.kind} · ${minute(j.created_at)}`),
      h("span", { class: `state state-${j.state}` }, j.state)),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": Math.round((j.progress || 0) * 100), "aria-label": `${j.kind} progress` },
    h("span", { style: { width: `${(j.progress || 0) * 100}%` } })),
    h("div", { class: "muted" }, j.state === "done" && j.result && j.result.version
      ? `made ${j.kind === "cluster" ? "cluster set" : "version"} ${j.result.version}` : j.message || (running ? "working…" : "")),
    running ? h("button", { type: "button", class: "link-button", onclick: () => cancelJob(j.id) }, "Cancel") : null);
}

export async function loadJobs() {
  try {
    const jobs = (await api("/api/jobs")).jobs || [];
    $("#jobs").replaceChildren(...(jobs.length ? jobs.slice(0, 8).map(jobView) : [h("p", { class: "muted" }, "No jobs yet.")]));
    const busy = jobs.some(isRunning);
    if (busy && !polling) polling = setInterval(loadJobs, POLL_MS);
    if (!busy && polling) {
      clearInterval(polling);
      polling = null;
      for (const fn of doneListeners) fn();
    }
  } catch (err) {
    $("#jobs").replaceChildren(h("p", { class: "muted" }, `Jobs unavailable: ${err.message}`));
  }
}

/** Follow a job just started: show it now and poll until every job has finished. */
export function watchJob() {
  loadJobs();
  if (!polling) polling = setInterval(loadJobs, POLL_MS);
}

async function cancelJob(id) {
  try {
    await adminCall(`/api/jobs/${encodeURIComponent(id)}/cancel`, {});
    toast("Cancelling…");
    loadJobs();
  } catch (err) {
    toast(`Not cancelled: ${err.message}`, "error");
  }
}
