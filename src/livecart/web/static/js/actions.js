// Buttons and forms that call the JSON API, then reload the page (merchant, operator, orders).
//   <button data-api="POST /api/v1/orders/1/confirm" data-body='{"a":1}'>
//   <form data-api="PATCH /api/v1/skus/3"> fields: name, data-type="int|money|json"
import { api, explain, exponentOf } from "./api.js";

// The input's data-exponent, else the exponent of the currency chosen beside it in the form
// ("skus.0.price" goes with "skus.0.currency").
function moneyExponent(input) {
  if (input.dataset.exponent) return Number.parseInt(input.dataset.exponent, 10);
  const name = input.name.replace(/[^.]*$/, "currency");
  const currency = input.form && input.form.querySelector(`[name="${CSS.escape(name)}"]`);
  return currency ? exponentOf(currency.value) : 2;
}

function valueOf(input) {
  const raw = input.value.trim();
  switch (input.dataset.type) {
    case "int": return raw === "" ? null : Number.parseInt(raw, 10);
    case "money": {
      // Typed in major units ("129.90", "1500" yen); the API takes integer minor units.
      const exponent = moneyExponent(input);
      return raw === "" ? null : Math.round(Number.parseFloat(raw) * 10 ** exponent);
    }
    case "json": return raw === "" ? null : JSON.parse(raw);
    default: return raw;
  }
}

function formBody(form) {
  const body = {};
  for (const input of form.querySelectorAll("[name]")) {
    if (input.name === "csrf_token" || input.disabled) continue;
    const value = valueOf(input);
    if (value === null || value === "") continue;
    setPath(body, input.name, value);
  }
  return body;
}

// "skus.0.price" -> body.skus[0].price
function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  keys.forEach((key, i) => {
    const last = i === keys.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(keys[i + 1]);
    if (last) node[key] = value;
    else node = node[key] ??= nextIsIndex ? [] : {};
  });
}

function report(where, message, isError) {
  const box = where.closest("[data-actions]")?.querySelector(".flash-slot") || document.querySelector(".flash-slot");
  if (!box) { if (isError) alert(message); return; }
  box.textContent = message;
  box.className = `flash-slot flash${isError ? " error" : ""}`;
  box.hidden = false;
}

async function run(trigger, spec, body) {
  const [method, path] = spec.split(" ");
  trigger.setAttribute("aria-busy", "true");
  try {
    await api(method, path, body);
    if (trigger.dataset.done) report(trigger, trigger.dataset.done, false);
    window.location.reload();
  } catch (error) {
    report(trigger, explain(error), true);
  } finally {
    trigger.removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-api]");
  if (!button || button.form?.dataset.api) return;
  event.preventDefault();
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  run(button, button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-api]");
  if (!form) return;
  event.preventDefault();
  let body;
  try { body = formBody(form); } catch { report(form, "Some field is not valid JSON.", true); return; }
  run(form, form.dataset.api, body);
});
