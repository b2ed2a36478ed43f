// The viewer room: live chat, likes, viewers, pinned card with buying, showcase, purchase ticker.
// User text is always put into the page with text nodes (el()), never parsed as HTML.
import { el, explain, money, skuLabel } from "./api.js";
import { addToCart, buyNow, checkout, loadCart, loadCoupons, pay, removeFromCart } from "./buy.js";
import { flashSales } from "./flash.js";
import { connectSession } from "./socket.js";

const MAX_CHAT_ITEMS = 200;
const TICKER_MS = 6000;

const data = JSON.parse(document.getElementById("room-data").textContent);
const $ = (id) => document.getElementById(id);
const chatList = $("chat");
const chatForm = $("chat-form");
const chatInput = $("chat-input");
const state = { you: data.user, pinned: data.pinned, showcase: data.showcase, status: data.status, canChat: false, lastError: null };

// ---------------------------------------------------------------- chat

function atBottom() {
  return chatList.scrollHeight - chatList.scrollTop - chatList.clientHeight < 40;
}

function addChat(message) {
  if (chatList.querySelector(`li[data-id="${CSS.escape(String(message.id))}"]`)) return;
  const follow = atBottom();
  const item = el("li", { dataset: { id: message.id, user: message.user ? message.user.id : "" } },
    el("span", { class: "name" }, message.user ? message.user.name : "—"),
    el("span", { class: "text" }, message.text));
  chatList.append(item);
  while (chatList.children.length > MAX_CHAT_ITEMS) chatList.firstElementChild.remove();
  if (follow) chatList.scrollTop = chatList.scrollHeight;
}

// Chat refusals say that the message was not sent, and how long to wait when we know.
const NOT_SENT = new Set(["muted", "slow_mode", "rate_limited", "message_too_long", "message_empty", "banned_word"]);
function errorText(error) {
  if (!error) return "Something went wrong.";
  const wait = error.details && error.details.retry_after;
  const after = wait ? ` Try again in ${Math.max(1, Math.ceil(wait))} s.` : "";
  return NOT_SENT.has(error.code) ? `Not sent: ${error.message}.${after}` : `${error.message}${after}`;
}

function systemLine(text) {
  const follow = atBottom();
  chatList.append(el("li", { class: "system" }, text));
  if (follow) chatList.scrollTop = chatList.scrollHeight;
}

function setChatAllowed(allowed, reason) {
  state.canChat = allowed;
  chatInput.disabled = !allowed;
  chatForm.querySelector("button").disabled = !allowed;
  chatInput.placeholder = allowed ? "Say something nice…" : reason;
}

chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = chatInput.value.trim();
  if (!text || !state.canChat) return;
  if (live.send({ type: "chat", text })) chatInput.value = "";
  else systemLine("Not connected; your message was not sent.");
});

// ---------------------------------------------------------------- likes, viewers, status

let likeTotal = data.likes || 0;
function showLikes(total) {
  likeTotal = Math.max(likeTotal, total);
  $("likes").textContent = String(likeTotal);
}
$("like").addEventListener("click", () => {
  if (live.send({ type: "like" })) {
    showLikes(likeTotal + 1);
    $("like").classList.remove("bump");
    void $("like").offsetWidth;
    $("like").classList.add("bump");
  }
});

function showViewers(count) { $("viewers").textContent = `${count} watching`; }

function showStatus(status) {
  state.status = status;
  const badge = $("status-badge");
  badge.textContent = status === "live" ? "LIVE" : status.toUpperCase();
  badge.classList.toggle("live", status === "live");
}

// ---------------------------------------------------------------- purchase ticker

function ticker(frame) {
  const line = el("div", { class: "item" }, `${frame.buyer} bought ${frame.quantity} × ${frame.product_title}`);
  $("ticker").append(line);
  setTimeout(() => line.remove(), TICKER_MS);
  while ($("ticker").children.length > 3) $("ticker").firstElementChild.remove();
}

// ---------------------------------------------------------------- pinned card and showcase

function renderShowcase() {
  const list = $("showcase");
  list.replaceChildren();
  if (!state.showcase.length) {
    list.append(el("li", { class: "muted" }, "The anchor has not added products yet."));
    return;
  }
  for (const card of state.showcase) {
    const pinned = state.pinned && state.pinned.id === card.id;
    list.append(el("li", { class: pinned ? "is-pinned" : "", dataset: { productId: card.id } },
      el("div", { class: "title" }, card.title),
      el("div", { class: "muted small" }, money(card.price_min, card.currency))));
  }
}

function renderPinned() {
  const box = $("pinned");
  box.replaceChildren();
  const card = state.pinned;
  if (!card) {
    box.append(el("div", { class: "label" }, "Pinned product"),
      el("p", { class: "muted" }, "Nothing pinned right now — watch this space."));
    return;
  }
  const skus = (card.skus || []).filter((s) => s.stock > 0);
  const image = card.image_url
    ? el("img", { src: card.image_url, alt: "" })
    : el("div", { class: "thumb", "aria-hidden": "true" });
  const price = el("div", { class: "price", "data-testid": "pinned-price" }, money(card.price_min, card.currency));
  const select = el("select", { id: "sku-select", "aria-label": "Variant" },
    skus.map((s) => el("option", { value: s.id }, `${skuLabel(s)} · ${money(s.price, s.currency)} · ${s.stock} left`)));
  const quantity = el("input", { id: "qty", type: "number", min: 1, max: 99, value: 1, "aria-label": "Quantity" });
  const syncPrice = () => {
    const sku = skus.find((s) => String(s.id) === select.value);
    if (sku) price.textContent = money(sku.price, sku.currency);
  };
  select.addEventListener("change", syncPrice);
  syncPrice();
  let actions;
  if (!state.you) {
    const next = encodeURIComponent(window.location.pathname);
    actions = el("div", { class: "actions" }, el("a", { class: "button primary", href: `/login?next=${next}` }, "Log in to buy"));
  } else if (!skus.length) {
    actions = el("div", { class: "actions" }, el("button", { disabled: true }, "Sold out"));
  } else {
    const chosen = () => ({ skuId: Number(select.value), quantity: Math.max(1, Number.parseInt(quantity.value, 10) || 1), sessionId: data.session_id });
    actions = el("div", { class: "actions" },
      el("button", { class: "primary", id: "buy-now", type: "button", onclick: () => onBuyNow(chosen()) }, "Buy now"),
      el("button", { class: "ghost", id: "add-to-cart", type: "button", onclick: () => onAddToCart(chosen()) }, "Add to cart"));
  }
  box.append(el("div", { class: "label" }, "Pinned now"),
    el("div", { class: "pinned-card", "data-product-id": card.id }, image,
      el("div", { class: "info" },
        el("h3", { "data-testid": "pinned-title" }, card.title),
        el("div", { class: "muted small" }, card.brand ? card.brand.name : ""),
        price,
        skus.length ? el("div", { class: "form-row" }, select, quantity) : null,
        actions)));
}

// ---------------------------------------------------------------- drawer: cart and payment

const drawer = $("drawer");
function openDrawer(title) {
  $("drawer-title").textContent = title;
  drawer.classList.add("open");
  drawer.setAttribute("aria-hidden", "false");
}
function closeDrawer() { drawer.classList.remove("open"); drawer.setAttribute("aria-hidden", "true"); }
$("drawer-close").addEventListener("click", closeDrawer);
function drawerMessage(text, isError = false) {
  const box = $("drawer-message");
  box.textContent = text;
  box.className = `message${isError ? " error" : ""}`;
  box.hidden = !text;
}

function paymentStep(orders) {
  openDrawer("Payment");
  drawerMessage("");
  const body = $("drawer-body");
  body.replaceChildren();
  for (const order of orders) {
    const lines = (order.items || []).map((item) => el("li", {}, el("span", {}, `${item.quantity} × ${item.title}`), el("span", {}, money(item.unit_price * item.quantity, item.currency))));
    const payButton = el("button", { class: "primary", type: "button", "data-testid": "pay" }, "Pay (sandbox)");
    payButton.addEventListener("click", async () => {
      payButton.disabled = true;
      try {
        const paid = await pay(order.id);
        payButton.replaceWith(el("div", { class: "message", "data-testid": "paid" }, `Paid — order #${paid.id} is on its way. `, el("a", { href: "/orders" }, "My orders")));
      } catch (error) {
        payButton.disabled = false;
        drawerMessage(explain(error), true);
      }
    });
    body.append(el("section", { class: "stack", dataset: { orderId: order.id } },
      el("h3", {}, `Order #${order.id}`),
      el("ul", {}, lines),
      order.discount ? el("div", { class: "row", "data-testid": "discount" }, el("span", {}, "Coupon"), el("span", { class: "spacer" }), el("span", {}, `− ${money(order.discount, order.currency)}`)) : null,
      el("div", { class: "row" }, el("span", {}, "Total"), el("span", { class: "spacer" }), el("span", { class: "total" }, money(order.total, order.currency))),
      el("p", { class: "muted small" }, "Sandbox payments: no real money moves."),
      payButton));
  }
}

async function onBuyNow(choice) {
  openDrawer("Buy now");
  drawerMessage("Placing your order…");
  try {
    const order = await buyNow(choice);
    paymentStep([order]);
  } catch (error) {
    drawerMessage(explain(error), true);
  }
}

async function onAddToCart(choice) {
  try {
    await addToCart(choice);
    await showCart();
    drawerMessage("Added to your cart.");
  } catch (error) {
    openDrawer("Cart");
    drawerMessage(explain(error), true);
  }
}

function cartLines(cart) {
  return cart.items || [];
}

async function refreshCartCount() {
  if (!state.you) return;
  try {
    const cart = await loadCart();
    $("cart-count").textContent = String(cartLines(cart).reduce((n, i) => n + i.quantity, 0));
  } catch { /* the count is a nicety */ }
}

async function showCart() {
  openDrawer("Cart");
  drawerMessage("");
  const body = $("drawer-body");
  body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  let cart;
  try {
    cart = await loadCart();
  } catch (error) {
    body.replaceChildren();
    drawerMessage(explain(error), true);
    return;
  }
  const items = cartLines(cart);
  $("cart-count").textContent = String(items.reduce((n, i) => n + i.quantity, 0));
  body.replaceChildren();
  if (!items.length) {
    body.append(el("p", { class: "muted" }, "Your cart is empty."));
    return;
  }
  const list = el("ul", {});
  for (const item of items) {
    const remove = el("button", { class: "ghost small", type: "button" }, "Remove");
    remove.addEventListener("click", async () => { await removeFromCart(item.sku_id); showCart(); });
    list.append(el("li", {}, el("span", {}, `${item.quantity} × ${item.title}`), el("span", {}, money(item.unit_price * item.quantity, item.currency)), remove));
  }
  // My usable coupons: one may be applied; the server prices it (rules in docs/marketing.md).
  let coupons = [];
  try { coupons = await loadCoupons(); } catch { /* without the list, checkout still works */ }
  const couponChoice = el("select", { "data-testid": "coupon", "aria-label": "Coupon" },
    el("option", { value: "" }, coupons.length ? "No coupon" : "No coupon available"),
    coupons.map((c) => el("option", { value: String(c.id) }, couponLabel(c))));
  const go = el("button", { class: "primary", type: "button", "data-testid": "checkout" }, "Checkout");
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      const result = await checkout(couponChoice.value ? Number(couponChoice.value) : null);
      $("cart-count").textContent = "0";
      paymentStep(result.orders);
    } catch (error) {
      go.disabled = false;
      drawerMessage(explain(error), true);
    }
  });
  body.append(list, el("div", { class: "row" }, el("span", {}, "Subtotal"), el("span", { class: "spacer" }),
    el("span", { class: "total" }, money(cart.total, cart.currency))),
    el("label", { class: "row" }, el("span", {}, "Coupon"), el("span", { class: "spacer" }), couponChoice), go);
}

function couponLabel(c) {
  const off = c.kind === "percent" ? `${c.percent}% off` : `${money(c.amount, c.currency)} off`;
  const from = c.min_spend ? ` from ${money(c.min_spend, c.currency)}` : "";
  return `${c.code}: ${off}${from}, until ${new Date(c.expires_at).toLocaleDateString()}`;
}
$("cart-button").addEventListener("click", () => (state.you ? showCart() : (window.location.href = `/login?next=${encodeURIComponent(window.location.pathname)}`)));

// ---------------------------------------------------------------- the socket

const flash = flashSales({ box: $("flash"), sales: data.flash_sales || [], user: data.user });

const live = connectSession(data.session_id, {
  ...flash,
  hello(frame) {
    state.you = frame.you || state.you;
    showStatus(frame.status);
    showViewers(frame.viewers);
    showLikes(frame.likes);
    chatList.replaceChildren();
    (frame.recent || []).forEach(addChat);
    state.pinned = frame.pinned;
    renderPinned();
    renderShowcase();
    if (!frame.you) setChatAllowed(false, "Log in to chat");
    else setChatAllowed(Boolean(frame.you.can_chat), "You cannot chat in this room right now");
  },
  chat: addChat,
  chat_deleted(frame) {
    const item = chatList.querySelector(`li[data-id="${CSS.escape(String(frame.id))}"]`);
    if (item) item.remove();
  },
  like(frame) { showLikes(frame.total); },
  viewers(frame) { showViewers(frame.count); },
  pin(frame) {
    state.pinned = frame.product;
    if (!state.showcase.some((c) => c.id === frame.product.id)) state.showcase.push(frame.product);
    renderPinned();
    renderShowcase();
  },
  unpin() { state.pinned = null; renderPinned(); renderShowcase(); },
  purchase: ticker,
  status(frame) {
    showStatus(frame.status);
    if (frame.status === "ended") systemLine("This live has ended. Thanks for watching!");
  },
  moderation(frame) {
    const mine = state.you && frame.user_id === state.you.id;
    if (frame.action === "slow_mode") {
      systemLine(frame.seconds ? `Slow mode: one message every ${frame.seconds} s.` : "Slow mode is off.");
    } else if (mine && (frame.action === "mute" || frame.action === "ban")) {
      setChatAllowed(false, frame.action === "ban" ? "You were removed from this chat" : "You are muted for now");
      systemLine(frame.action === "ban" ? "You were banned from this chat." : `You were muted${frame.seconds ? ` for ${frame.seconds} s` : ""}.`);
    } else if (mine && frame.action === "unmute") {
      setChatAllowed(true, "");
      systemLine("You can chat again.");
    } else if (frame.action === "ban" && frame.user_id) {
      chatList.querySelectorAll(`li[data-user="${CSS.escape(String(frame.user_id))}"]`).forEach((li) => li.remove());
    }
  },
  error(frame) {
    state.lastError = frame.error ? frame.error.code : null;
    systemLine(errorText(frame.error));
  },
  pong() {},
}, {
  token: data.ws_token || "",
  onState(connection) {
    const badge = $("conn");
    const labels = { open: "", connecting: "connecting…", closed: "reconnecting…", refused: "disconnected" };
    badge.textContent = labels[connection] ?? "";
    badge.classList.toggle("down", connection === "closed" || connection === "refused");
    badge.hidden = connection === "open";
    if (connection === "refused") {
      // The server closed this room for us for good (the ban's moderation frame may never arrive).
      setChatAllowed(false, state.lastError === "banned" ? "You were removed from this chat" : "You cannot chat in this room");
    }
  },
});

setChatAllowed(false, state.you ? "Connecting…" : "Log in to chat");
renderPinned();
renderShowcase();
refreshCartCount();
window.livecartRoom = { state };
