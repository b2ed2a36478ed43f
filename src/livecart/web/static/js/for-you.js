// The home page's "For you" row: rooms and products from GET /api/v1/recommendations,
// personalised only for signed-in consumers who allow it (the API decides).
(function () {
  "use strict";

  function item(href, title, reason) {
    var link = document.createElement(href ? "a" : "div");
    link.className = "for-you-item";
    if (href) link.href = href;
    var name = document.createElement("strong");
    name.textContent = title;
    var why = document.createElement("span");
    why.className = "muted small";
    why.textContent = reason;
    link.append(name, document.createElement("br"), why);
    return link;
  }

  async function load() {
    var section = document.querySelector("[data-testid=for-you]");
    if (!section) return;
    var response = await fetch("/api/v1/recommendations?limit=6", { credentials: "same-origin" });
    if (!response.ok) return;
    var body = await response.json();
    var list = section.querySelector("[data-for-you-list]");
    body.rooms.slice(0, 3).forEach(function (pick) {
      list.append(item("/live/" + pick.session.id, pick.session.title, pick.reason));
    });
    body.products.slice(0, 6).forEach(function (pick) {
      list.append(item(null, pick.product.title, pick.reason));
    });
    section.querySelector("[data-for-you-kind]").textContent = body.personalised
      ? "· picked from what you watch and buy"
      : "· popular now";
    section.dataset.personalised = body.personalised ? "1" : "0";
    section.hidden = list.children.length === 0;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
