// Media library panel: the user's uploads (thumbnails, status), upload with a progress bar
// (XMLHttpRequest: fetch() cannot report upload progress), delete; attaching a file to an entry
// by dropping it (a library item or a file from the desktop) on the entry, or from the editor.

import { auth, request, getJSON, ApiError } from "./api.js";

export const MEDIA_TYPE = "application/x-postplan-media";
const POLL_MS = 700;

/** A signed URL as a same-origin path: the page's CSP allows images from its own origin only,
 *  and PUBLIC_BASE_URL (the host platforms pull from) may name another host for the same app. */
export function localUrl(url) {
  if (!url) return "";
  try { const u = new URL(url, location.href); return u.pathname + u.search; } catch { return ""; }
}

/** What an entry's media list looks like to the API on an edit: ids and hosted links only. */
export const editable = (list) => (list || []).map((m) => (m.mediaId ? { mediaId: m.mediaId } : { url: m.url, type: m.type }));

/** Why an entry cannot be published with its media, or that it can: {state, text}. */
export function mediaState(entry) {
  const media = entry.media || [];
  if (!media.length) return { state: "needs", text: "needs media" };
  const problems = [];
  let processing = false;
  for (const m of media) {
    if (!m.mediaId) continue;
    if (m.status === "missing") problems.push("an attached file was deleted");
    else if (m.status === "processing") processing = true;
    else if (m.status === "rejected") problems.push(`${m.filename}: rejected — ${(m.error && m.error.message) || "unreadable"}`);
    else if (!m.check) problems.push(`${m.filename}: a ${m.kind} cannot be a ${entry.channel} ${entry.format}`);
    else if (!m.check.ok) {
      for (const f of m.check.findings || []) problems.push(`${f.code}: ${f.message}`);
    }
  }
  if (problems.length) return { state: "blocked", text: problems.join("; ") };
  if (processing) return { state: "processing", text: "media processing…" };
  return { state: "ok", text: "media ready" };
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** POST /v1/media with upload progress; resolves to the Media, rejects with an ApiError. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/media");
    for (const [k, v] of Object.entries(auth.headers())) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 || xhr.status === 200) { resolve(body); return; }
      reject(new ApiError({ status: xhr.status, code: body.code || `http_${xhr.status}`,
        detail: body.detail || body.title || xhr.statusText, title: body.title, body }));
    });
    xhr.addEventListener("error", () => reject(new ApiError({ status: 0, code: "network_error", detail: "the upload was interrupted" })));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export class MediaLibrary {
  /** @param {object} app the page controller: calendarId, grid, editor, showError() */
  constructor(app) {
    this.app = app;
    this.items = new Map();
    this.list = document.getElementById("media-list");
    this.status = document.getElementById("media-status");
    this.bar = document.getElementById("media-progress");
    this.timer = null;
    document.getElementById("media-file").addEventListener("change", async (ev) => {
      const files = [...ev.target.files];
      ev.target.value = "";
      for (const f of files) await this.upload(f);
    });
    document.getElementById("media-refresh").addEventListener("click", () => this.refresh());
  }

  async refresh() {
    let page;
    try {
      page = await getJSON("GET", "/v1/media?limit=100");
    } catch (e) {
      this.status.textContent = e.unavailable ? "Media library unavailable on this server." : `${e.detail} (${e.code})`;
      return;
    }
    const before = [...this.items.values()].map((m) => `${m.id}:${m.status}`).join();
    this.items = new Map((page.items || []).map((m) => [m.id, m]));
    this.render();
    this.app.editor.setLibrary?.([...this.items.values()]);
    const after = [...this.items.values()].map((m) => `${m.id}:${m.status}`).join();
    if (before && before !== after) await this.app.reloadEntries?.();
    clearTimeout(this.timer);
    if ([...this.items.values()].some((m) => m.status === "processing")) {
      this.timer = setTimeout(() => this.refresh(), POLL_MS);
    }
  }

  render() {
    const rows = [...this.items.values()].map((m) => {
      const li = el("li", "media-item");
      li.dataset.mediaId = m.id;
      li.dataset.status = m.status;
      li.draggable = true;
      li.addEventListener("dragstart", (ev) => {
        ev.dataTransfer.setData(MEDIA_TYPE, m.id);
        ev.dataTransfer.effectAllowed = "copy";
      });
      if (m.thumbnailUrl) {
        const img = el("img", "thumb");
        img.src = localUrl(m.thumbnailUrl);
        img.alt = "";
        li.append(img);
      } else {
        li.append(el("span", "thumb ph", m.kind === "video" ? "▶" : "▦"));
      }
      const info = el("span", "media-info");
      info.append(el("span", "media-name", m.filename), el("span", `media-st ${m.status}`, m.status));
      if (m.error) info.append(el("span", "reasons", m.error.message));
      li.append(info);
      const del = el("button", "secondary small", "Delete");
      del.type = "button";
      del.setAttribute("aria-label", `Delete ${m.filename}`);
      del.addEventListener("click", () => this.remove(m.id));
      li.append(del);
      return li;
    });
    this.list.replaceChildren(...(rows.length ? rows : [el("li", "muted", "No uploads yet.")]));
  }

  async upload(file) {
    this.bar.hidden = false;
    this.bar.max = 1;
    this.bar.value = 0;
    this.status.textContent = `Uploading ${file.name}…`;
    try {
      const media = await uploadFile(file, (loaded, total) => {
        this.bar.max = total;
        this.bar.value = loaded;
        this.status.textContent = `Uploading ${file.name}: ${Math.round((100 * loaded) / total)}%`;
      });
      this.status.textContent = `Uploaded ${file.name}.`;
      this.status.dataset.lastUpload = media.id;
      await this.refresh();
      return media;
    } catch (e) {
      this.status.textContent = `Upload of ${file.name} failed: ${e.detail} (${e.code})`;
      return null;
    } finally {
      this.bar.hidden = true;
    }
  }

  async remove(id) {
    try {
      await request("DELETE", `/v1/media/${encodeURIComponent(id)}`);
      this.status.textContent = "Deleted.";
    } catch (e) {
      this.status.textContent = `Delete failed: ${e.detail} (${e.code})`;
    }
    await this.refresh();
  }

  entryUrl(entryId) {
    return `/v1/calendars/${encodeURIComponent(this.app.calendarId)}/entries/${encodeURIComponent(entryId)}`;
  }

  /** PATCH the entry's media list (with If-Match); a stale version is read again and retried once. */
  async setMedia(entryId, change) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = this.app.grid.entries.get(entryId);
      if (!entry) return null;
      try {
        const res = await request("PATCH", this.entryUrl(entryId), {
          body: { media: change(editable(entry.media)) }, headers: { "If-Match": `"${entry.version}"` },
        });
        const updated = await res.json();
        this.app.grid.upsert(updated);
        this.app.editor.rebase?.(updated);
        return updated;
      } catch (e) {
        if (e.status === 412 && attempt === 0) { await this.app.reloadEntries?.(); continue; }
        this.app.showError(e, "Attach media");
        return null;
      }
    }
    return null;
  }

  attach(entryId, mediaId) { return this.setMedia(entryId, (list) => [...list, { mediaId }]); }

  detach(entryId, index) { return this.setMedia(entryId, (list) => list.filter((_, i) => i !== index)); }

  /** A drop on an entry: a library item is attached; files are uploaded, then attached. */
  async drop(entryId, dt) {
    const id = dt.getData(MEDIA_TYPE);
    if (id) { await this.attach(entryId, id); return; }
    for (const file of [...(dt.files || [])]) {
      const media = await this.upload(file);
      if (media) await this.attach(entryId, media.id);
    }
  }
}
