// Buying from the room without leaving it: orders, cart and the sandbox payment step.
import { api } from "./api.js";

export const ENDPOINTS = {
  orders: "/api/v1/orders",
  pay: (orderId) => `/api/v1/orders/${orderId}/pay`,
  cart: "/api/v1/cart",
  cartItems: "/api/v1/cart/items",
  cartItem: (skuId) => `/api/v1/cart/items/${skuId}`,
  checkout: "/api/v1/cart/checkout",
  coupons: "/api/v1/me/coupons?usable=true",
};

/** A random UUID; crypto.randomUUID only exists in secure contexts. */
export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// One purchase attempt = one Idempotency-Key; a network failure retries with the same key,
// so the server can never create the order twice.
async function withKey(method, path, body) {
  const key = newKey();
  try {
    return await api(method, path, body, { idempotencyKey: key });
  } catch (error) {
    if (error && error.status) throw error;
    return api(method, path, body, { idempotencyKey: key });
  }
}

/** Order one SKU straight from the pinned card; answers the pending order. */
export function buyNow({ skuId, quantity, sessionId }) {
  return withKey("POST", ENDPOINTS.orders, {
    items: [{ sku_id: skuId, quantity }],
    session_id: sessionId,
  });
}

/** Pay an order with the sandbox provider. */
export function pay(orderId) {
  return withKey("POST", ENDPOINTS.pay(orderId), undefined);
}

export function addToCart({ skuId, quantity, sessionId }) {
  return api("POST", ENDPOINTS.cartItems, { sku_id: skuId, quantity, session_id: sessionId });
}

export function loadCart() {
  return api("GET", ENDPOINTS.cart);
}

export function removeFromCart(skuId) {
  return api("DELETE", ENDPOINTS.cartItem(skuId));
}

/** Turn the cart into orders (one per brand), redeeming a coupon when one is chosen;
 * answers the list of pending orders. */
export function checkout(couponId) {
  return withKey("POST", ENDPOINTS.checkout, couponId ? { coupon_id: couponId } : {});
}

/** My coupons a checkout can take now (not used, not expired). */
export function loadCoupons() {
  return api("GET", ENDPOINTS.coupons);
}
