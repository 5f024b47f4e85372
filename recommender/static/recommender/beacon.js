/*
 * recommender beacon: attributes clicks on recommendation slots and records product views.
 * Include with {% recommender_beacon %}. No framework, no dependencies.
 *  - click on [data-rec-product] inside [data-rec-slot] -> event {type: "click", product_id, slot, strategy}
 *  - an element with [data-rec-view="<product id>"] on the page -> event {type: "view", product_id}
 * Requests go to the script's data-endpoint (the API's events/ URL) with the CSRF cookie.
 *
 * Events are batched: what a page records in one go (every view on it) leaves as one request,
 * {"events": [...]}, up to data-max-batch events (the server's EVENTS_MAX_BATCH). A click sends
 * at once, with anything still queued, since it usually navigates away; so does leaving the page.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  if (!endpoint) { return; }
  var maxBatch = parseInt(script.getAttribute("data-max-batch"), 10) || 50;
  var queue = [];
  var timer = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function post(events) {
    try {
      fetch(endpoint, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true, // the click usually navigates away: let the request finish
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(events.length === 1 ? events[0] : { events: events })
      }).catch(function () { /* recommendations must never break the page */ });
    } catch (e) { /* old browsers: ignore */ }
  }

  function flush() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    while (queue.length) { post(queue.splice(0, maxBatch)); }
  }

  // now: send at once (a click); else with whatever else this task records (a page's views).
  function record(event, now) {
    queue.push(event);
    if (now) { flush(); } else if (timer === null) { timer = setTimeout(flush, 0); }
  }

  document.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest("[data-rec-product]");
    if (!item) { return; }
    var slot = item.closest("[data-rec-slot]");
    record({
      type: "click",
      product_id: item.getAttribute("data-rec-product"),
      slot: slot ? slot.getAttribute("data-rec-slot") : "",
      strategy: slot ? slot.getAttribute("data-rec-strategy") : ""
    }, true);
  }, true);
  window.addEventListener("pagehide", flush);

  function recordViews() {
    var views = document.querySelectorAll("[data-rec-view]");
    for (var i = 0; i < views.length; i++) {
      record({ type: "view", product_id: views[i].getAttribute("data-rec-view") }, false);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", recordViews);
  } else {
    recordViews();
  }
})();
