// HTTP helpers: auth headers, problem+json errors, "endpoint not offered here" detection.

const TOKEN_KEY = "postplan.token";
const USER_KEY = "postplan.userId";

/** Auth settings: the bearer token lives in sessionStorage only (gone when the tab closes). */
export const auth = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ""; },
  set token(v) { if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY); },
  get userId() { return sessionStorage.getItem(USER_KEY) || ""; },
  set userId(v) { if (v) sessionStorage.setItem(USER_KEY, v); else sessionStorage.removeItem(USER_KEY); },
  headers() {
    const h = {};
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (this.userId) h["X-User-Id"] = this.userId;
    return h;
  },
};

/** An error response, carrying the problem+json `detail` and `code`. */
export class ApiError extends Error {
  constructor({ status, code, detail, title, body }) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail || title || `HTTP ${status}`;
    this.title = title || "";
    this.body = body || {};
  }

  /** True when this server has no such route (yet): 405, 501, or a 404 for an unknown path. */
  get unavailable() {
    if (this.status === 405 || this.status === 501) return true;
    // An unknown route renders Starlette's stock detail; a missing object carries its own.
    return this.status === 404 && this.detail === "Not Found";
  }
}

async function problemFrom(res) {
  let body = {};
  try { body = await res.json(); } catch { /* not JSON: fall back to the status line */ }
  return new ApiError({
    status: res.status,
    code: body.code || `http_${res.status}`,
    detail: body.detail || body.title || res.statusText || "request failed",
    title: body.title,
    body,
  });
}

/** fetch() with auth, JSON body, and errors thrown as ApiError. Returns the Response. */
export async function request(method, path, { body, headers = {}, signal } = {}) {
  const h = { ...auth.headers(), ...headers };
  const init = { method, headers: h, signal, cache: "no-store" };
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError({ status: 0, code: "network_error", detail: `could not reach the server (${err && err.message})` });
  }
  if (!res.ok) throw await problemFrom(res);
  return res;
}

/** request() and parse the JSON answer. */
export async function getJSON(method, path, opts) {
  const res = await request(method, path, opts);
  if (res.status === 204) return null;
  return res.json();
}

/** A random id for Idempotency-Key (crypto.randomUUID needs a secure context). */
export function uuid() {
  if (globalThis.crypto && crypto.randomUUID) {
    try { return crypto.randomUUID(); } catch { /* insecure context */ }
  }
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
