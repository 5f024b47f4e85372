/*
 * recommender search suggestions: an ARIA 1.2 combobox for inputs with [data-recommender-suggest].
 * Rendered by {% search_box %}. No framework, no dependencies, no CDN.
 *  - typing fetches GET <data-recommender-suggest>?q=...&limit=<data-limit>, debounced (150 ms);
 *    a newer keystroke aborts the older request, so answers never arrive out of order
 *  - ArrowDown / ArrowUp move through the options (aria-activedescendant), Home / End too;
 *    Enter picks the active option and submits the form; Escape closes the list (a second
 *    Escape clears the input); Tab and clicks elsewhere close it
 *  - options are <li role="option"> built with textContent (suggestion texts are never HTML)
 *  - IME composition (Chinese, Japanese, Korean input): no request while composing; one when
 *    the composition ends (compositionend), and keys that confirm a candidate (Enter, arrows)
 *    stay with the IME instead of moving through or choosing options
 */
(function () {
  "use strict";
  var DEBOUNCE_MS = 150;
  var MIN_CHARS = 1;

  function setup(input) {
    if (input.getAttribute("data-recommender-ready")) { return; }
    input.setAttribute("data-recommender-ready", "1");
    var endpoint = input.getAttribute("data-recommender-suggest");
    var limit = input.getAttribute("data-limit") || "8";
    var listbox = document.getElementById(input.getAttribute("aria-controls"));
    var form = input.form;
    var status = form ? form.querySelector(".recommender-search__status") : null;
    var timer = null;
    var controller = null;
    var active = -1;
    var options = [];
    var composing = false;
    if (!endpoint || !listbox) { return; }

    function announce(text) { if (status) { status.textContent = text; } }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      if (!options.length) { return; }
      if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
      active = (index + options.length) % options.length;
      var option = options[active];
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      if (option.scrollIntoView) { option.scrollIntoView({ block: "nearest" }); }
    }

    function choose(index) {
      var option = options[index];
      if (!option) { return; }
      input.value = option.getAttribute("data-value");
      close();
      if (form) {
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    }

    function render(suggestions) {
      listbox.textContent = "";
      options = [];
      active = -1;
      suggestions.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = listbox.id + "-option-" + i;
        li.className = "recommender-search__option recommender-search__option--" + item.kind;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-value", item.text);
        li.textContent = item.text;
        li.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep focus in the input
        li.addEventListener("click", function () { choose(i); });
        listbox.appendChild(li);
        options.push(li);
      });
      if (options.length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
        announce(options.length + (options.length === 1 ? " suggestion" : " suggestions"));
      } else {
        close();
        announce("");
      }
    }

    function fetchSuggestions() {
      var text = input.value.trim();
      if (text.length < MIN_CHARS) { render([]); return; }
      if (controller) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      var url = endpoint + (endpoint.indexOf("?") < 0 ? "?" : "&") +
        "q=" + encodeURIComponent(text) + "&limit=" + encodeURIComponent(limit);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" },
                   signal: controller ? controller.signal : undefined })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) {
          if (input.value.trim() === text) { render(data.suggestions || []); }
        })
        .catch(function () { /* aborted or offline: suggestions are optional */ });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DEBOUNCE_MS);
    }

    input.addEventListener("compositionstart", function () {
      composing = true;
      clearTimeout(timer);
    });

    input.addEventListener("compositionend", function () {
      composing = false;
      schedule(); // Safari fires "input" after this, Chrome before: the debounce makes it one request
    });

    input.addEventListener("input", function (event) {
      if (composing || event.isComposing) { clearTimeout(timer); return; }
      schedule();
    });

    input.addEventListener("keydown", function (event) {
      // keyCode 229: the key went to the IME (older Safari reports no isComposing).
      if (composing || event.isComposing || event.keyCode === 229) { return; }
      var open = !listbox.hidden && options.length > 0;
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (open) { highlight(active + 1); } else if (options.length) { listbox.hidden = false; input.setAttribute("aria-expanded", "true"); highlight(0); } else { fetchSuggestions(); }
          break;
        case "ArrowUp":
          if (open) { event.preventDefault(); highlight(active - 1); }
          break;
        case "Home":
          if (open && active >= 0) { event.preventDefault(); highlight(0); }
          break;
        case "End":
          if (open && active >= 0) { event.preventDefault(); highlight(options.length - 1); }
          break;
        case "Enter":
          if (open && active >= 0) { event.preventDefault(); choose(active); }
          break;
        case "Escape":
          if (open) { event.preventDefault(); close(); } else if (input.value) { event.preventDefault(); input.value = ""; }
          break;
        case "Tab":
          close();
          break;
        default:
          break;
      }
    });

    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  function init() {
    var inputs = document.querySelectorAll("input[data-recommender-suggest]");
    for (var i = 0; i < inputs.length; i++) { setup(inputs[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
