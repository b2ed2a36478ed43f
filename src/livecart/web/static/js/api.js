// Shared helpers: the JSON API with the page session's CSRF token, money, safe DOM building.

const ZERO_EXPONENT = new Set(["JPY", "KRW", "VND"]);

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** Call /api/v1 with the session cookie; unsafe methods carry X-CSRF-Token. */
export async function api(method, path, body, { idempotencyKey } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Digits after the decimal point of a currency's major unit (core.money.CURRENCY_EXPONENTS). */
export function exponentOf(currency) {
  return ZERO_EXPONENT.has(currency) ? 0 : 2;
}

/** Minor units to text, like core.money.format_money: 12990 CNY -> "CNY 129.90". */
export function money(amount, currency) {
  if (amount === null || amount === undefined || !currency) return "—";
  const exponent = exponentOf(currency);
  const major = Math.trunc(amount / 10 ** exponent);
  const grouped = major.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  if (exponent === 0) return `${currency} ${grouped}`;
  const minor = String(amount % 10 ** exponent).padStart(exponent, "0");
  return `${currency} ${grouped}.${minor}`;
}

/** Build an element; strings become text nodes, so user text is never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Describe an error for people. */
export function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) return "Please log in first.";
    return error.message;
  }
  return "Network problem, please try again.";
}

/** A short label for a SKU: its attributes, else its code. */
export function skuLabel(sku) {
  const parts = Object.values(sku.attributes || {}).filter((v) => ["string", "number"].includes(typeof v) && v !== "");
  return parts.length ? parts.join(" / ") : sku.code;
}
