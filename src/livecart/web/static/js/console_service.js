// The console's Q&A panel: questions viewers ask in chat (the `question` staff frames), each
// with the suggested answer and its source, a first-response timer, and answer buttons
// (in chat as you, or privately to the asker). Also reloads the knowledge cards on pin.
import { api, el, explain } from "./api.js";
import { connectSession } from "./socket.js";

const panel = document.getElementById("qa-panel");
const list = document.getElementById("qa-list");
const empty = document.getElementById("qa-empty");
const count = document.getElementById("qa-count");
const sessionId = panel.dataset.sessionId;
const items = new Map();

const SOURCES = { card_faq: "knowledge card · FAQ", card_spec: "knowledge card · specification", past_answer: "past answer" };

function waited(since) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
}

function refreshCount() {
  const open = [...items.values()].filter((q) => q.status === "open").length;
  count.textContent = `${open} open`;
  empty.hidden = items.size > 0;
}

function render(question) {
  const suggestion = question.suggestion;
  const input = el("textarea", { rows: 2, maxlength: 1000, "aria-label": "Answer", class: "qa-answer" });
  input.value = suggestion ? suggestion.answer : "";
  const note = el("div", { class: "qa-note small" });
  async function answer(mode) {
    const text = input.value.trim();
    if (!text) return;
    try {
      update(await api("POST", `/api/v1/questions/${question.id}/answer`, { text, mode }));
    } catch (error) {
      note.textContent = explain(error);
      note.classList.add("error");
    }
  }
  const timer = el("span", { class: "qa-timer small", dataset: { since: question.asked_at } }, waited(question.asked_at));
  const body = [
    el("div", { class: "row" },
      el("strong", {}, question.asker || "—"),
      el("span", { class: "muted small" }, `${question.language}${question.product_title ? ` · ${question.product_title}` : ""}`),
      el("span", { class: "spacer" }),
      question.status === "open" ? timer : el("span", { class: "small" }, question.status === "answered" ? `answered in ${Math.round(question.first_response_seconds)} s` : "dismissed")),
    el("div", { class: "qa-text" }, question.text),
  ];
  if (question.status === "open") {
    body.push(suggestion
      ? el("div", { class: "qa-suggestion small", dataset: { source: suggestion.source } },
        el("span", { class: "badge" }, SOURCES[suggestion.source] || suggestion.source),
        " ", suggestion.matched ? `“${suggestion.matched}”` : "")
      : el("div", { class: "muted small" }, "No suggestion: write the answer."));
    body.push(input);
    body.push(el("div", { class: "row" },
      el("button", { class: "small primary", type: "button", onclick: () => answer("chat") }, "Answer in chat"),
      el("button", { class: "small", type: "button", onclick: () => answer("private") }, "Answer privately"),
      el("button", { class: "small ghost", type: "button", onclick: () => api("POST", `/api/v1/questions/${question.id}/dismiss`).then(update).catch((e) => { note.textContent = explain(e); }) }, "Dismiss")));
    body.push(note);
  } else if (question.answer) {
    body.push(el("div", { class: "qa-given small" }, `↳ ${question.answer}`));
  }
  return el("li", { class: `qa-item ${question.status}`, dataset: { questionId: question.id, testid: `question-${question.id}` } }, ...body);
}

function update(question) {
  items.set(question.id, question);
  const node = render(question);
  const old = list.querySelector(`li[data-question-id="${CSS.escape(String(question.id))}"]`);
  if (old) old.replaceWith(node);
  else list.prepend(node);
  refreshCount();
}

setInterval(() => {
  list.querySelectorAll(".qa-timer").forEach((span) => { span.textContent = waited(span.dataset.since); });
}, 1000);

function load() {
  api("GET", `/api/v1/sessions/${sessionId}/questions`)
    .then((questions) => questions.forEach(update))
    .catch(() => {});
}

function refreshCards() {
  document.body.dispatchEvent(new CustomEvent("knowledge-refresh"));
}

// Questions are pushed, not replayed: on every (re)connection the queue is read again, and
// data-socket says when the panel listens.
connectSession(sessionId, {
  hello: load,
  question: update,
  question_answered: update,
  pin: refreshCards,
  unpin: refreshCards,
}, { onState: (state) => { panel.dataset.socket = state; } });
