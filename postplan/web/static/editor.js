// In-place entry editor: a modal dialog, PATCH with If-Match, and 412 conflict resolution.

import { request, getJSON } from "./api.js";
import { channelLabel, entryTime, longDate, entryDay } from "./grid.js";
import { Choices } from "./choices.js";

const FORMATS = { tiktok: ["video", "photo"], instagram: ["reel", "carousel", "image", "story"] };
const FIELDS = [
  ["hook", "Hook"], ["caption", "Caption"], ["hashtags", "Hashtags"],
  ["callToAction", "Call to action"], ["scheduledAt", "Scheduled time"], ["format", "Format"],
  ["pillar", "Pillar"], ["assetNotes", "Asset notes"], ["media", "Media"],
];
const VIDEO_EXT = /\.(mp4|mov|webm|m4v)(\?|#|$)/i;

/** "video https://…" / "https://….jpg" lines → [{url, type}]. */
const parseMedia = (text) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).map((line) => {
  const m = /^(video|image)\s+(\S+)$/i.exec(line);
  if (m) return { url: m[2], type: m[1].toLowerCase() };
  return { url: line, type: VIDEO_EXT.test(line) ? "video" : "image" };
});
const mediaText = (list) => list.map((m) => `${m.type} ${m.url}`).join("\n");
const pad = (n) => String(n).padStart(2, "0");

/** Minutes east of UTC that `tz` has at the instant `utcMs`. */
function offsetMinutes(tz, utcMs) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(utcMs));
  const m = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+m.year, +m.month - 1, +m.day, +m.hour % 24, +m.minute, +m.second);
  return Math.round((asUtc - utcMs) / 60000);
}

/** "2026-12-01T18:00" as wall time in `tz` → "2026-12-01T18:00:00+01:00". */
export function wallToIso(wall, tz) {
  const [d, t] = wall.split("T");
  const [Y, M, D] = d.split("-").map(Number);
  const [h, mi] = t.split(":").map(Number);
  const wallMs = Date.UTC(Y, M - 1, D, h, mi);
  let off = offsetMinutes(tz, wallMs);
  off = offsetMinutes(tz, wallMs - off * 60000);
  const a = Math.abs(off);
  return `${d}T${pad(h)}:${pad(mi)}:00${off >= 0 ? "+" : "-"}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

const parseTags = (text) => text.split(/[\s,]+/).map((t) => t.replace(/^#+/, "")).filter(Boolean);

/** The editable values of an entry, in the form's shape. */
function valuesOf(entry) {
  return {
    hook: entry.hook || "", caption: entry.caption || "", hashtags: [...(entry.hashtags || [])],
    callToAction: entry.callToAction || "", scheduledAt: String(entry.scheduledAt).slice(0, 16),
    format: entry.format, pillar: entry.pillar || "", assetNotes: entry.assetNotes || "",
    // The text box edits hosted links only; uploaded files are attached from the library.
    media: (entry.media || []).filter((m) => !m.mediaId).map((m) => ({ url: m.url, type: m.type })),
  };
}

function same(a, b) {
  return Array.isArray(a) ? JSON.stringify(a) === JSON.stringify(b) : a === b;
}

function show(field, value, entry) {
  if (field === "hashtags") return value.length ? value.map((t) => `#${t}`).join(" ") : "(none)";
  if (field === "media") return value.length ? mediaText(value) : "(none)";
  if (field === "scheduledAt") return `${value.replace("T", " ")} (${entry.timezone})`;
  return value === "" ? "(empty)" : value;
}

export class Editor {
  constructor({ getCalendarId, onSaved, onConflictLoaded }) {
    this.dialog = document.getElementById("editor");
    this.form = document.getElementById("editor-form");
    this.err = document.getElementById("editor-error");
    this.conflictBox = document.getElementById("conflict");
    this.choices = new Choices();
    this.getCalendarId = getCalendarId;
    this.onSaved = onSaved;
    this.onConflictLoaded = onConflictLoaded;
    this.base = null;
    this.opener = null;
    this.pending = null;
    this.theirs = null;
    this.form.addEventListener("submit", (ev) => { ev.preventDefault(); this.save(); });
    document.getElementById("editor-cancel").addEventListener("click", () => this.dialog.close());
    document.getElementById("conflict-reapply").addEventListener("click", () => this.reapply());
    document.getElementById("conflict-overwrite").addEventListener("click", () => this.overwrite());
    document.getElementById("e-media-attach").addEventListener("click", () => this.attachPicked());
    /** The media library (set by the page): attach and detach uploaded files. */
    this.library = null;
    this.dialog.addEventListener("close", () => {
      if (this.opener && this.opener.isConnected) this.opener.focus();
      else if (this.base) document.querySelector(`[data-entry-id="${CSS.escape(this.base.id)}"]`)?.focus();
    });
  }

  input(name) { return this.form.elements.namedItem(name); }

  /** A field's value as the form shows it. */
  text(name, value) {
    if (name === "hashtags") return value.map((t) => `#${t}`).join(" ");
    if (name === "media") return mediaText(value);
    return value;
  }

  fill(entry) {
    const v = valuesOf(entry);
    const fmt = this.input("format");
    fmt.replaceChildren(...(FORMATS[entry.channel] || [entry.format]).map((f) => new Option(f, f)));
    for (const [name] of FIELDS) {
      this.input(name).value = this.text(name, v[name]);
    }
    document.getElementById("e-when-tz").textContent = `Time zone: ${entry.timezone}`;
    this.fillFiles(entry);
    document.getElementById("editor-meta").textContent =
      `${channelLabel(entry.channel)} · ${longDate(entryDay(entry))} ${entryTime(entry)} · version ${entry.version}${entry.edited ? " · edited" : ""}`;
  }

  /** The library's files, offered by the picker. */
  setLibrary(items) {
    const pick = document.getElementById("e-media-pick");
    const keep = pick.value;
    pick.replaceChildren(new Option("Choose an uploaded file…", ""),
      ...items.map((m) => new Option(`${m.filename} (${m.kind}, ${m.status})`, m.id)));
    pick.value = keep;
    this.choices.setCovers(items);
  }

  /** The uploaded files attached to the entry, each with a Remove button. */
  fillFiles(entry) {
    const list = document.getElementById("e-media-files");
    const rows = (entry.media || []).map((m, i) => {
      if (!m.mediaId) return null;
      const li = document.createElement("li");
      li.dataset.mediaId = m.mediaId;
      li.textContent = `${m.filename || m.mediaId} — ${m.status || ""} `;
      const rm = document.createElement("button");
      rm.type = "button";
      rm.className = "secondary small";
      rm.textContent = "Remove";
      rm.disabled = !this.library;
      rm.addEventListener("click", () => this.library?.detach(entry.id, i));
      li.append(rm);
      return li;
    }).filter(Boolean);
    list.replaceChildren(...rows);
  }

  /** The entry changed elsewhere (media attached): take its new version as the base. */
  rebase(entry) {
    if (!this.base || this.base.id !== entry.id) return;
    this.base = entry;
    this.fillFiles(entry);
    document.getElementById("editor-meta").textContent =
      `${channelLabel(entry.channel)} · ${longDate(entryDay(entry))} ${entryTime(entry)} · version ${entry.version}${entry.edited ? " · edited" : ""}`;
  }

  async attachPicked() {
    const id = document.getElementById("e-media-pick").value;
    if (!id || !this.base || !this.library) return;
    await this.library.attach(this.base.id, id);
  }

  /** Open for one entry; `readOnly` for dry-run entries, which are not saved anywhere. */
  open(entry, opener, { readOnly = false } = {}) {
    this.base = entry;
    this.opener = opener;
    this.pending = null;
    this.conflictBox.hidden = true;
    this.err.textContent = readOnly ? "Preview only: dry-run entries are not saved, so they cannot be edited." : "";
    this.fill(entry);
    for (const [name] of FIELDS) this.input(name).disabled = readOnly;
    document.getElementById("e-media-attach").disabled = readOnly;
    document.getElementById("editor-save").hidden = readOnly;
    document.getElementById("editor-heading").textContent = readOnly ? "Entry (preview)" : "Edit entry";
    this.choices.fill(entry, readOnly);  // loads the TikTok creator's choices in the background
    this.dialog.showModal();
    this.input("hook").focus();
  }

  current() {
    const v = {};
    for (const [name] of FIELDS) v[name] = this.input(name).value;
    v.hashtags = parseTags(v.hashtags);
    v.media = parseMedia(v.media);
    return v;
  }

  /** The changed fields as a PATCH body (camelCase, scheduledAt with the zone's offset). */
  patch() {
    const base = valuesOf(this.base);
    const cur = this.current();
    const body = {};
    for (const [name] of FIELDS) {
      if (same(base[name], cur[name])) continue;
      if (name === "scheduledAt") {
        if (!cur.scheduledAt) continue;
        body.scheduledAt = wallToIso(cur.scheduledAt, this.base.timezone);
      } else if (name === "media") {
        const stored = (this.base.media || []).filter((m) => m.mediaId).map((m) => ({ mediaId: m.mediaId }));
        body.media = [...stored, ...cur.media];
      } else {
        body[name] = cur[name];
      }
    }
    Object.assign(body, this.choices.patch(this.base));
    return body;
  }

  url(entryId) {
    return `/v1/calendars/${encodeURIComponent(this.getCalendarId())}/entries/${encodeURIComponent(entryId)}`;
  }

  async save(body = null) {
    const patch = body || this.patch();
    if (Object.keys(patch).length === 0) { this.dialog.close(); return; }
    const saveBtn = document.getElementById("editor-save");
    saveBtn.disabled = true;
    this.err.textContent = "Saving…";
    try {
      const res = await request("PATCH", this.url(this.base.id), {
        body: patch, headers: { "If-Match": `"${this.base.version}"` },
      });
      const updated = await res.json();
      this.err.textContent = "";
      this.base = updated;
      this.onSaved(updated);
      this.dialog.close();
    } catch (e) {
      if (e.status === 412) await this.conflict(patch);
      else this.err.textContent = e.unavailable ? "Editing is unavailable on this server." : `${e.detail} (${e.code})`;
    } finally {
      saveBtn.disabled = false;
    }
  }

  /** 412: load the saved version and show theirs against ours. */
  async conflict(patch) {
    this.pending = { patch, mine: this.current() };
    this.err.textContent = "";
    let theirs = null;
    try {
      const page = await getJSON("GET", `/v1/calendars/${encodeURIComponent(this.getCalendarId())}/entries?limit=5000`);
      theirs = (page.items || []).find((e) => e.id === this.base.id) || null;
    } catch (e) {
      this.err.textContent = `Could not load the saved version: ${e.detail} (${e.code})`;
      return;
    }
    if (!theirs) { this.err.textContent = "This entry no longer exists."; return; }
    this.theirs = theirs;
    this.onConflictLoaded(theirs);
    const base = valuesOf(this.base);
    const their = valuesOf(theirs);
    const rows = [];
    for (const [name, label] of FIELDS) {
      const touched = name in patch || !same(base[name], their[name]);
      if (!touched) continue;
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = label;
      const a = document.createElement("td");
      a.textContent = show(name, their[name], theirs);
      const b = document.createElement("td");
      b.textContent = name in patch ? show(name, this.pending.mine[name], theirs) : "(not changed by you)";
      tr.append(th, a, b);
      rows.push(tr);
    }
    document.getElementById("conflict-rows").replaceChildren(...rows);
    document.getElementById("conflict-theirs").textContent = String(theirs.version);
    document.getElementById("conflict-yours").textContent = String(this.base.version);
    this.conflictBox.hidden = false;
    document.getElementById("conflict-reapply").focus();
  }

  /** Take the saved version as the new base and put my changed fields back on top of it. */
  reapply() {
    if (!this.theirs || !this.pending) return;
    const { patch, mine } = this.pending;
    this.base = this.theirs;
    this.fill(this.theirs);
    for (const name of Object.keys(patch)) {
      if (FIELDS.some(([f]) => f === name)) this.input(name).value = this.text(name, mine[name]);
    }
    this.conflictBox.hidden = true;
    this.pending = null;
    this.err.textContent = `Reloaded version ${this.base.version}; your changes are re-applied on top. Review, then Save.`;
    this.input("hook").focus();
  }

  /** Save my changes over theirs (If-Match their version). */
  async overwrite() {
    if (!this.theirs || !this.pending) return;
    const { patch } = this.pending;
    this.base = this.theirs;
    this.conflictBox.hidden = true;
    this.pending = null;
    await this.save(patch);
  }
}
