// Overturn alert in the anchor console (supervision): a socket of its own listens for the
// staff-only `alert` frames of the session and shows the latest one until dismissed.
import { connectSession } from "./socket.js";

const box = document.getElementById("overturn-alert");
if (box) {
  const message = box.querySelector("[data-alert-message]");
  box.querySelector("[data-alert-dismiss]").addEventListener("click", () => { box.hidden = true; });
  connectSession(box.dataset.sessionId, {
    alert(frame) {
      if (frame.kind !== "overturn") return;
      message.textContent = frame.message || "Negative chat is spiking.";
      box.dataset.alertId = String(frame.alert_id || "");
      box.hidden = false;
    },
  }, { onState(state) { box.dataset.socket = state; } });
}
