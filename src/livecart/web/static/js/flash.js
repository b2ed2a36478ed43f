// Flash sales in the viewer room: the banner with its countdown, remaining units and buying.
// The server's `flash_sale` frames carry the sale and the server's time (countdowns run on the
// server's clock, not the viewer's); `flash_stock` frames carry remaining units (<= 5 per second).
// A sale stopped by a sanction (`blocked`: frozen by the platform, product delisted, room or
// anchor suspended) shows why and cannot be bought until the sanction is lifted.
import { api, el, explain, money } from "./api.js";
import { newKey, pay } from "./buy.js";

const TICK_MS = 250;

export function flashSales({ box, sales, user }) {
  const state = new Map(); // sale id -> sale (as the API shows it)
  let offset = 0; // server clock - our clock, in ms

  function learn(sale) {
    offset = Date.parse(sale.server_time) - Date.now();
    const known = state.get(sale.id);
    // A stock frame may overtake the sale frame that announced it: keep the smaller remaining.
    if (known && known.status === sale.status) sale.remaining = Math.min(sale.remaining, known.remaining);
    state.set(sale.id, sale);
  }

  function left(until) {
    const ms = Date.parse(until) - (Date.now() + offset);
    const s = Math.max(0, Math.ceil(ms / 1000));
    const mm = String(Math.floor(s / 60)).padStart(2, "0");
    return { done: ms <= 0, text: `${mm}:${String(s % 60).padStart(2, "0")}` };
  }

  function current() {
    // The sale to show: a live one first, else the next scheduled, else the last sold out.
    const all = [...state.values()].filter((s) => s.status !== "ended");
    const rank = { live: 0, scheduled: 1, sold_out: 2 };
    all.sort((a, b) => rank[a.status] - rank[b.status] || b.id - a.id);
    return all[0] || null;
  }

  function message(text, isError) {
    const line = box.querySelector(".flash-message");
    if (line) { line.textContent = text; line.classList.toggle("error", Boolean(isError)); }
  }

  async function onBuy(sale, button) {
    if (!user) { window.location.href = `/login?next=${encodeURIComponent(window.location.pathname)}`; return; }
    button.disabled = true;
    const key = newKey();
    const attempt = () => api("POST", `/api/v1/flash-sales/${sale.id}/orders`, { quantity: 1 }, { idempotencyKey: key });
    try {
      let order;
      try { order = await attempt(); } catch (error) { if (error && error.status) throw error; order = await attempt(); }
      render();
      const payButton = el("button", { class: "primary small", type: "button", "data-testid": "flash-pay" }, `Pay ${money(order.total, order.currency)}`);
      payButton.addEventListener("click", async () => {
        payButton.disabled = true;
        try { await pay(order.id); message("Paid. Thank you!", false); payButton.remove(); }
        catch (error) { message(explain(error), true); payButton.disabled = false; }
      });
      message(`Got it! Order #${order.id}: pay within the reservation time or it goes to someone else.`, false);
      box.querySelector(".flash-message").append(" ", payButton);
    } catch (error) {
      message(explain(error), true);
      const code = error && error.code;
      if (["flash_sale_frozen", "product_delisted", "room_suspended", "anchor_suspended"].includes(code)) {
        refresh(sale.id); // the sale frame says why; the button stays off
        return;
      }
      button.disabled = false;
    }
  }

  function render() {
    const sale = current();
    box.hidden = !sale;
    if (!sale) { box.replaceChildren(); return; }
    const keep = box.querySelector(".flash-message");
    const countdown = el("span", { class: "flash-countdown", "data-testid": "flash-countdown" });
    const status = el("span", { class: "flash-status", "data-testid": "flash-status" });
    const button = el("button", { class: "primary", type: "button", "data-testid": "flash-buy" }, "Buy now");
    button.addEventListener("click", () => onBuy(sale, button));
    box.dataset.saleId = sale.id;
    box.dataset.status = sale.status;
    box.dataset.blocked = sale.blocked ? sale.blocked.code : "";
    box.replaceChildren(
      el("div", { class: "flash-head" }, el("strong", {}, "⚡ Flash sale"), " ", countdown),
      el("div", { class: "flash-title" }, sale.title),
      sale.banner ? el("div", { class: "flash-banner", "data-testid": "flash-banner" }, sale.banner) : null,
      sale.blocked
        ? el("div", { class: "flash-blocked error", role: "alert", "data-testid": "flash-blocked" },
          sale.blocked.code === "flash_sale_frozen" ? "Frozen by the platform: " : "Stopped by the platform: ",
          sale.blocked.reason)
        : null,
      el("div", { class: "flash-prices" },
        el("span", { class: "flash-price" }, money(sale.price, sale.currency)), " ",
        el("s", { class: "muted" }, money(sale.regular_price, sale.currency)),
        el("span", { class: "muted small" }, ` · lowest of 30 days ${money(sale.lowest_price_30d, sale.currency)}`)),
      el("div", { class: "row" }, status, el("span", { class: "spacer" }), button),
      keep || el("div", { class: "flash-message small", role: "status" }));
    tick();
  }

  function tick() {
    const sale = current();
    if (!sale) return;
    const countdown = box.querySelector(".flash-countdown");
    const status = box.querySelector(".flash-status");
    const button = box.querySelector("[data-testid=flash-buy]");
    if (!countdown || !status || !button) return;
    if (sale.blocked && sale.status !== "ended") {
      countdown.textContent = sale.blocked.code === "flash_sale_frozen" ? "frozen" : "stopped";
      status.textContent = `${Math.max(0, sale.remaining)} of ${sale.quantity} left · purchases stopped`;
      button.disabled = true;
    } else if (sale.status === "scheduled") {
      const until = sale.starts_at ? left(sale.starts_at) : null;
      countdown.textContent = until ? `starts in ${until.text}` : "starting soon";
      status.textContent = `${sale.quantity} at this price`;
      button.disabled = true;
      if (until && until.done && !sale.asked) { sale.asked = true; refresh(sale.id); }
    } else if (sale.status === "live") {
      const until = sale.ends_at ? left(sale.ends_at) : null;
      countdown.textContent = until ? `ends in ${until.text}` : "on now";
      status.textContent = `${Math.max(0, sale.remaining)} of ${sale.quantity} left`;
      if (sale.remaining <= 0) { status.textContent = "Sold out"; button.disabled = true; }
      else if (button.disabled && !button.dataset.busy) button.disabled = false;
      if (until && until.done && !sale.asked) { sale.asked = true; refresh(sale.id); }
    } else {
      countdown.textContent = "";
      status.textContent = "Sold out";
      button.disabled = true;
    }
  }

  async function refresh(id) {
    // Reading the sale makes the server keep its time (open it, close it) and announce it.
    try { learn(await api("GET", `/api/v1/flash-sales/${id}`)); render(); } catch { /* next frame */ }
  }

  sales.forEach(learn);
  render();
  setInterval(tick, TICK_MS);

  return {
    flash_sale(frame) { learn(frame.sale); render(); },
    flash_stock(frame) {
      const sale = state.get(frame.sale_id);
      if (!sale) { refresh(frame.sale_id); return; }
      sale.remaining = frame.remaining;
      if (sale.remaining <= 0 && sale.status === "live") sale.status = "sold_out";
      else if (sale.remaining > 0 && sale.status === "sold_out") sale.status = "live";
      render();
    },
  };
}
