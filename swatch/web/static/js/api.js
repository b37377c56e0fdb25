// JSON requests to the Swatch server: a delayed loading bar, ApiError for non-2xx answers, the admin token.

import { toast } from "./dom.js";

const BUSY_DELAY_MS = 100; // show the loading bar only for anything slower than this
const ADMIN_TOKEN_KEY = "swatch.adminToken"; // sessionStorage: kept for this browser tab only
let pending = 0;
let busyTimer = null;

function showBusy(on) {
  const bar = document.getElementById("busy");
  if (bar) { bar.hidden = !on; bar.setAttribute("aria-hidden", on ? "false" : "true"); }
  document.body.classList.toggle("is-busy", on);
}

function busyStart() {
  pending += 1;
  if (pending === 1) busyTimer = setTimeout(() => showBusy(true), BUSY_DELAY_MS);
}

function busyEnd() {
  pending = Math.max(0, pending - 1);
  if (pending === 0) {
    clearTimeout(busyTimer);
    showBusy(false);
  }
}

/** An Error carrying the HTTP status and the server's {"error": ...} message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * fetch() a JSON endpoint. `json` is sent as a JSON body, `form` as multipart; `params` become the query string
 * (arrays repeat the key). Rejects with ApiError on a non-2xx answer; AbortError passes through.
 */
export async function api(path, { method, params, json, form, signal, headers } = {}) {
  const url = withQuery(path, params);
  const init = { method: method || (json || form ? "POST" : "GET"), signal, headers: { ...(headers || {}) } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (form) {
    init.body = form;
  }
  busyStart();
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const msg = (data && data.error) || `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, msg);
    }
    return data;
  } finally {
    busyEnd();
  }
}

/** path?query for a flat object of parameters. */
export function withQuery(path, params) {
  const qs = params ? toQuery(params) : "";
  return qs ? path + (path.includes("?") ? "&" : "?") + qs : path;
}

/** URLSearchParams text of a flat object; empty values left out, arrays repeated. */
export function toQuery(params) {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) qs.append(key, String(v));
  }
  return qs.toString();
}

/** The URL of a cluster set, or of one of its sub-resources (`tail` such as "/moves"). */
export function clusterUrl(version, tail = "") {
  return `/api/clusters/${encodeURIComponent(version)}${tail}`;
}

/** The admin token of this tab ("" when none is set). */
export function adminToken() {
  return sessionStorage.getItem(ADMIN_TOKEN_KEY) || "";
}

/** Keep `value` as this tab's admin token; an empty value forgets it. */
export function setAdminToken(value) {
  if (value) sessionStorage.setItem(ADMIN_TOKEN_KEY, value);
  else sessionStorage.removeItem(ADMIN_TOKEN_KEY);
}

/** Admin token for state-changing actions, as request headers. */
export function adminHeaders() {
  const token = adminToken();
  return token ? { Authorization: "Bearer " + token } : {};
}

/** POST `json` to `path` with the admin token. */
export function adminCall(path, json) {
  return api(path, { json, headers: adminHeaders() });
}

/**
 * The printed admin link (?login=<one-time code>): dropped from the address at once, then exchanged with the
 * server for the admin token of this tab. Resolves true when this tab was logged in.
 */
export async function redeemAdminLink() {
  const url = new URL(location.href);
  const code = url.searchParams.get("login");
  if (!code) return false;
  url.searchParams.delete("login");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  try {
    const data = await api("/api/admin/login", { json: { code } });
    setAdminToken(data.token);
    toast("Logged in as admin for this tab (the admin link works once).");
    return true;
  } catch (err) {
    toast(`Admin link not accepted: ${err.message}`, "error");
    return false;
  }
}
