// postplan page controller: auth, status strip, brief → streamed generation, saved calendars.

import { auth, request, getJSON } from "./api.js";
import { SSEParser, readEventStream } from "./sse.js";
import { Grid, channelLabel } from "./grid.js";
import { Editor } from "./editor.js";
import { Actions } from "./actions.js";
import { MediaLibrary } from "./media.js";
import { Manage } from "./manage.js";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MAX_RESUMES = 8;

class App {
  constructor() {
    this.calendarId = null;
    this.flags = {};
    this.run = null; // {runId, mode, dryRun, expected, received, lastEventId, done, status}
    this.abort = null;
    this.nextCursor = null;
    this.grid = new Grid($("grid"), (id, node) => this.openEntry(id, node));
    this.editor = new Editor({
      getCalendarId: () => this.calendarId,
      onSaved: (entry) => this.grid.upsert(entry),
      onConflictLoaded: (entry) => this.grid.upsert(entry),
    });
    this.actions = new Actions(this);
    this.manage = new Manage(this);
    this.media = new MediaLibrary(this);
    this.editor.library = this.media;
    this.grid.onDrop = (entryId, dt) => {
      if (this.calendarId && !(this.run && this.run.dryRun)) this.media.drop(entryId, dt);
    };
  }

  /** Read the open calendar's entries again (their media's status and thumbnails changed). */
  async reloadEntries() {
    if (!this.calendarId) return;
    try {
      const page = await getJSON("GET", `/v1/calendars/${encodeURIComponent(this.calendarId)}/entries?limit=5000`);
      for (const e of page.items || []) this.grid.upsert(e);
    } catch { /* the next refresh tries again */ }
  }

  // ---- errors -------------------------------------------------------------------------

  showError(err, context) {
    $("error-title").textContent = context ? `${context}:` : "Error:";
    $("error-detail").textContent = err.detail || err.message || String(err);
    $("error-code").textContent = err.code ? `(${err.code})` : "";
    $("error").hidden = false;
  }

  clearError() { $("error").hidden = true; }

  flagOn(name) { return this.flags[name] === true; }

  // ---- header strip -------------------------------------------------------------------

  async loadFlags() {
    const list = $("flags");
    let body;
    try {
      body = await getJSON("GET", "/v1/flags");
    } catch (e) {
      this.flags = {};
      list.replaceChildren(pill(e.unavailable ? "flags unavailable" : `flags: ${e.detail} (${e.code})`, e.unavailable ? "off" : "bad"));
      this.updateButtons();
      return;
    }
    this.flags = normalizeFlags(body);
    const names = Object.keys(this.flags).sort();
    list.replaceChildren(...(names.length ? names.map((n) => {
      const p = pill(`${n.replace(/_ENABLED$/, "").replaceAll("_", " ").toLowerCase()}: ${this.flags[n] ? "on" : "off"}`, this.flags[n] ? "on" : "off");
      p.dataset.flag = n;
      p.dataset.value = String(this.flags[n]);
      p.title = n;
      return p;
    }) : [pill("no flags", "off")]));
    this.updateButtons();
  }

  async loadConnections() {
    const items = await Promise.all(["tiktok", "instagram"].map(async (ch) => {
      let text;
      let tone;
      try {
        const c = await getJSON("GET", `/v1/channels/${ch}/connection`);
        const expired = c && c.expiresAt && Date.parse(c.expiresAt) < Date.now() && !c.hasRefreshToken;
        const status = String((c && (c.status || c.state)) || "");
        const ok = c && c.connected !== false && !expired && (!status || ["active", "connected", "ok"].includes(status));
        text = ok ? "connected" : (expired ? "expired" : (status || "not connected").replaceAll("_", " "));
        if (c && c.accountId) text += ` (${c.accountId})`;
        tone = ok ? "on" : "bad";
      } catch (e) {
        if (e.unavailable) { text = "unavailable"; tone = "off"; }
        else if (e.status === 404) { text = "not connected"; tone = "off"; }
        else { text = `${e.detail} (${e.code})`; tone = "bad"; }
      }
      const p = pill(`${channelLabel(ch)}: ${text}`, tone);
      p.dataset.channel = ch;
      return p;
    }));
    $("connections").replaceChildren(...items);
  }

  refreshStatus() {
    this.loadFlags();
    this.loadConnections();
  }

  updateButtons() {
    // Nothing to export or publish from a dry run, nor from a calendar still being written.
    const streaming = Boolean(this.run && !this.run.done && this.abort);
    const saved = Boolean(this.calendarId) && !(this.run && this.run.dryRun) && !streaming;
    for (const b of document.querySelectorAll("button.export")) b.disabled = !saved;
    $("feed").disabled = !saved;
    $("regen-unedited").disabled = !saved;
    $("editor-regenerate").disabled = !saved;
    $("publish-dry").disabled = !saved;
    const live = saved && this.flagOn("PUBLISH_SERVICE_ENABLED");
    $("publish-live").disabled = !live;
    $("publish-live-hint").textContent = live ? "Live publishing is on for you; intents update as they progress."
      : "Live publishing needs PUBLISH_SERVICE_ENABLED on for you.";
  }

  // ---- brief --------------------------------------------------------------------------

  briefFromForm() {
    const f = $("brief-form");
    const val = (name) => f.elements.namedItem(name).value.trim();
    const brief = { brand: val("brand") };
    for (const k of ["niche", "audience", "goals"]) if (val(k)) brief[k] = val(k);
    brief.channels = [...f.querySelectorAll('input[name="channels"]:checked')].map((c) => c.value);
    brief.startDate = val("startDate");
    brief.days = Number(val("days") || 30);
    if (val("postsPerWeek")) brief.postsPerWeek = Number(val("postsPerWeek"));
    brief.timezone = val("timezone") || "UTC";
    const pillars = val("pillars").split(",").map((p) => p.trim()).filter(Boolean);
    if (pillars.length) brief.pillars = pillars;
    if (val("language")) brief.language = val("language");
    if (val("country")) brief.country = val("country").toUpperCase();
    return brief;
  }

  validate(brief) {
    const f = $("brief-form");
    for (const el of f.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const bad = (name, detail) => {
      const el = f.elements.namedItem(name);
      const target = el instanceof RadioNodeList ? el[0] : el;
      if (target) { target.setAttribute("aria-invalid", "true"); target.focus(); }
      this.showError({ detail, code: "invalid_brief" }, "Brief");
      return false;
    };
    if (!brief.brand) return bad("brand", "Brand is required.");
    if (!brief.channels.length) return bad("channels", "Pick at least one channel.");
    if (!/^\d{4}-\d{2}-\d{2}$/.test(brief.startDate)) return bad("startDate", "Start date is required.");
    if (!(brief.days >= 1 && brief.days <= 92)) return bad("days", "Days must be between 1 and 92.");
    return true;
  }

  markServerErrors(err) {
    const f = $("brief-form");
    for (const item of (err.body && err.body.errors) || []) {
      const el = f.elements.namedItem(String(item.field || "").split(".")[0]);
      if (el && el.setAttribute) el.setAttribute("aria-invalid", "true");
    }
  }

  // ---- generation ---------------------------------------------------------------------

  setProgress(text) {
    $("progress").textContent = text;
  }

  progressText() {
    const r = this.run;
    if (!r) return "No run yet.";
    const bar = $("progress-bar");
    bar.max = Math.max(r.expected || r.received || 1, 1);
    bar.value = r.received;
    return r.expected ? `${r.received} / ${r.expected} entries` : `${r.received} entries`;
  }

  setStatus(status, text) {
    const el = $("run-status");
    el.dataset.status = status || "";
    el.dataset.mode = (this.run && this.run.mode) || "";
    el.textContent = text || "";
  }

  async generate(brief) {
    if (this.abort) this.abort.abort();
    const ctl = new AbortController();
    this.abort = ctl;
    this.clearError();
    this.actions.reset();
    this.calendarId = brief.calendarId || null;
    this.run = { runId: null, mode: null, dryRun: false, expected: 0, received: 0, lastEventId: "", done: false, status: "" };
    this.grid.view = this.grid.view || "month";
    this.grid.reset({ start: brief.startDate, days: brief.days });
    $("cal-name").textContent = `— ${brief.brand}`;
    this.setStatus("running", "");
    this.setProgress("Starting…");
    this.updateButtons();
    $("generate").disabled = true;
    $("cancel").hidden = false;
    // On a phone the calendar sits below the form: bring it into view as entries arrive.
    if (window.matchMedia("(max-width: 640px)").matches) $("cal-heading").scrollIntoView({ block: "start" });
    try {
      let res;
      try {
        res = await request("POST", "/v1/ai/calendar", { body: brief, headers: { Accept: "text/event-stream" }, signal: ctl.signal });
      } catch (e) {
        if (e.name === "AbortError") return;
        this.markServerErrors(e);
        this.setStatus("failed", e.unavailable ? "Generation is unavailable on this server." : `Failed — ${e.detail} (${e.code})`);
        this.setProgress(this.progressText());
        if (!e.unavailable) this.showError(e, "Generate");
        return;
      }
      await this.consume(res, ctl.signal);
      let attempts = 0;
      while (!this.run.done && !ctl.signal.aborted && this.run.runId && attempts < MAX_RESUMES) {
        attempts += 1;
        this.setProgress(`${this.progressText()} — connection lost, resuming (attempt ${attempts})…`);
        await sleep(Math.min(500 * 2 ** (attempts - 1), 8000));
        const before = this.run.received;
        try {
          const headers = { Accept: "text/event-stream" };
          if (this.run.lastEventId) headers["Last-Event-ID"] = this.run.lastEventId;
          res = await request("GET", `/v1/ai/calendar/runs/${encodeURIComponent(this.run.runId)}/events`, { headers, signal: ctl.signal });
          await this.consume(res, ctl.signal);
        } catch (e) {
          if (e.name === "AbortError") return;
          if (e.status >= 400 && e.status < 500 && ![408, 429].includes(e.status)) {
            this.showError(e, "Resume");
            break;
          }
        }
        if (this.run.received > before) attempts = 0;
      }
      if (!this.run.done) await this.settleFromRun();
    } catch (e) {
      if (e.name !== "AbortError") throw e;
    } finally {
      if (this.abort === ctl) {
        this.abort = null;
        $("generate").disabled = false;
        $("cancel").hidden = true;
        this.updateButtons();
      }
    }
  }

  /** Regenerate entries of the open calendar (POST …/regenerate streams a run; entries keep
   * their ids, so the grid replaces them in place). */
  async regenerate(body, label) {
    if (!this.calendarId || this.abort) return;
    const ctl = new AbortController();
    this.abort = ctl;
    this.clearError();
    this.run = { runId: null, mode: null, dryRun: false, expected: 0, received: 0, lastEventId: "", done: false, status: "", regenerating: true };
    this.setStatus("running", "");
    this.setProgress("Regenerating…");
    this.updateButtons();
    try {
      const path = `/v1/calendars/${encodeURIComponent(this.calendarId)}/regenerate`;
      const res = await request("POST", path, { body, headers: { Accept: "text/event-stream" }, signal: ctl.signal });
      await this.consume(res, ctl.signal);
      if (!this.run.done) await this.settleFromRun();
    } catch (e) {
      if (e.name === "AbortError") return;
      this.setStatus("failed", `${label} failed — ${e.detail} (${e.code})`);
      this.showError(e, label);
    } finally {
      if (this.abort === ctl) {
        this.abort = null;
        this.updateButtons();
      }
    }
  }

  async consume(res, signal) {
    const parser = new SSEParser((ev) => this.onEvent(ev));
    await readEventStream(res, parser, signal);
  }

  onEvent(ev) {
    let data = {};
    try { data = ev.data ? JSON.parse(ev.data) : {}; } catch { return; }
    const r = this.run;
    if (ev.id) r.lastEventId = ev.id;
    switch (ev.event) {
      case "run": {
        r.runId = data.runId;
        r.mode = data.mode;
        r.dryRun = Boolean(data.dryRun);
        r.expected = data.expectedEntries || 0;
        if (data.calendarId) this.calendarId = data.calendarId;
        this.grid.readOnly = r.dryRun;
        this.updateButtons();
        if (r.mode === "legacy" && r.dryRun) {
          this.setStatus("running", "Legacy mode: CALENDAR_SERVICE_ENABLED is off, so this is a dry-run preview and nothing is saved.");
        } else {
          this.setStatus("running", `Generating (${r.mode} mode${r.dryRun ? ", dry run: nothing is saved" : ""})…`);
        }
        break;
      }
      case "entry": {
        if (!data.entry) break;
        const fresh = !this.grid.entries.has(data.entry.id);
        this.grid.upsert(data.entry);
        if (fresh || r.regenerating) r.received += 1;
        break;
      }
      case "timeout":
        r.timeout = data;
        break;
      case "error":
        r.error = data;
        break;
      case "done":
        r.done = true;
        this.finish(data.status, data.entryCount);
        return;
      default:
        break;
    }
    this.setProgress(this.progressText());
  }

  finish(status, count) {
    const r = this.run;
    r.status = status;
    const n = count ?? r.received;
    const legacy = r.mode === "legacy" && r.dryRun ? " Legacy mode: this is a dry-run preview (CALENDAR_SERVICE_ENABLED is off); nothing was saved." : "";
    let text;
    if (status === "completed") text = `Completed — ${n} entries.${legacy}`;
    else if (status === "partial") text = `Partial calendar — ${(r.timeout && r.timeout.message) || "generation stopped early"} (${n} entries kept).${legacy}`;
    else if (status === "failed") text = `Failed — ${(r.error && r.error.message) || "generation failed"}${r.error && r.error.code ? ` (${r.error.code})` : ""}.${legacy}`;
    else if (status === "cancelled") text = `Cancelled (${n} entries kept).`;
    else text = `Finished: ${status}.`;
    this.setStatus(status, text);
    this.setProgress(`${this.progressText()} — done`);
    this.updateButtons();
    if (!r.dryRun) this.loadCalendars();
  }

  /** The stream could not be resumed: ask the run itself how it ended. */
  async settleFromRun() {
    const r = this.run;
    if (!r.runId) {
      this.setStatus("failed", "Failed — the connection dropped before the run started.");
      return;
    }
    try {
      const run = await getJSON("GET", `/v1/ai/calendar/runs/${encodeURIComponent(r.runId)}`);
      if (run.error) r.error = run.error;
      if (run.status && run.status !== "running") {
        this.finish(run.status, run.entryCount);
        if (this.calendarId) await this.openCalendar(this.calendarId, { keepRun: true });
        return;
      }
      this.setStatus("running", "Lost the live stream; the run is still going on the server. Reopen it from Saved calendars later.");
    } catch (e) {
      this.setStatus("failed", `Lost the stream and could not read the run: ${e.detail} (${e.code})`);
    }
  }

  stop() {
    if (!this.abort) return;
    this.abort.abort();
    this.setStatus("cancelled", "Stopped watching. The run carries on and is saved on the server; reopen it from Saved calendars.");
  }

  // ---- saved calendars ----------------------------------------------------------------

  async loadCalendars(more = false) {
    const list = $("calendars");
    let page;
    try {
      const q = more && this.nextCursor ? `&cursor=${encodeURIComponent(this.nextCursor)}` : "";
      page = await getJSON("GET", `/v1/calendars?limit=20${q}`);
    } catch (e) {
      list.replaceChildren(li(e.unavailable ? "Calendars are unavailable." : `${e.detail} (${e.code})`));
      return;
    }
    if (!more) list.replaceChildren();
    for (const c of page.items || []) {
      const item = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.calendarId = c.id;
      if (c.id === this.calendarId) b.setAttribute("aria-current", "true");
      b.append(document.createTextNode(c.name || (c.brief && c.brief.brand) || c.id));
      const small = document.createElement("small");
      small.textContent = `${c.timezone} · created ${new Date(c.createdAt).toLocaleString()}`;
      b.append(small);
      b.addEventListener("click", () => this.openCalendar(c.id));
      item.append(b);
      list.append(item);
    }
    if (!list.children.length) list.replaceChildren(li("No saved calendars yet."));
    this.nextCursor = page.nextCursor || null;
    $("calendars-more").hidden = !this.nextCursor;
  }

  async openCalendar(id, { keepRun = false } = {}) {
    let cal;
    try {
      cal = await getJSON("GET", `/v1/calendars/${encodeURIComponent(id)}`);
    } catch (e) {
      this.showError(e, "Open calendar");
      return;
    }
    if (!keepRun) {
      if (this.abort) this.abort.abort();
      this.run = null;
      this.setStatus("", "");
      this.setProgress(`${(cal.entries || []).length} saved entries loaded.`);
      $("progress-bar").max = 1;
      $("progress-bar").value = 1;
    }
    this.actions.reset();
    this.calendarId = cal.id;
    const brief = cal.brief || {};
    const start = brief.startDate || brief.start_date;
    const days = Number(brief.days || 0);
    this.grid.reset(start ? { start: String(start).slice(0, 10), days: days || 30 } : null, { readOnly: false });
    for (const e of cal.entries || []) this.grid.upsert(e);
    $("cal-name").textContent = `— ${cal.name || brief.brand || ""}`;
    if (!keepRun && cal.latestRunId) this.showLastRun(cal.latestRunId);
    for (const b of document.querySelectorAll("#calendars button")) {
      if (b.dataset.calendarId === cal.id) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
    this.updateButtons();
    this.manage.refresh();
  }

  /** A reopened calendar says how its latest run ended (a partial one stays visible as such). */
  async showLastRun(runId) {
    let run;
    try {
      run = await getJSON("GET", `/v1/ai/calendar/runs/${encodeURIComponent(runId)}`);
    } catch {
      return; // the saved entries are what matter; the run's status is a bonus
    }
    if (this.run || !run || !run.status) return;
    const why = run.error && run.error.message ? ` — ${run.error.message}` : "";
    const labels = { completed: "Completed", partial: "Partial calendar", failed: "Failed", cancelled: "Cancelled", running: "Still generating" };
    this.setStatus(run.status, `Latest run: ${labels[run.status] || run.status}${why} (${run.entryCount ?? "?"} entries).`);
  }

  openEntry(id, node) {
    const entry = this.grid.entries.get(id);
    if (!entry) return;
    this.openEntryId = id;
    const readOnly = Boolean(this.run && this.run.dryRun) || !this.calendarId;
    this.editor.open(entry, node, { readOnly });
  }

  // ---- wiring -------------------------------------------------------------------------

  init() {
    const user = $("auth-user");
    const token = $("auth-token");
    user.value = auth.userId;
    token.value = auth.token;
    $("auth-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      auth.userId = user.value.trim();
      auth.token = token.value.trim();
      this.refreshStatus();
      this.loadCalendars();
      this.media.refresh();
    });
    $("refresh-status").addEventListener("click", () => this.refreshStatus());
    $("error-close").addEventListener("click", () => this.clearError());

    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    $("f-tz").value = tz;
    if (Intl.supportedValuesOf) {
      $("tz-list").replaceChildren(...Intl.supportedValuesOf("timeZone").map((z) => new Option(z)));
    }
    const now = new Date();
    $("f-start").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;

    $("brief-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const brief = this.briefFromForm();
      if (this.validate(brief)) this.generate(brief);
    });
    $("cancel").addEventListener("click", () => this.stop());
    $("calendars-refresh").addEventListener("click", () => this.loadCalendars());
    $("calendars-more").addEventListener("click", () => this.loadCalendars(true));

    const setView = (view) => {
      $("view-month").setAttribute("aria-pressed", String(view === "month"));
      $("view-week").setAttribute("aria-pressed", String(view === "week"));
      $("week-prev").hidden = view !== "week";
      $("week-next").hidden = view !== "week";
      this.grid.setView(view);
    };
    $("view-month").addEventListener("click", () => setView("month"));
    $("view-week").addEventListener("click", () => setView("week"));
    $("week-prev").addEventListener("click", () => this.grid.shiftWeek(-1));
    $("week-next").addEventListener("click", () => this.grid.shiftWeek(1));
    $("regen-unedited").addEventListener("click", () => this.regenerate({ unedited: true }, "Regenerate unedited"));
    $("editor-regenerate").addEventListener("click", () => {
      const id = this.openEntryId;
      $("editor").close();
      if (id) this.regenerate({ entryIds: [id] }, "Regenerate this post");
    });

    this.manage.init();
    this.refreshStatus();
    this.loadCalendars();
    this.media.refresh();
    this.updateButtons();
  }
}

function pill(text, tone) {
  const el = document.createElement("li");
  el.className = `pill ${tone || ""}`.trim();
  el.textContent = text;
  return el;
}

function li(text) {
  const el = document.createElement("li");
  el.className = "muted";
  el.textContent = text;
  return el;
}

/** GET /v1/flags may answer {NAME: bool}, {flags: {...}} or {items: [{key, enabled}]}. */
export function normalizeFlags(body) {
  const src = body && typeof body === "object" ? (body.flags ?? body.items ?? body) : {};
  const out = {};
  if (Array.isArray(src)) {
    for (const f of src) {
      const k = f && (f.key || f.name || f.flag);
      const v = f && (f.enabled ?? f.value ?? f.on);
      if (k) out[k] = v === true;
    }
  } else if (src && typeof src === "object") {
    for (const [k, v] of Object.entries(src)) {
      if (typeof v === "boolean") out[k] = v;
      else if (v && typeof v === "object" && ("enabled" in v || "value" in v)) out[k] = (v.enabled ?? v.value) === true;
    }
  }
  return out;
}

const app = new App();
window.postplan = app; // handy from the devtools console
app.init();
