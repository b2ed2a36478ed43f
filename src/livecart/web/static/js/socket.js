// One live session's WebSocket with reconnect (exponential backoff with jitter) and keep-alive.
// Frames are described in docs/api.md ("WebSocket"). We ask for batches (`batch=1`): every
// server message is then a JSON array of frames, handled in order.

const PING_EVERY_MS = 20000;
const MAX_BACKOFF_MS = 15000;

/**
 * Connect to /ws/sessions/{id}; `handlers[frame.type](frame)` is called for each frame and
 * `onState("connecting" | "open" | "closed" | "refused", closeCode)` when the connection changes
 * ("refused": closed for good by the server, no retry).
 */
export function connectSession(sessionId, handlers, { onState = () => {}, token = "" } = {}) {
  let socket = null;
  let attempt = 0;
  let pinger = null;
  let stopped = false;
  let retryTimer = null;

  function url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const query = token ? `?batch=1&token=${encodeURIComponent(token)}` : "?batch=1";
    return `${scheme}//${window.location.host}/ws/sessions/${encodeURIComponent(sessionId)}${query}`;
  }

  function open() {
    if (stopped) return;
    onState("connecting");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      pinger = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      for (const frame of Array.isArray(message) ? message : [message]) {
        if (!frame || typeof frame !== "object") continue;
        if (frame.type === "hello") { attempt = 0; onState("open"); }
        const handler = handlers[frame.type];
        if (handler) handler(frame);
      }
    });
    socket.addEventListener("close", (event) => {
      clearInterval(pinger);
      // 4401/4403/4404: the server refused us for good (signed out, banned, no such session);
      // say so instead of "reconnecting", and do not hammer it.
      const refused = event.code >= 4400 && event.code < 4500;
      onState(refused ? "refused" : "closed", event.code);
      if (stopped || refused) return;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      retryTimer = setTimeout(open, delay);
    });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function close() {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(pinger);
    if (socket) socket.close();
  }

  open();
  return { send, close };
}
