// A Server-Sent Events parser for fetch() streams (EventSource cannot POST or send headers).
// Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; "event", "data", "id",
// "retry" fields; a blank line dispatches; lines starting with ":" are comments (pings).

export class SSEParser {
  /**
   * @param {(ev: {event: string, data: string, id: string}) => void} onEvent
   * @param {(text: string) => void} [onComment]
   */
  constructor(onEvent, onComment) {
    this.onEvent = onEvent;
    this.onComment = onComment || (() => {});
    this.buffer = "";
    this.lastEventId = "";
    this.retry = null;
    this.resetFrame();
  }

  resetFrame() {
    this.eventType = "";
    this.data = [];
  }

  /** Feed decoded text; complete lines are processed, a partial line waits for more. */
  push(text) {
    let all = this.buffer + text;
    // A trailing CR may be the first half of CRLF split across chunks: keep it for later.
    let cut = all.length;
    if (all.endsWith("\r")) cut -= 1;
    const lines = all.slice(0, cut).split(/\r\n|\n|\r/);
    this.buffer = lines.pop() + all.slice(cut);
    for (const line of lines) this.line(line);
  }

  /** The stream ended: a CR held back as a possible CRLF half was a line end after all. */
  end() {
    if (!this.buffer.endsWith("\r")) return;
    const lines = this.buffer.split(/\r\n|\n|\r/);
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") { this.dispatch(); return; }
    if (line.startsWith(":")) { this.onComment(line.slice(1).trim()); return; }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") { if (!value.includes("\0")) this.lastEventId = value; }
    else if (field === "retry") { if (/^\d+$/.test(value)) this.retry = Number(value); }
  }

  dispatch() {
    if (this.data.length === 0) { this.resetFrame(); return; }
    const ev = { event: this.eventType || "message", data: this.data.join("\n"), id: this.lastEventId };
    this.resetFrame();
    this.onEvent(ev);
  }
}

/**
 * Read a fetch Response body as SSE until it ends. Resolves true when the stream ended
 * cleanly, false when the connection dropped mid-way; rethrows AbortError.
 */
export async function readEventStream(response, parser, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
    return true;
  } catch (err) {
    if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
    return false;
  } finally {
    try { reader.releaseLock(); } catch { /* already released */ }
  }
}
