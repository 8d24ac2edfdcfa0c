// aether-gen catalog: search in the page and pan/zoom of the flow diagrams.
// Plain JavaScript, no dependencies; it only ever writes model text with textContent.
(function () {
  "use strict";
  var root = document.documentElement.getAttribute("data-root") || "";

  // ---- search --------------------------------------------------------------------------
  function score(entry, words) {
    var name = entry.name.toLowerCase();
    var rest = (entry.description + " " + entry.terms + " " + entry.context).toLowerCase();
    var total = 0;
    for (var i = 0; i < words.length; i++) {
      var word = words[i];
      if (name === word) total += 100;
      else if (name.indexOf(word) === 0) total += 50;
      else if (name.indexOf(word) >= 0) total += 20;
      else if (rest.indexOf(word) >= 0) total += 5;
      else return 0;
    }
    return total;
  }

  function setUpSearch() {
    var input = document.getElementById("search-input");
    var list = document.getElementById("search-results");
    var index = window.AETHER_CATALOG_INDEX || [];
    if (!input || !list) return;

    function show(query) {
      while (list.firstChild) list.removeChild(list.firstChild);
      var words = query.toLowerCase().split(/\s+/).filter(Boolean);
      if (!words.length) { list.hidden = true; return; }
      var found = [];
      for (var i = 0; i < index.length; i++) {
        var s = score(index[i], words);
        if (s > 0) found.push([s, i]);
      }
      found.sort(function (a, b) { return b[0] - a[0] || a[1] - b[1]; });
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "empty";
        none.textContent = "Nothing matches \u201c" + query + "\u201d";
        list.appendChild(none);
      }
      found.slice(0, 20).forEach(function (hit) {
        var entry = index[hit[1]];
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = root + entry.href;
        var name = document.createElement("strong");
        name.textContent = entry.name;
        var kind = document.createElement("span");
        kind.className = "result-kind";
        kind.textContent = entry.kind + (entry.context ? " \u00b7 " + entry.context : "");
        link.appendChild(name);
        link.appendChild(kind);
        if (entry.description) {
          var text = document.createElement("span");
          text.className = "result-text";
          text.textContent = entry.description;
          link.appendChild(text);
        }
        item.appendChild(link);
        list.appendChild(item);
      });
      list.hidden = false;
    }

    input.addEventListener("input", function () { show(input.value); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = list.querySelector("a");
        if (first) window.location.href = first.href;
      } else if (event.key === "Escape") {
        input.value = "";
        show("");
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== input) {
        event.preventDefault();
        input.focus();
      }
    });
  }

  // ---- diagrams: pan by dragging, zoom with the wheel or the buttons --------------------
  function parseBox(text) {
    return text.split(/[\s,]+/).map(Number);
  }

  function setUpDiagram(figure) {
    var svg = figure.querySelector("svg.flow");
    var viewport = figure.querySelector(".diagram-viewport");
    if (!svg || !viewport) return;
    var home = parseBox(svg.getAttribute("data-home"));
    var full = parseBox(svg.getAttribute("data-full"));
    var box = home.slice();

    function apply() { svg.setAttribute("viewBox", box.join(" ")); }

    // As tall as the first view needs at this width, within what a laptop screen shows.
    function fit() {
      var wanted = viewport.clientWidth * home[3] / home[2] + 16;
      viewport.style.height = Math.max(160, Math.min(wanted, window.innerHeight * 0.7)) + "px";
    }
    fit();
    window.addEventListener("resize", fit);

    function zoom(factor, cx, cy) {
      // (cx, cy): the point that stays put, as fractions of the viewport.
      var width = box[2] * factor, height = box[3] * factor;
      var limit = Math.max(full[2], full[3]) * 4;
      if (width > limit || width < 10) return;
      box = [box[0] + (box[2] - width) * cx, box[1] + (box[3] - height) * cy, width, height];
      apply();
    }

    figure.querySelectorAll("button[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-zoom");
        if (action === "in") zoom(0.8, 0.5, 0.5);
        else if (action === "out") zoom(1.25, 0.5, 0.5);
        else { box = (action === "all" ? full : home).slice(); apply(); }
      });
    });

    viewport.addEventListener("wheel", function (event) {
      event.preventDefault();
      var rect = viewport.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 0.85 : 1 / 0.85, (event.clientX - rect.left) / rect.width,
           (event.clientY - rect.top) / rect.height);
    }, { passive: false });

    var drag = null;
    var moved = false;
    viewport.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, box: box.slice() };
      moved = false;
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) {
        moved = true;
        viewport.setPointerCapture(event.pointerId);
        viewport.classList.add("dragging");
      }
      var rect = viewport.getBoundingClientRect();
      // The SVG keeps its aspect ratio: one screen pixel is the larger of the two scales.
      var scale = Math.max(drag.box[2] / rect.width, drag.box[3] / rect.height);
      box = [drag.box[0] - dx * scale, drag.box[1] - dy * scale, drag.box[2], drag.box[3]];
      apply();
    });
    function stop() { drag = null; viewport.classList.remove("dragging"); }
    viewport.addEventListener("pointerup", stop);
    viewport.addEventListener("pointercancel", stop);
    // A drag that ends on a sticky note pans; it does not follow the note's link.
    viewport.addEventListener("click", function (event) {
      if (moved) { event.preventDefault(); moved = false; }
    }, true);
  }

  function start() {
    setUpSearch();
    document.querySelectorAll("figure.diagram").forEach(setUpDiagram);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
