// Comments on cluster sets and model versions: listed where the versions are, added and edited with the admin token.

import { adminCall, adminHeaders, api } from "../api.js";
import { h, toast } from "../dom.js";
import { minute } from "../format.js";

const changeListeners = [];

/** Call `fn()` after a comment was added, edited or deleted (to redraw the lists that show them). */
export function onNotesChanged(fn) {
  changeListeners.push(fn);
}

const changed = () => changeListeners.forEach((fn) => fn());

/** Comments of one kind ("cluster" or "model"), grouped by subject ("v3", "pattern/v2"). */
export async function loadNotes(kind) {
  const by = new Map();
  for (const c of (await api("/api/comments", { params: { kind } })).comments || []) {
    if (!by.has(c.subject)) by.set(c.subject, []);
    by.get(c.subject).push(c);
  }
  return by;
}

function authError(err) {
  if (err.status === 401) return "Comments need the admin token: paste it under Admin access first.";
  return err.message;
}

/** Add a comment; true when stored. */
export async function addNote(kind, subject, body) {
  const text = body.trim();
  if (!text || !subject) return false;
  try {
    await adminCall("/api/comments", { kind, subject, body: text });
  } catch (err) {
    toast(`Comment not added: ${authError(err)}`, "error");
    return false;
  }
  toast("Comment added");
  changed();
  return true;
}

async function saveEdit(note, text) {
  try {
    await api(`/api/comments/${note.id}`, { method: "PUT", json: { body: text }, headers: adminHeaders() });
  } catch (err) {
    toast(`Comment not saved: ${authError(err)}`, "error");
    return;
  }
  toast("Comment saved");
  changed();
}

function editor(li, note) {
  const input = h("input", { type: "text", value: note.body, maxlength: 2000, "aria-label": "Edit the comment" });
  const save = h("button", { type: "button", class: "secondary", onclick: () => saveEdit(note, input.value.trim()) },
    "Save");
  li.replaceChildren(input, save, h("button", { type: "button", class: "link-button", onclick: () => changed() }, "Cancel"));
  input.focus();
}

/** One comment: its text, who and when, and an Edit button. */
export function noteItem(note, tag = "li") {
  const el = h(tag, { class: "note", dataset: { id: note.id } },
    h("span", { class: "note-body" }, note.body),
    h("small", { class: "muted" }, ` — ${note.author || "admin"}, ${minute(note.updated_at)} UTC`),
    h("button", { type: "button", class: "link-button", onclick: () => editor(el, note) }, "Edit"));
  return el;
}

/** A compact cell for a versions table: the comments of a subject, newest last. */
export function notesCell(notes) {
  return h("td", { class: "notes-cell" }, ...(notes || []).map((n) => noteItem(n, "div")));
}
