/*
 * recommender beacon: attributes clicks on recommendation slots and records product views.
 * Include with {% recommender_beacon %}. No framework, no dependencies.
 *  - click on [data-rec-product] inside [data-rec-slot] -> event {type: "click", product_id, slot, strategy}
 *  - an element with [data-rec-view="<product id>"] on the page -> event {type: "view", product_id}
 * Requests go to the script's data-endpoint (the API's events/ URL) with the CSRF cookie.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  if (!endpoint) { return; }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function send(payload) {
    try {
      fetch(endpoint, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true, // the click usually navigates away: let the request finish
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload)
      }).catch(function () { /* recommendations must never break the page */ });
    } catch (e) { /* old browsers: ignore */ }
  }

  document.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest("[data-rec-product]");
    if (!item) { return; }
    var slot = item.closest("[data-rec-slot]");
    send({
      type: "click",
      product_id: item.getAttribute("data-rec-product"),
      slot: slot ? slot.getAttribute("data-rec-slot") : "",
      strategy: slot ? slot.getAttribute("data-rec-strategy") : ""
    });
  }, true);

  function recordViews() {
    var views = document.querySelectorAll("[data-rec-view]");
    for (var i = 0; i < views.length; i++) {
      send({ type: "view", product_id: views[i].getAttribute("data-rec-view") });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", recordViews);
  } else {
    recordViews();
  }
})();
