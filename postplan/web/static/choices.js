// Posting choices in the entry editor: TikTok's required choices (as TikTok's Content Posting
// guidelines ask: the creator's nickname, privacy chosen from the offered levels with no
// default, interactions off by default and greyed out when the creator disabled them,
// commercial content disclosure, AI label, music usage confirmation) and the Instagram extras.

import { getJSON } from "./api.js";

const PRIVACY_LABELS = {
  PUBLIC_TO_EVERYONE: "Everyone", MUTUAL_FOLLOW_FRIENDS: "Friends",
  FOLLOWER_OF_CREATOR: "Followers", SELF_ONLY: "Only me",
};
const INTERACTIONS = [["Comment", "comment"], ["Duet", "duet"], ["Stitch", "stitch"]];

const byId = (id) => document.getElementById(id);
const lines = (text) => text.split(/[\n,]+/).map((s) => s.trim().replace(/^@/, "")).filter(Boolean);

/** "user 0.5 0.5" lines → [{username, x, y}] (x/y optional). */
function parseTags(text) {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).map((line) => {
    const [username, x, y] = line.replace(/^@/, "").split(/\s+/);
    const tag = { username };
    if (x !== undefined && y !== undefined) { tag.x = Number(x); tag.y = Number(y); }
    return tag;
  });
}
const tagsText = (tags) => (tags || []).map((t) => [t.username, t.x, t.y].filter((v) => v !== undefined && v !== null).join(" ")).join("\n");

export class Choices {
  constructor() {
    this.tiktok = byId("e-tiktok");
    this.instagram = byId("e-instagram");
    this.creator = null;
    this.channel = null;
    this.format = null;
    byId("e-tt-commercial").addEventListener("change", () => this.sync());
    byId("e-tt-branded").addEventListener("change", () => this.sync());
    byId("e-tt-own").addEventListener("change", () => this.sync());
  }

  /** Show the block of the entry's channel and fill it from `channelOptions`. */
  async fill(entry, readOnly) {
    this.channel = entry.channel;
    this.format = entry.format;
    const opts = (entry.channelOptions || {})[entry.channel] || {};
    this.tiktok.hidden = entry.channel !== "tiktok";
    this.instagram.hidden = entry.channel !== "instagram";
    for (const el of [...this.tiktok.querySelectorAll("input,select,textarea"), ...this.instagram.querySelectorAll("input,select,textarea")]) {
      el.disabled = readOnly;
    }
    this.initial = null;
    if (entry.channel === "tiktok") await this.fillTikTok(opts);
    else this.fillInstagram(opts);
    this.initial = this.norm(this.value());
  }

  norm(o) { return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]])); }

  async fillTikTok(opts) {
    const who = byId("e-tt-creator");
    who.textContent = "Loading your TikTok account…";
    this.creator = null;
    try {
      this.creator = await getJSON("GET", "/v1/channels/tiktok/creator-info");
      who.textContent = `Posting to TikTok as ${this.creator.nickname}`;
    } catch (e) {
      who.textContent = `Connect TikTok to choose who can see this post (${e.code || "unavailable"}).`;
    }
    const offered = this.creator ? this.creator.privacyLevelOptions : Object.keys(PRIVACY_LABELS);
    const privacy = byId("e-tt-privacy");
    // No default: the person must choose (TikTok's guidelines).
    privacy.replaceChildren(new Option("Choose who can see this post…", ""),
      ...offered.map((level) => new Option(PRIVACY_LABELS[level] || level, level)));
    privacy.value = offered.includes(opts.privacyLevel) ? opts.privacyLevel : "";
    for (const [label, key] of INTERACTIONS) {
      const box = byId(`e-tt-${key}`);
      const off = this.creator ? this.creator[`${key}Disabled`] : false;
      const photoOnly = this.format === "photo" && key !== "comment";
      box.checked = !off && opts[`disable${label}`] === false;
      box.disabled = box.disabled || off || photoOnly;
      box.closest("label").title = off ? `Turned off for your account in TikTok` : "";
    }
    byId("e-tt-own").checked = !!opts.brandOrganicToggle;
    byId("e-tt-branded").checked = !!opts.brandContentToggle;
    byId("e-tt-commercial").checked = !!(opts.brandOrganicToggle || opts.brandContentToggle);
    byId("e-tt-aigc").checked = !!opts.isAigc;
    byId("e-tt-aigc").disabled = byId("e-tt-aigc").disabled || this.format === "photo";
    byId("e-tt-music").checked = !!opts.musicUsageConfirmed;
    byId("e-tt-mode").value = opts.mode === "draft" ? "draft" : "direct";
    this.sync();
  }

  /** The library's ready images, offered as a reel's cover (the chosen one kept). */
  setCovers(items) {
    const pick = byId("e-ig-cover");
    const keep = pick.value;
    const images = items.filter((m) => m.kind === "image" && m.status === "ready");
    pick.replaceChildren(new Option("A frame of the video", ""),
      ...images.map((m) => new Option(m.filename, m.id)));
    this.selectCover(keep);
  }

  selectCover(id) {
    const pick = byId("e-ig-cover");
    if (id && ![...pick.options].some((o) => o.value === id)) {
      pick.append(new Option("The chosen file", id));  // not (or no longer) in the library list
    }
    pick.value = id || "";
  }

  fillInstagram(opts) {
    this.selectCover(opts.coverMediaId || "");
    byId("e-ig-cover").disabled = byId("e-ig-cover").disabled || this.format !== "reel";
    byId("e-ig-comment").value = opts.firstComment || "";
    byId("e-ig-alt").value = opts.altText || "";
    byId("e-ig-thumb").value = opts.thumbOffsetMs ?? "";
    byId("e-ig-collab").value = (opts.collaborators || []).join(", ");
    byId("e-ig-tags").value = tagsText(opts.userTags);
    byId("e-ig-location").value = opts.locationId || "";
    byId("e-ig-feed").checked = opts.shareToFeed !== false;
  }

  /** Commercial content: its two kinds show only once disclosed; branded content cannot be
   *  private, so "Only me" is greyed out while it is chosen. */
  sync() {
    const disclosed = byId("e-tt-commercial").checked;
    byId("e-tt-commercial-kinds").hidden = !disclosed;
    if (!disclosed) { byId("e-tt-own").checked = false; byId("e-tt-branded").checked = false; }
    const branded = byId("e-tt-branded").checked;
    const self = [...byId("e-tt-privacy").options].find((o) => o.value === "SELF_ONLY");
    if (self) {
      self.disabled = branded;
      if (branded && byId("e-tt-privacy").value === "SELF_ONLY") byId("e-tt-privacy").value = "";
    }
    byId("e-tt-policy").textContent = branded
      ? "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation."
      : "By posting, you agree to TikTok's Music Usage Confirmation.";
    byId("e-tt-commercial-hint").textContent = disclosed && !branded && !byId("e-tt-own").checked
      ? "Choose whether this promotes your own brand, a third party, or both." : "";
  }

  /** This channel's block as the form holds it (only what the person set). */
  value() {
    if (this.channel === "tiktok") {
      const out = {};
      const privacy = byId("e-tt-privacy").value;
      if (privacy) out.privacyLevel = privacy;
      for (const [label, key] of INTERACTIONS) {
        if (this.format === "photo" && key !== "comment") continue;
        out[`disable${label}`] = !byId(`e-tt-${key}`).checked;
      }
      if (byId("e-tt-own").checked) out.brandOrganicToggle = true;
      if (byId("e-tt-branded").checked) out.brandContentToggle = true;
      if (byId("e-tt-aigc").checked && this.format !== "photo") out.isAigc = true;
      if (byId("e-tt-music").checked) out.musicUsageConfirmed = true;
      if (byId("e-tt-mode").value === "draft") out.mode = "draft";
      return out;
    }
    const out = {};
    const text = (id) => byId(id).value.trim();
    if (text("e-ig-comment")) out.firstComment = text("e-ig-comment");
    if (text("e-ig-alt")) out.altText = text("e-ig-alt");
    if (text("e-ig-thumb") !== "") out.thumbOffsetMs = Number(text("e-ig-thumb"));
    if (this.format === "reel" && byId("e-ig-cover").value) out.coverMediaId = byId("e-ig-cover").value;
    if (lines(text("e-ig-collab")).length) out.collaborators = lines(text("e-ig-collab"));
    if (text("e-ig-tags")) out.userTags = parseTags(text("e-ig-tags"));
    if (text("e-ig-location")) out.locationId = text("e-ig-location");
    if (this.format === "reel" && !byId("e-ig-feed").checked) out.shareToFeed = false;
    return out;
  }

  /** `{channelOptions: {...}}` when the person changed a choice since the form was filled. */
  patch(entry) {
    if (this.initial === null || this.channel !== entry.channel) return {};
    const now = this.value();
    if (this.norm(now) === this.initial) return {};
    return { channelOptions: { [entry.channel]: now } };
  }
}
