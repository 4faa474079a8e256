// Export (CSV, ICS, JSON), the ICS subscription link, and dry-run / live publishing.

import { request, getJSON, uuid } from "./api.js";
import { channelLabel, entryTime, longDate, entryDay, reasonText, publishTone } from "./grid.js";

const TERMINAL = new Set(["dry_run", "published", "failed", "needs_reauth", "cancelled"]);
const EXT = { csv: "csv", ics: "ics", json: "json" };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function filenameFrom(disposition, fallback) {
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition || "");
  if (star) { try { return decodeURIComponent(star[1]); } catch { /* fall through */ } }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition || "");
  return plain ? plain[1] : fallback;
}

export class Actions {
  /**
   * @param {object} app  the page controller: calendarId, flags, grid, showError(), unavailable()
   */
  constructor(app) {
    this.app = app;
    this.out = document.getElementById("export-result");
    this.table = document.getElementById("publish-table");
    this.summary = document.getElementById("publish-summary");
    this.pollTimer = null;
    for (const btn of document.querySelectorAll("button.export")) {
      btn.addEventListener("click", () => this.exportAs(btn.dataset.format));
    }
    document.getElementById("feed").addEventListener("click", () => this.feed());
    document.getElementById("feed-copy").addEventListener("click", () => this.copyFeed());
    document.getElementById("publish-dry").addEventListener("click", () => this.publish(true));
    document.getElementById("publish-live").addEventListener("click", () => this.publish(false));
  }

  base() { return `/v1/calendars/${encodeURIComponent(this.app.calendarId)}`; }

  reset() {
    this.stopPolling();
    this.out.replaceChildren();
    document.getElementById("feed-box").hidden = true;
    document.getElementById("feed-status").textContent = "";
    this.table.hidden = true;
    this.table.tBodies[0].replaceChildren();
    this.summary.textContent = "";
  }

  // ---- export -------------------------------------------------------------------------

  async exportAs(format) {
    const live = this.app.flagOn("PUBLISH_SERVICE_ENABLED");
    this.out.replaceChildren(el("p", `Exporting ${format.toUpperCase()}…`, "muted"));
    let res;
    try {
      res = await request("POST", `${this.base()}/export`, { body: { format, dryRun: !live } });
    } catch (e) {
      this.out.replaceChildren(el("p", e.unavailable ? "Export is unavailable on this server." : `Export failed: ${e.detail} (${e.code})`, "error-inline"));
      if (!e.unavailable) this.app.showError(e, "Export");
      return;
    }
    const ctype = res.headers.get("content-type") || "";
    const disposition = res.headers.get("content-disposition") || "";
    const text = await res.text();
    if (ctype.includes("json") && !/attachment/i.test(disposition)) {
      let obj = null;
      try { obj = JSON.parse(text); } catch { /* not JSON after all: treat as a file */ }
      if (obj && typeof obj === "object" && !Array.isArray(obj) && (obj.dryRun === true || ("checksum" in obj && "preview" in obj))) {
        this.showSummary(format, obj);
        return;
      }
    }
    const name = filenameFrom(disposition, `calendar-${this.app.calendarId}.${EXT[format]}`);
    const blob = new Blob([text], { type: ctype || "application/octet-stream" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    const box = el("div");
    box.dataset.exportFormat = format;
    box.dataset.exportKind = "file";
    box.append(el("p", `Downloaded ${name} (${blob.size} bytes).`));
    const checksum = res.headers.get("x-checksum");
    if (checksum) box.append(el("p", `Checksum ${checksum}`, "muted"));
    const pre = el("pre", text.length > 20000 ? `${text.slice(0, 20000)}\n…` : text, "preview");
    pre.setAttribute("aria-label", `${format.toUpperCase()} file preview`);
    pre.tabIndex = 0;
    box.append(pre);
    this.out.replaceChildren(box);
  }

  showSummary(format, obj) {
    const box = el("div");
    box.dataset.exportFormat = format;
    box.dataset.exportKind = "dry-run";
    box.append(el("p", `Dry run (${format.toUpperCase()}): no file is produced while PUBLISH_SERVICE_ENABLED is off.`));
    const dl = el("dl");
    const count = obj.count ?? obj.entryCount ?? obj.entries;
    const rows = [["Checksum", obj.checksum], ["Count", count], ["Format", obj.format], ["File name", obj.filename],
      ["Bytes", obj.bytes ?? obj.size], ["Entries in preview", obj.previewEntries]];
    for (const [k, v] of rows) {
      if (v === undefined || v === null || typeof v === "object") continue;
      dl.append(el("dt", k), el("dd", String(v)));
    }
    box.append(dl);
    if (obj.preview !== undefined && obj.preview !== null) {
      const text = typeof obj.preview === "string" ? obj.preview : JSON.stringify(obj.preview, null, 2);
      const pre = el("pre", text, "preview");
      pre.setAttribute("aria-label", `${format.toUpperCase()} preview`);
      pre.tabIndex = 0;
      box.append(pre);
    }
    this.out.replaceChildren(box);
  }

  async feed() {
    const status = document.getElementById("feed-status");
    status.textContent = "Creating the subscription link…";
    let obj;
    try {
      obj = await getJSON("POST", `${this.base()}/feed`);
    } catch (e) {
      status.textContent = e.unavailable ? "The subscription link is unavailable on this server." : `Feed link failed: ${e.detail} (${e.code})`;
      return;
    }
    const raw = obj && (obj.url || obj.feedUrl || obj.icsUrl || obj.href);
    if (!raw) { status.textContent = "The server did not return a feed URL."; return; }
    const url = new URL(raw, window.location.origin).href;
    const input = document.getElementById("feed-url");
    input.value = url;
    document.getElementById("feed-box").hidden = false;
    status.textContent = "Subscribe to this URL in your calendar app. Creating a new link revokes the old one.";
    if (obj.webcalUrl) status.dataset.webcal = obj.webcalUrl;
    input.focus();
    input.select();
  }

  async copyFeed() {
    const input = document.getElementById("feed-url");
    const btn = document.getElementById("feed-copy");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select();
      document.execCommand("copy");
    }
    btn.textContent = "Copied";
    setTimeout(() => { btn.textContent = "Copy"; }, 1500);
  }

  // ---- publish ------------------------------------------------------------------------

  async publish(dryRun) {
    if (!dryRun && !window.confirm("Publish these entries to the connected channels for real?")) return;
    this.stopPolling();
    this.summary.textContent = dryRun ? "Checking every entry (dry run)…" : "Queueing live publish…";
    let body;
    try {
      body = await getJSON("POST", `${this.base()}/publish`, {
        body: { dryRun, when: document.getElementById("publish-when").value },
        headers: { "Idempotency-Key": uuid() },
      });
    } catch (e) {
      this.summary.textContent = e.unavailable ? "Publishing is unavailable on this server." : `Publish refused: ${e.detail} (${e.code})`;
      if (!e.unavailable) this.app.showError(e, "Publish");
      return;
    }
    const s = body.summary || {};
    const label = body.dryRun ? "Dry run" : "Live publish";
    this.summary.textContent = `${label}: ${s.total ?? body.results.length} checked, ${s.succeeded ?? 0} ok, ${s.failed ?? 0} failed, ${s.queued ?? 0} queued, ${s.skipped ?? 0} skipped.`;
    this.renderResults((body.results || []).map((r) => ({ ...r, dryRun: body.dryRun })));
    if (!body.dryRun) this.poll((body.results || []).map((r) => r.intentId).filter(Boolean));
  }

  renderResults(results) {
    const tbody = this.table.tBodies[0];
    tbody.replaceChildren();
    const at = (r) => {
      const e = this.app.grid.entries.get(r.entryId);
      return e ? Date.parse(e.scheduledAt) : Infinity;
    };
    results = [...results].sort((a, b) => at(a) - at(b) || String(a.channel).localeCompare(String(b.channel)));
    for (const r of results) {
      const entry = this.app.grid.entries.get(r.entryId);
      const tr = el("tr");
      tr.dataset.resultEntryId = r.entryId;
      if (r.intentId) tr.dataset.intentId = r.intentId;
      const what = entry ? `${longDate(entryDay(entry))} ${entryTime(entry)} — ${entry.hook}` : r.entryId;
      const reasons = r.error ? reasonText(r.error) : (r.status === "dry_run" ? "would publish" : "");
      const statusCell = el("td", r.error && r.status === "dry_run" ? "dry_run (blocked)" : r.status, publishTone(r.status, r.error));
      tr.append(el("td", what), el("td", channelLabel(r.channel)), statusCell, el("td", reasons));
      tbody.append(tr);
      const label = r.dryRun && r.status === "dry_run" ? (r.error ? "dry-run: blocked" : "dry-run ok") : r.status;
      this.app.grid.setPublish(r.entryId, { status: r.status, error: r.error, label });
    }
    this.table.hidden = results.length === 0;
  }

  /** Live intents move on in the worker: poll their status until every one is terminal. */
  poll(intentIds) {
    const ids = new Set(intentIds);
    if (ids.size === 0) return;
    const started = Date.now();
    let delay = 2000;
    const tick = async () => {
      let page;
      try {
        page = await getJSON("GET", `/v1/publish-intents?calendarId=${encodeURIComponent(this.app.calendarId)}&limit=500`);
      } catch (e) {
        this.summary.textContent = e.unavailable ? "Intent status is unavailable on this server." : `Status check failed: ${e.detail} (${e.code})`;
        if (e.unavailable) return;
      }
      const mine = page ? (page.items || []).filter((i) => ids.has(i.id)) : [];
      if (mine.length) {
        this.renderResults(mine.map((i) => ({ intentId: i.id, entryId: i.entryId, channel: i.channel, status: i.status, error: i.error, dryRun: false })));
        const open = mine.filter((i) => !TERMINAL.has(i.status)).length;
        const counts = {};
        for (const i of mine) counts[i.status] = (counts[i.status] || 0) + 1;
        this.summary.textContent = `Live publish: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")}${open ? " — updating…" : " — all settled."}`;
        if (open === 0) return;
      }
      if (Date.now() - started > 30 * 60000) return;
      delay = Math.min(delay * 1.5, 15000);
      this.pollTimer = setTimeout(tick, delay);
    };
    this.pollTimer = setTimeout(tick, 1000);
  }

  stopPolling() {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }
}
