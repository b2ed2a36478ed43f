// The anchor console: pin and unpin, chat with moderation, slow mode, a live viewers chart.
// A host's own message with words a compliance rule warns about is shown to the room; only the
// host is told (a `compliance_warning` frame): the words and the rule's reason, in amber, and
// the line is marked.
import { api, el, explain } from "./api.js";
import { connectSession } from "./socket.js";

const data = JSON.parse(document.getElementById("console-data").textContent);
const $ = (id) => document.getElementById(id);
const chatList = $("chat");
const flash = document.querySelector(".flash-slot");

/** Show a message above the console; tone "" (done), "error" or "warn". */
function say(message, tone = "") {
  flash.textContent = message;
  flash.className = `flash-slot flash${tone ? ` ${tone}` : ""}`;
  flash.hidden = false;
}

async function call(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (error) {
    say(explain(error), "error");
    throw error;
  }
}

// ---------------------------------------------------------------- pinning

function markPinned(productId) {
  document.querySelectorAll("#showcase-rows .product-row").forEach((row) => {
    row.classList.toggle("is-pinned", Number(row.dataset.productId) === productId);
  });
  $("unpin").hidden = productId === null;
}

document.querySelectorAll("button.pin").forEach((button) => {
  button.addEventListener("click", async () => {
    const productId = Number(button.dataset.productId);
    await call("POST", data.endpoints.pin, { product_id: productId });
    markPinned(productId);
    say("Pinned: viewers see it now.");
  });
});
$("unpin").addEventListener("click", async () => {
  await call("DELETE", data.endpoints.pin);
  markPinned(null);
});

// ---------------------------------------------------------------- moderation

function moderate(body) {
  return call("POST", data.endpoints.moderation, body).then(() => say(`Done: ${body.action.replace("_", " ")}.`));
}

$("slow-mode").addEventListener("change", (event) => {
  moderate({ action: "slow_mode", seconds: Number(event.target.value) });
});

const warned = new Map(); // message id -> the warned words, for lines not shown yet

function markWarned(line) {
  if (!line || !warned.has(Number(line.dataset.id))) return;
  line.classList.add("warned");
  line.title = `Compliance warning: ${warned.get(Number(line.dataset.id))}`;
}

function addChat(message) {
  const userId = message.user ? message.user.id : null;
  const own = userId === data.you;
  const tools = [];
  tools.push(el("button", {
    class: "ghost small", type: "button", title: "Delete message",
    onclick: () => call("DELETE", data.endpoints.message.replace("{message_id}", String(message.id))),
  }, "Delete"));
  if (userId && !own) {
    tools.push(el("button", { class: "ghost small", type: "button", onclick: () => moderate({ action: "mute", user_id: userId, minutes: 10 }) }, "Mute 10m"));
    tools.push(el("button", { class: "danger small", type: "button", onclick: () => moderate({ action: "ban", user_id: userId }) }, "Ban"));
  }
  chatList.append(el("li", { dataset: { id: message.id } },
    el("span", { class: "text" }, el("strong", {}, message.user ? message.user.name : "—"), " ", message.text),
    ...tools));
  markWarned(chatList.lastElementChild);
  while (chatList.children.length > 300) chatList.firstElementChild.remove();
  chatList.scrollTop = chatList.scrollHeight;
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (text && live.send({ type: "chat", text })) input.value = "";
});

// ---------------------------------------------------------------- viewers chart

const points = [];
let chart = null;
function plot(count) {
  points.push([new Date(), count]);
  if (points.length > 600) points.shift();
  const viewers = document.querySelector('[data-stat="viewers"]');
  if (viewers) viewers.textContent = String(count);
  if (!window.echarts) return;
  if (!chart) {
    chart = window.echarts.init($("chart"));
    window.addEventListener("resize", () => chart.resize());
  }
  chart.setOption({
    animation: false,
    grid: { left: 40, right: 12, top: 24, bottom: 28 },
    title: { text: "Viewers", textStyle: { fontSize: 12 } },
    xAxis: { type: "time" },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "line", showSymbol: false, areaStyle: { opacity: 0.15 }, color: "#ff3d6e", data: points }],
  });
}

const live = connectSession(data.session_id, {
  hello(frame) {
    chatList.replaceChildren();
    (frame.recent || []).forEach(addChat);
    markPinned(frame.pinned ? frame.pinned.id : null);
    plot(frame.viewers);
  },
  chat: addChat,
  chat_deleted(frame) {
    const item = chatList.querySelector(`li[data-id="${CSS.escape(String(frame.id))}"]`);
    if (item) item.remove();
  },
  viewers(frame) { plot(frame.count); },
  pin(frame) { markPinned(frame.product.id); },
  unpin() { markPinned(null); },
  status(frame) { if (frame.status === "ended") say("This live has ended."); },
  error(frame) { say((frame.error && frame.error.message) || "Something went wrong.", "error"); },
  compliance_warning(frame) {
    const hits = frame.hits || [];
    const words = [...new Set(hits.map((hit) => `“${hit.text}”`))].join(", ");
    const reasons = [...new Set(hits.map((hit) => hit.reason))].join(" ");
    say(`Shown, with a warning about ${words}: ${reasons}`, "warn");
    // The warning comes at once, the room's copy of the line with the next batch.
    warned.set(frame.message_id, words);
    markWarned(chatList.querySelector(`li[data-id="${CSS.escape(String(frame.message_id))}"]`));
  },
});
window.addEventListener("load", () => { if (points.length) plot(points[points.length - 1][1]); });
