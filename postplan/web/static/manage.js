// Managing what a person owns (DESIGN §9): add, duplicate and delete entries; rename and
// delete the calendar; move an entry to another day by dragging it (a PATCH of scheduledAt
// with If-Match; a 412 shows the conflict and reloads); the calendar's publish intents with
// cancel / resolve / retry; the user's notifications.

import { getJSON, request } from "./api.js";
import { channelLabel, entryDay, entryTime, reasonText } from "./grid.js";

const $ = (id) => document.getElementById(id);
const FORMATS = { tiktok: ["video", "photo"], instagram: ["reel", "carousel", "image", "story"] };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function button(label, cls, onClick) {
  const b = el("button", cls, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** The offset (ms) of `timeZone` at the instant `ms`: its wall clock there, read as UTC, less `ms`. */
function zoneOffsetMs(timeZone, ms) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** "2026-03-27T10:00:00+01:00" moved to day "2026-03-30" in Europe/Berlin:
 *  "2026-03-30T10:00:00+02:00" - the same wall-clock time, with the offset the zone has on the
 *  new day (a move across a DST change must not shift the post by an hour). */
export function movedTo(scheduledAt, day, timeZone) {
  const time = String(scheduledAt).slice(11, 19);
  const keep = `${day}${String(scheduledAt).slice(10)}`;
  if (!timeZone || !/^\d{2}:\d{2}:\d{2}$/.test(time)) return keep;
  try {
    const [h, m, s] = time.split(":").map(Number);
    const wall = Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10), h, m, s);
    let offset = zoneOffsetMs(timeZone, wall);
    offset = zoneOffsetMs(timeZone, wall - offset);  // the offset at the instant itself
    const minutes = Math.round(offset / 60000);
    const sign = minutes < 0 ? "-" : "+";
    const abs = Math.abs(minutes);
    const pad = (n) => String(n).padStart(2, "0");
    return `${day}T${time}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  } catch {
    return keep;  // an unknown zone name: keep the old offset
  }
}

export class Manage {
  constructor(app) {
    this.app = app;
  }

  get calendarId() { return this.app.calendarId; }

  say(text) { $("manage-status").textContent = text; }

  /** Enable the calendar's controls and fill the lists for the open calendar. */
  refresh() {
    const open = Boolean(this.calendarId) && !(this.app.run && this.app.run.dryRun);
    for (const id of ["cal-rename", "cal-delete", "entry-add", "entry-duplicate", "entry-delete", "intents-refresh"]) {
      $(id).disabled = !open;
    }
    this.fillEntryPicker();
    if (open) this.loadIntents();
    this.loadNotifications();
  }

  fillEntryPicker() {
    const pick = $("entry-pick");
    const entries = [...this.app.grid.entries.values()]
      .sort((a, b) => Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt));
    pick.replaceChildren(...entries.map((e) => {
      const o = new Option(`${entryDay(e)} ${entryTime(e)} · ${channelLabel(e.channel)} · ${e.hook || e.format}`, e.id);
      return o;
    }));
  }

  fillFormats() {
    const channel = $("add-channel").value;
    $("add-format").replaceChildren(...FORMATS[channel].map((f) => new Option(f, f)));
  }

  // ---- entries --------------------------------------------------------------------------

  async addEntry(ev) {
    ev.preventDefault();
    const when = $("add-when").value; // "YYYY-MM-DDTHH:MM", the browser's local time
    if (!when) { this.say("Pick a date and time for the new entry."); return; }
    const body = {
      channel: $("add-channel").value, format: $("add-format").value,
      scheduledAt: new Date(when).toISOString(), hook: $("add-hook").value.trim(),
      caption: $("add-caption").value,
    };
    try {
      const entry = await getJSON("POST", `/v1/calendars/${this.calendarId}/entries`, { body });
      this.app.grid.upsert(entry);
      this.fillEntryPicker();
      this.say(`Added ${channelLabel(entry.channel)} ${entry.format} on ${entryDay(entry)}.`);
    } catch (e) { this.app.showError(e, "Add entry"); }
  }

  async duplicateEntry() {
    const id = $("entry-pick").value;
    if (!id) return;
    const body = {};
    if ($("dup-when").value) body.scheduledAt = new Date($("dup-when").value).toISOString();
    if ($("dup-channel").value) body.channel = $("dup-channel").value;
    try {
      const copy = await getJSON("POST", `/v1/calendars/${this.calendarId}/entries/${id}/duplicate`, { body });
      this.app.grid.upsert(copy);
      this.fillEntryPicker();
      this.say(`Duplicated to ${channelLabel(copy.channel)} ${copy.format} on ${entryDay(copy)}.`);
    } catch (e) { this.app.showError(e, "Duplicate entry"); }
  }

  async deleteEntry() {
    const id = $("entry-pick").value;
    if (!id || !window.confirm("Delete this entry? Its pending publishes are cancelled.")) return;
    try {
      await request("DELETE", `/v1/calendars/${this.calendarId}/entries/${id}`);
      this.app.grid.entries.delete(id);
      this.app.grid.render();
      this.fillEntryPicker();
      this.loadIntents();
      this.say("Entry deleted.");
    } catch (e) { this.app.showError(e, "Delete entry"); }
  }

  /** Drop on another day: PATCH scheduledAt with If-Match; 412 shows the conflict and reloads. */
  async moveEntry(id, day) {
    const entry = this.app.grid.entries.get(id);
    if (!entry || entryDay(entry) === day) return;
    try {
      const res = await request("PATCH", `/v1/calendars/${this.calendarId}/entries/${id}`, {
        body: { scheduledAt: movedTo(entry.scheduledAt, day, entry.timezone) },
        headers: { "If-Match": `"${entry.version}"` },
      });
      this.app.grid.upsert(await res.json());
      this.fillEntryPicker();
      this.say(`Moved to ${day}.`);
    } catch (e) {
      if (e.status === 412) {
        this.app.showError({ detail: `this entry was changed elsewhere (now version ${e.body.currentVersion}); the calendar was reloaded, nothing was moved`, code: e.code }, "Move entry");
        await this.app.openCalendar(this.calendarId, { keepRun: true });
      } else {
        this.app.showError(e, "Move entry");
      }
    }
  }

  // ---- calendar ---------------------------------------------------------------------------

  async rename() {
    const name = window.prompt("New name for this calendar", $("cal-name").textContent.replace(/^— /, ""));
    if (!name || !name.trim()) return;
    try {
      const cal = await getJSON("PATCH", `/v1/calendars/${this.calendarId}`, { body: { name: name.trim() } });
      $("cal-name").textContent = `— ${cal.name}`;
      this.app.loadCalendars();
    } catch (e) { this.app.showError(e, "Rename calendar"); }
  }

  async deleteCalendar() {
    if (!window.confirm("Delete this calendar? Pending publishes are cancelled; published history is kept.")) return;
    try {
      await request("DELETE", `/v1/calendars/${this.calendarId}`);
      this.app.calendarId = null;
      this.app.grid.reset(null);
      $("cal-name").textContent = "";
      this.app.loadCalendars();
      this.app.updateButtons();
      this.say("Calendar deleted.");
    } catch (e) { this.app.showError(e, "Delete calendar"); }
  }

  // ---- intents ----------------------------------------------------------------------------

  async loadIntents() {
    const body = $("intents-rows");
    if (!this.calendarId) { body.replaceChildren(); return; }
    let page;
    try {
      page = await getJSON("GET", `/v1/publish-intents?calendarId=${this.calendarId}&limit=100`);
    } catch (e) {
      if (!e.unavailable) this.say(`Intents: ${e.detail}`);
      return;
    }
    const live = (page.items || []).filter((i) => !i.dryRun);
    $("intents-table").hidden = !live.length;
    body.replaceChildren(...live.map((i) => this.intentRow(i)));
  }

  intentRow(i) {
    const tr = el("tr");
    tr.dataset.intentId = i.id;
    tr.dataset.status = i.status;
    const entry = this.app.grid.entries.get(i.entryId);
    tr.append(el("td", "", entry ? `${entryDay(entry)} ${entry.hook}` : i.entryId.slice(0, 8)),
      el("td", "", channelLabel(i.channel)), el("td", "status", i.status),
      el("td", "", reasonText(i.error)));
    const tools = el("td", "tools");
    const act = (label, path, body) => button(label, "secondary small", async () => {
      try {
        const done = await getJSON("POST", `/v1/publish-intents/${i.id}/${path}`, { body });
        this.say(`${label}: the intent is now ${done.status}.`);
      } catch (e) {
        // A cancel that came too late says what happened instead.
        if (e.code === "intent_not_cancellable") this.say(`Too late to cancel: it is ${e.body.intentStatus}.`);
        else this.app.showError(e, label);
      }
      this.loadIntents();
      this.loadNotifications();
    });
    if (["pending", "claimed"].includes(i.status)) tools.append(act("Cancel", "cancel"));
    if (i.status === "unknown") {
      tools.append(act("It was published", "resolve", { outcome: "published" }),
        act("It was not published", "resolve", { outcome: "not_published" }));
    }
    if (i.status === "failed") tools.append(act("Retry", "retry"));
    tr.append(tools);
    return tr;
  }

  // ---- notifications ----------------------------------------------------------------------

  async loadNotifications() {
    let page;
    try {
      page = await getJSON("GET", "/v1/notifications?limit=20");
    } catch {
      return;
    }
    const list = $("notifications");
    const items = page.items || [];
    list.replaceChildren(...(items.length ? items.map((n) => {
      const li = el("li", "", `${new Date(n.createdAt).toLocaleString()} · ${n.event}`);
      li.dataset.event = n.event;
      const d = n.data || {};
      if (d.channel) li.append(el("span", "muted", ` · ${channelLabel(d.channel)}`));
      if (d.error) li.append(el("span", "muted", ` · ${reasonText(d.error)}`));
      return li;
    }) : [el("li", "muted", "Nothing yet.")]));
  }

  init() {
    $("add-channel").addEventListener("change", () => this.fillFormats());
    this.fillFormats();
    $("entry-add-form").addEventListener("submit", (ev) => this.addEntry(ev));
    $("entry-duplicate").addEventListener("click", () => this.duplicateEntry());
    $("entry-delete").addEventListener("click", () => this.deleteEntry());
    $("cal-rename").addEventListener("click", () => this.rename());
    $("cal-delete").addEventListener("click", () => this.deleteCalendar());
    $("intents-refresh").addEventListener("click", () => { this.loadIntents(); this.loadNotifications(); });
    this.app.grid.onMove = (id, day) => this.moveEntry(id, day);
    this.refresh();
  }
}
