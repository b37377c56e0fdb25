// The loss curve: per-epoch training loss of a pattern version, drawn on a canvas.

import { api } from "../api.js";
import { $, h } from "../dom.js";
import { modelName } from "../format.js";

const CHART = { pad: 34, frame: "#d6d2c8", line: "#0f766e", text: "#5f6670", font: "12px system-ui, sans-serif" };

let models = []; // /api/models entries
let trainedVersions = []; // /api/train/versions: pattern versions with data used, loss curve, metrics
const trainedListeners = [];

/** Call `fn(versions)` each time the trained pattern versions are read again. */
export function onTrainedVersions(fn) {
  trainedListeners.push(fn);
}

/** The versions to pick from (trained ones, else the pattern versions of `modelList`), newest curve drawn. */
export async function loadCurves(modelList) {
  models = modelList;
  try {
    trainedVersions = (await api("/api/train/versions")).versions || [];
  } catch {
    trainedVersions = []; // training not available on this server: versions from /api/models only
  }
  for (const fn of trainedListeners) fn(trainedVersions);
  fillCurveVersions();
}

export function wireCurve() {
  $("#curve-version").addEventListener("change", drawCurve);
}

/** Pattern versions, each with `info` holding what training recorded (loss curve, data, metrics). */
function patternVersions() {
  if (trainedVersions.length) return trainedVersions.map((v) => ({ ...v, info: v }));
  const m = models.find((x) => modelName(x) === "pattern");
  return m ? m.versions || [] : [];
}

/** The per-epoch losses of a trained version: `loss_curve` in its info or one level down (e.g. info.training). */
function lossCurve(info) {
  if (!info || typeof info !== "object") return null;
  const nested = Object.values(info).filter((v) => v && typeof v === "object" && !Array.isArray(v));
  const curve = [info, ...nested].map((o) => o.loss_curve).find((c) => Array.isArray(c) && c.length);
  return curve ? curve.map((x) => (typeof x === "object" ? x.loss : x)).filter((x) => typeof x === "number") : null;
}

function fillCurveVersions() {
  const select = $("#curve-version");
  const trained = patternVersions().filter((v) => (lossCurve(v.info) || []).length);
  select.hidden = !trained.length;
  select.replaceChildren(...trained.map((v) => h("option", { value: v.version }, `pattern ${v.version}`)));
  if (trained.length) select.value = trained[trained.length - 1].version;
  drawCurve();
}

function drawCurve() {
  const canvas = $("#loss-chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, hgt = canvas.height, pad = CHART.pad;
  ctx.clearRect(0, 0, w, hgt);
  const v = patternVersions().find((x) => x.version === $("#curve-version").value);
  const curve = v && lossCurve(v.info);
  canvas.hidden = !(curve && curve.length);
  if (canvas.hidden) return;
  ctx.strokeStyle = CHART.frame;
  ctx.strokeRect(pad, 8, w - pad - 8, hgt - pad - 8);
  const lo = Math.min(...curve), hi = Math.max(...curve);
  const x = (i) => pad + (i / Math.max(1, curve.length - 1)) * (w - pad - 8);
  const y = (val) => 8 + (1 - (val - lo) / Math.max(1e-9, hi - lo)) * (hgt - pad - 8);
  ctx.strokeStyle = CHART.line;
  ctx.lineWidth = 2;
  ctx.beginPath();
  curve.forEach((val, i) => (i ? ctx.lineTo(x(i), y(val)) : ctx.moveTo(x(i), y(val))));
  ctx.stroke();
  ctx.fillStyle = CHART.text;
  ctx.font = CHART.font;
  ctx.fillText(hi.toFixed(3), 2, 18);
  ctx.fillText(lo.toFixed(3), 2, hgt - pad);
  ctx.fillText(`epoch 1 … ${curve.length}`, pad, hgt - 10);
  const decision = v.info.decision && v.info.decision.reason ? ` ${v.info.decision.reason}` : "";
  $("#curve-note").textContent =
    `Loss per epoch of pattern ${v.version}: ${curve[0].toFixed(3)} → ${curve[curve.length - 1].toFixed(3)}.${decision}`;
}
