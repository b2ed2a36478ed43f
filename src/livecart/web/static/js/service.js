// Merchant service pages: waiting timers on the inbox, and the knowledge-card editor (its
// textareas become the JSON the API takes: lines, "name: value" lines, "Q:" / "A:" pairs).
import { api, explain } from "./api.js";

function waited(since) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  if (seconds < 60) return `waiting ${seconds}s`;
  if (seconds < 3600) return `waiting ${Math.floor(seconds / 60)}m`;
  return `waiting ${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

function tick() {
  document.querySelectorAll(".timer[data-since]").forEach((span) => { span.textContent = waited(span.dataset.since); });
}
tick();
setInterval(tick, 1000);

function lines(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean);
}

function specifications(text) {
  const found = {};
  for (const line of lines(text)) {
    const at = line.search(/[:：]/);
    if (at > 0) found[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return found;
}

function faqs(text) {
  const pairs = [];
  let question = null;
  for (const line of lines(text)) {
    if (/^Q[:：]/i.test(line)) question = line.slice(2).trim();
    else if (/^A[:：]/i.test(line) && question) {
      pairs.push({ question, answer: line.slice(2).trim() });
      question = null;
    }
  }
  return pairs;
}

const form = document.getElementById("knowledge-form");
if (form) {
  const slot = document.querySelector(".flash-slot");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      selling_points: lines(form.elements.selling_points.value),
      specifications: specifications(form.elements.specifications.value),
      faqs: faqs(form.elements.faqs.value),
    };
    try {
      await api("PUT", form.dataset.endpoint, body);
      slot.textContent = "Saved: the console shows the new card.";
      slot.className = "flash-slot flash";
    } catch (error) {
      slot.textContent = explain(error);
      slot.className = "flash-slot flash error";
    }
    slot.hidden = false;
  });
}
