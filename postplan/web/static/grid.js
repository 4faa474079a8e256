// The calendar grid: month blocks (or one week) of Monday→Sunday rows, entries placed on the
// day of their local scheduled time. Under 640px the CSS turns it into a dated list.

import { localUrl, mediaState } from "./media.js";

const DAY_MS = 86400000;
const CHANNELS = { tiktok: "TikTok", instagram: "Instagram" };
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export const channelLabel = (c) => CHANNELS[c] || c;

/** "YYYY-MM-DD" of a UTC-midnight timestamp. */
export const keyOf = (ms) => new Date(ms).toISOString().slice(0, 10);
/** UTC-midnight timestamp of "YYYY-MM-DD". */
export const msOf = (key) => Date.UTC(+key.slice(0, 4), +key.slice(5, 7) - 1, +key.slice(8, 10));
export const addDays = (key, n) => keyOf(msOf(key) + n * DAY_MS);
const dow = (key) => (new Date(msOf(key)).getUTCDay() + 6) % 7; // Monday = 0
export const mondayOf = (key) => addDays(key, -dow(key));
const monthOf = (key) => key.slice(0, 7);

/** The entry's local calendar day: scheduledAt carries its zone's offset, so its date part is local. */
export const entryDay = (e) => String(e.scheduledAt).slice(0, 10);

/** "18:00 CET": the entry's time in the entry's own timezone. */
export function entryTime(e) {
  try {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: e.timezone, hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    }).format(new Date(e.scheduledAt));
  } catch {
    return String(e.scheduledAt).slice(11, 16);
  }
}

export function longDate(key) {
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
  }).format(new Date(msOf(key)));
}

function monthTitle(month) {
  return new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(msOf(`${month}-01`)));
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** Publish status → badge style. */
export function publishTone(status, error) {
  if (error || ["failed", "needs_reauth", "unknown", "cancelled"].includes(status)) return "pub-bad";
  if (["published", "dry_run"].includes(status)) return "pub-ok";
  return "pub-wait";
}

export function reasonText(error) {
  if (!error) return "";
  const parts = [];
  if (error.code) parts.push(error.code);
  if (error.message) parts.push(error.message);
  if (error.platformCode) parts.push(`platform ${error.platformCode}`);
  return parts.join(": ");
}

export class Grid {
  constructor(root, onOpen) {
    this.root = root;
    this.onOpen = onOpen;
    this.entries = new Map();
    this.publish = new Map();
    this.range = null; // {start: key, days: n}
    this.view = "month";
    this.weekStart = null;
    this.readOnly = false;
    /** (entryId, DataTransfer) → attach what was dropped on an entry; set by the page. */
    this.onDrop = null;
    /** Called with (entryId, "YYYY-MM-DD") when an entry is dropped on another day. */
    this.onMove = null;
  }

  reset(range, { readOnly = false } = {}) {
    this.entries.clear();
    this.publish.clear();
    this.range = range;
    this.readOnly = readOnly;
    this.weekStart = range ? mondayOf(range.start) : null;
    this.render();
  }

  bounds() {
    let first = null;
    let last = null;
    if (this.range) {
      first = this.range.start;
      last = addDays(this.range.start, Math.max(1, this.range.days) - 1);
    }
    for (const e of this.entries.values()) {
      const d = entryDay(e);
      if (!first || d < first) first = d;
      if (!last || d > last) last = d;
    }
    return first ? { first, last } : null;
  }

  setView(view) {
    this.view = view;
    this.render();
  }

  shiftWeek(n) {
    const b = this.bounds();
    if (!b) return;
    const min = mondayOf(b.first);
    const max = mondayOf(b.last);
    let next = addDays(this.weekStart || min, 7 * n);
    if (next < min) next = min;
    if (next > max) next = max;
    this.weekStart = next;
    this.render();
  }

  /** Add or replace one entry, in place, without redrawing the rest. */
  upsert(entry) {
    const fresh = !this.entries.has(entry.id);
    this.entries.set(entry.id, entry);
    const old = this.root.querySelector(`[data-entry-id="${CSS.escape(entry.id)}"]`);
    if (old) old.remove();
    const cell = this.root.querySelector(`.day[data-date="${entryDay(entry)}"]`);
    if (cell) {
      const node = this.entryEl(entry);
      if (fresh) node.classList.add("arrive");
      this.place(cell, node);
    } else if (this.view === "month") {
      this.render(); // outside the drawn range: redraw with the wider range
      return;
    }
    this.markEmpty();
  }

  setPublish(entryId, result) {
    this.publish.set(entryId, result);
    const entry = this.entries.get(entryId);
    if (entry) this.upsert(entry);
  }

  place(cell, node) {
    const list = cell.querySelector(".day-entries");
    const ts = Number(node.dataset.ts);
    const after = [...list.children].find((c) => Number(c.dataset.ts) > ts);
    list.insertBefore(node, after || null);
  }

  markEmpty() {
    for (const cell of this.root.querySelectorAll(".day[data-date]")) {
      cell.classList.toggle("empty", !cell.querySelector(".entry"));
    }
  }

  entryEl(e) {
    const node = el("button", "entry");
    node.type = "button";
    node.dataset.entryId = e.id;
    node.dataset.channel = e.channel;
    node.dataset.ts = String(Date.parse(e.scheduledAt) || 0);
    if (e.edited) node.dataset.edited = "true";
    const meta = el("span", "meta");
    meta.append(el("span", "ch", channelLabel(e.channel)));
    const time = el("time", "time", entryTime(e));
    time.dateTime = e.scheduledAt;
    meta.append(time, el("span", "fmt", e.format));
    if (e.edited) meta.append(el("span", "badge edited", "edited"));
    const pub = this.publish.get(e.id);
    if (pub) {
      const badge = el("span", `badge ${publishTone(pub.status, pub.error)}`, pub.label || pub.status);
      badge.dataset.publishStatus = pub.status;
      meta.append(badge);
    }
    node.append(meta);
    if (e.pillar) node.append(el("span", "pillar", e.pillar));
    node.append(el("span", "hook", e.hook));
    this.mediaEl(node, e);
    if (pub && pub.error) node.append(el("span", "reasons", reasonText(pub.error)));
    const verb = this.readOnly ? "view" : "edit";
    node.title = `${channelLabel(e.channel)} ${e.format} at ${entryTime(e)}: ${e.hook} (press to ${verb})`;
    node.addEventListener("click", () => this.onOpen(e.id, node));
    // Drag to another day (a PATCH of scheduledAt, see manage.js).
    node.draggable = !this.readOnly;
    node.addEventListener("dragstart", (ev) => {
      ev.dataTransfer.setData("text/x-entry-id", e.id);
      ev.dataTransfer.effectAllowed = "move";
    });
    return node;
  }

  /** Thumbnails of the attached files, "needs media" or what blocks them; a drop target. */
  mediaEl(node, e) {
    const media = e.media || [];
    if (media.length) {
      const strip = el("span", "thumbs");
      for (const m of media) {
        if (m.thumbnailUrl) {
          const img = el("img", "thumb");
          img.src = localUrl(m.thumbnailUrl);
          img.alt = m.filename || "";
          img.dataset.mediaId = m.mediaId;
          strip.append(img);
        } else {
          strip.append(el("span", "thumb ph", (m.kind || m.type) === "video" ? "▶" : "▦"));
        }
      }
      node.append(strip);
    }
    const { state, text } = mediaState(e);
    const line = el("span", `media-state ${state}`, text);
    line.dataset.mediaState = state;
    node.append(line);
    if (this.readOnly) return;
    node.addEventListener("dragover", (ev) => {
      if (!this.onDrop) return;
      ev.preventDefault();
      node.classList.add("drop");
    });
    node.addEventListener("dragleave", () => node.classList.remove("drop"));
    node.addEventListener("drop", (ev) => {
      if (!this.onDrop) return;
      ev.preventDefault();
      node.classList.remove("drop");
      this.onDrop(e.id, ev.dataTransfer);
    });
  }

  dayCell(key, cls) {
    const cell = el("div", `day ${cls}`.trim());
    cell.dataset.date = key;
    cell.setAttribute("role", "group");
    cell.setAttribute("aria-label", longDate(key));
    const label = el("div", "day-label");
    const num = el("span", "num", String(+key.slice(8, 10)));
    if (key.endsWith("-01")) num.textContent += ` ${new Intl.DateTimeFormat(undefined, { month: "short", timeZone: "UTC" }).format(new Date(msOf(key)))}`;
    label.append(num, el("span", "dow", longDate(key)));
    cell.append(label, el("div", "day-entries"));
    cell.addEventListener("dragover", (ev) => {
      if (this.onMove && !this.readOnly && ev.dataTransfer.types.includes("text/x-entry-id")) {
        ev.preventDefault();
        cell.classList.add("drop-target");
      }
    });
    cell.addEventListener("dragleave", () => cell.classList.remove("drop-target"));
    cell.addEventListener("drop", (ev) => {
      cell.classList.remove("drop-target");
      const id = ev.dataTransfer.getData("text/x-entry-id");
      if (id && this.onMove) {
        ev.preventDefault();
        this.onMove(id, key);
      }
    });
    return cell;
  }

  weekRow(monday, month, first, last) {
    const row = el("div", "week");
    for (let i = 0; i < 7; i++) {
      const key = addDays(monday, i);
      if (month && monthOf(key) !== month) { row.append(el("div", "day pad")); continue; }
      row.append(this.dayCell(key, key < first || key > last ? "outside" : ""));
    }
    return row;
  }

  weekdayHeader() {
    const head = el("div", "weekdays");
    head.setAttribute("aria-hidden", "true");
    for (const d of WEEKDAYS) head.append(el("div", "", d));
    return head;
  }

  /** Redraw everything from the stored entries. */
  render() {
    const b = this.bounds();
    this.root.replaceChildren();
    this.root.classList.toggle("week-view", this.view === "week");
    if (!b) {
      this.root.append(el("p", "muted empty-note", "Fill in the brief and press Generate, or open a saved calendar."));
      return;
    }
    const { first, last } = b;
    if (this.view === "week") {
      const min = mondayOf(first);
      const max = mondayOf(last);
      if (!this.weekStart || this.weekStart < min) this.weekStart = min;
      if (this.weekStart > max) this.weekStart = max;
      const block = el("section", "month");
      block.append(el("h3", "", `Week of ${longDate(this.weekStart)}`));
      block.append(this.weekdayHeader(), this.weekRow(this.weekStart, null, first, last));
      this.root.append(block);
    } else {
      let month = monthOf(first);
      while (month <= monthOf(last)) {
        const block = el("section", "month");
        block.setAttribute("aria-label", monthTitle(month));
        block.append(el("h3", "", monthTitle(month)), this.weekdayHeader());
        const monthStart = month === monthOf(first) ? first : `${month}-01`;
        let monday = mondayOf(monthStart);
        while (monday <= last && (monthOf(monday) <= month)) {
          const row = this.weekRow(monday, month, first, last);
          if (row.querySelector(".day[data-date]")) block.append(row);
          monday = addDays(monday, 7);
        }
        this.root.append(block);
        const next = msOf(`${month}-01`) + 32 * DAY_MS;
        month = keyOf(next).slice(0, 7);
      }
    }
    const sorted = [...this.entries.values()].sort((a, b2) => Date.parse(a.scheduledAt) - Date.parse(b2.scheduledAt));
    for (const e of sorted) {
      const cell = this.root.querySelector(`.day[data-date="${entryDay(e)}"]`);
      if (cell) this.place(cell, this.entryEl(e));
    }
    this.markEmpty();
  }
}
