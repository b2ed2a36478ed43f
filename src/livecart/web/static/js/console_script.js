// The console's anchor script panel: the hosts write the session's talking points and save
// them with PUT /api/v1/sessions/{id}/script. The server scans each save: blocking hits come
// back as 422 `compliance_blocked` (nothing saved, shown in red), a false stock claim as 422
// `scarcity_claim_false`, warn-only hits with the saved script (amber). Each hit shows its
// line with the matched words marked; clicking it selects the words in the text.
import { api, ApiError, el, explain } from "./api.js";

const panel = document.getElementById("script-panel");
const text = document.getElementById("script-text");
const save = document.getElementById("script-save");
const status = document.getElementById("script-status");
const list = document.getElementById("script-hits");
const meta = document.getElementById("script-meta");
const count = document.getElementById("script-count");
const url = `/api/v1/sessions/${panel.dataset.sessionId}/script`;
const initial = JSON.parse(document.getElementById("script-data").textContent);
let version = initial.version;

function describe(script) {
  if (!script.version) return "not written yet";
  const who = script.updated_by ? script.updated_by.display_name : "—";
  const when = script.updated_at ? new Date(script.updated_at).toLocaleString() : "";
  return `version ${script.version} · saved by ${who}${when ? ` · ${when}` : ""}`;
}

function counted() {
  count.textContent = `${text.value.length.toLocaleString()} / ${Number(text.maxLength).toLocaleString()}`;
}

function show(kind, message) {
  status.hidden = !message;
  status.className = `script-status ${kind}`;
  status.dataset.state = kind;
  status.textContent = message || "";
}

// The server counts characters (code points); JavaScript strings count UTF-16 units, which
// differ after an emoji. Arrays of code points keep the two in step.
function units(source, points) {
  return Array.from(source).slice(0, points).join("").length;
}

/** The hit's line with the matched words marked (text nodes only: the script is never HTML). */
function lineOf(source, hit) {
  const line = Array.from(source.split("\n")[hit.line - 1] ?? "");
  const from = Math.max(0, Math.min(line.length, (hit.column || 1) - 1));
  const to = Math.min(line.length, from + (hit.end - hit.start));
  return el("div", { class: "script-line" },
    line.slice(0, from).join(""), el("mark", {}, line.slice(from, to).join("")), line.slice(to).join(""));
}

function select(hit) {
  if (typeof hit.start !== "number") return;
  text.focus();
  text.setSelectionRange(units(text.value, hit.start), units(text.value, hit.end ?? hit.start));
  // Scroll the selected line into view: its share of the lines times the scroll height.
  const before = hit.line - 1;
  const lines = text.value.split("\n").length;
  text.scrollTop = Math.max(0, (before / Math.max(lines, 1)) * text.scrollHeight - text.clientHeight / 3);
}

function renderHits(source, hits) {
  list.replaceChildren();
  list.classList.remove("stale");
  for (const hit of hits) {
    const action = hit.action === "block" ? "block" : "warn";
    list.append(el("li", {
      class: `script-hit ${action}`,
      dataset: { testid: "script-hit", rule: hit.rule_id, action, line: hit.line },
      title: "Select these words in the script",
      onclick: () => select(hit),
    },
    el("div", {},
      el("span", { class: "where" }, `line ${hit.line}${hit.column ? `:${hit.column}` : ""}`),
      el("span", { class: "rule" }, hit.rule_id),
      el("span", { class: "action" }, action === "block" ? "blocks" : "warning"),
      " “", hit.text, "”"),
    lineOf(source, hit),
    el("div", { class: "reason" }, hit.reason || "")));
  }
}

function showSaved(script) {
  version = script.version;
  meta.textContent = describe(script);
  const warnings = script.compliance_warnings || [];
  renderHits(script.text, warnings);
  return warnings;
}

async function saveScript() {
  const source = text.value;
  save.disabled = true;
  show("", "");
  try {
    const script = await api("PUT", url, { text: source, base_version: version });
    const warnings = showSaved(script);
    if (warnings.length) {
      show("warned", `Saved (version ${script.version}) with ${warnings.length} warning${warnings.length > 1 ? "s" : ""}: accepted, but check the words below.`);
    } else {
      show("saved", `Saved (version ${script.version}).`);
    }
  } catch (error) {
    if (error instanceof ApiError && ["compliance_blocked", "scarcity_claim_false"].includes(error.code)) {
      const hits = (error.details.hits || []).filter((h) => typeof h.line === "number");
      const blocking = hits.filter((h) => h.action === "block").length;
      show("blocked", `Not saved: ${error.message}. Fix the ${blocking === 1 ? "hit" : `${blocking} hits`} marked below and save again.`);
      renderHits(source, hits);
    } else if (error instanceof ApiError && error.code === "script_changed") {
      show("blocked", `Not saved: ${error.message}.`);
    } else {
      show("blocked", `Not saved: ${explain(error)}`);
    }
  } finally {
    save.disabled = false;
  }
}

text.value = initial.text;
meta.textContent = describe(initial);
renderHits(initial.text, initial.compliance_warnings || []);
counted();
text.addEventListener("input", () => {
  counted();
  // The offsets were for the text as checked; dim them until the next save.
  if (list.children.length) list.classList.add("stale");
});
if (save) {
  save.addEventListener("click", saveScript);
  text.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      saveScript();
    }
  });
}
panel.dataset.ready = "true";
