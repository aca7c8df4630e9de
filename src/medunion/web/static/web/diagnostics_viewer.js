/* The viewer: scroll through a series' slices (slider, mouse wheel, arrow keys, vertical swipe or
   drag), window/level presets for CT, zoom (buttons, pinch, double tap) and pan (drag when
   zoomed). Frames are PNGs rendered by the server; the next and previous few are fetched ahead,
   and the image shown changes only once the new one has arrived, so scrolling does not flicker. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var root = document.querySelector("[data-viewer]");
  if (!root) return;
  var slices = JSON.parse(document.getElementById("viewer-slices").textContent || "[]");
  var texts = JSON.parse(document.getElementById("viewer-texts").textContent || "{}");
  if (!slices.length) return;
  var stage = root.querySelector("[data-stage]");
  var img = root.querySelector("[data-image]");
  var label = root.querySelector("[data-slice-label]");
  var message = root.querySelector("[data-viewer-message]");
  var slider = root.querySelector("[data-slider]");
  var base = root.getAttribute("data-frames");
  var here = root.getAttribute("data-here");
  var preset = root.getAttribute("data-preset") || "default";
  var index = parseInt(root.getAttribute("data-index"), 10) || 0;
  var AHEAD = 4;
  var cache = {};  // url -> Image, loaded or loading
  var order = [];
  var wanted = null;
  var scale = 1, tx = 0, ty = 0;
  var direction = 1;

  function urlOf(i) {
    var s = slices[i];
    return base + s[0] + ".png?preset=" + encodeURIComponent(preset) + "&size=full&frame=" + s[1];
  }

  function load(url) {
    var im = cache[url];
    if (im) return im;
    im = new Image();
    im.decoding = "async";
    im.src = url;
    cache[url] = im;
    order.push(url);
    while (order.length > 120) delete cache[order.shift()];
    return im;
  }

  function preload() {
    for (var d = 1; d <= AHEAD; d += 1) {
      var ahead = index + d * direction, behind = index - d * direction;
      if (ahead >= 0 && ahead < slices.length) load(urlOf(ahead));
      if (d <= 2 && behind >= 0 && behind < slices.length) load(urlOf(behind));
    }
  }

  function remember() {
    if (!here || !window.history || !history.replaceState) return;
    var url = here.replace(/preset=[^&]*/, "preset=" + encodeURIComponent(preset)) + "&slice=" + (index + 1);
    history.replaceState(null, "", url);
  }

  function show(i) {
    i = Math.max(0, Math.min(slices.length - 1, i));
    if (i !== index) direction = i > index ? 1 : -1;
    index = i;
    label.textContent = (index + 1) + " / " + slices.length;
    if (slider && String(slider.value) !== String(index + 1)) slider.value = index + 1;
    var url = urlOf(index);
    wanted = url;
    var im = load(url);
    function swap() {
      if (wanted !== url) return;
      img.src = url;
      img.alt = label.textContent;
      message.textContent = "";
    }
    if (im.complete && im.naturalWidth) {
      swap();
    } else {
      message.textContent = texts.loading || "";
      im.addEventListener("load", swap, {once: true});
      im.addEventListener("error", function () {
        if (wanted === url) message.textContent = texts.unrenderable || "";
        delete cache[url];
      }, {once: true});
    }
    preload();
    remember();
  }

  function step(n) { show(index + n); }

  function apply() {
    if (scale <= 1.001) { scale = 1; tx = 0; ty = 0; }
    img.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + scale + ")";
    stage.style.cursor = scale > 1 ? "move" : "ns-resize";
  }

  function zoom(factor, cx, cy) {
    var rect = stage.getBoundingClientRect();
    var before = scale;
    scale = Math.max(1, Math.min(8, scale * factor));
    // Keep the point under the fingers (or the centre) where it is.
    var ox = (cx === undefined ? rect.width / 2 : cx - rect.left) - rect.width / 2;
    var oy = (cy === undefined ? rect.height / 2 : cy - rect.top) - rect.height / 2;
    tx = ox - (ox - tx) * (scale / before);
    ty = oy - (oy - ty) * (scale / before);
    apply();
  }

  // Slider, wheel and keys.
  if (slider) slider.addEventListener("input", function () { show(parseInt(slider.value, 10) - 1); });
  var wheelRest = 0;
  stage.addEventListener("wheel", function (e) {
    e.preventDefault();
    if (e.ctrlKey) { zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY); return; }
    var delta = e.deltaY * (e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1);
    if (Math.abs(delta) >= 50) {  // a wheel's notch: one slice
      wheelRest = 0;
      step(delta > 0 ? 1 : -1);
      return;
    }
    wheelRest += delta;  // a touchpad's small steady deltas
    var steps = Math.trunc(wheelRest / 30);
    if (steps !== 0) { wheelRest -= steps * 30; step(steps); }
  }, {passive: false});
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT") && t !== slider) return;
    if (t === slider) return;  // the slider moves itself
    var moves = {ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10};
    if (e.key in moves) { e.preventDefault(); step(moves[e.key]); }
    else if (e.key === "Home") { e.preventDefault(); show(0); }
    else if (e.key === "End") { e.preventDefault(); show(slices.length - 1); }
    else if (e.key === "+" || e.key === "=") zoom(1.25);
    else if (e.key === "-") zoom(1 / 1.25);
    else if (e.key === "0") { scale = 1; apply(); }
  });

  // Pointers: one moves through the slices (or pans when zoomed in); two pinch to zoom.
  var pointers = {};
  var dragY = 0, pinch = null, lastTap = 0;
  function count() { return Object.keys(pointers).length; }
  function pair() {
    var ps = Object.keys(pointers).map(function (k) { return pointers[k]; });
    var dx = ps[0].x - ps[1].x, dy = ps[0].y - ps[1].y;
    return {d: Math.sqrt(dx * dx + dy * dy) || 1, x: (ps[0].x + ps[1].x) / 2, y: (ps[0].y + ps[1].y) / 2};
  }
  stage.addEventListener("pointerdown", function (e) {
    stage.focus({preventScroll: true});
    if (stage.setPointerCapture) stage.setPointerCapture(e.pointerId);
    pointers[e.pointerId] = {x: e.clientX, y: e.clientY};
    dragY = 0;
    if (count() === 2) pinch = pair();
    var now = Date.now();
    if (count() === 1 && now - lastTap < 300) {  // a double tap or click: fit, or zoom in there
      if (scale > 1) { scale = 1; apply(); } else zoom(2, e.clientX, e.clientY);
      lastTap = 0;
    } else lastTap = now;
  });
  stage.addEventListener("pointermove", function (e) {
    var p = pointers[e.pointerId];
    if (!p) return;
    var dx = e.clientX - p.x, dy = e.clientY - p.y;
    p.x = e.clientX; p.y = e.clientY;
    if (count() >= 2 && pinch) {
      var now = pair();
      zoom(now.d / pinch.d, now.x, now.y);
      tx += now.x - pinch.x; ty += now.y - pinch.y;
      apply();
      pinch = now;
      return;
    }
    if (scale > 1) { tx += dx; ty += dy; apply(); return; }
    var per = Math.max(4, Math.min(24, stage.clientHeight / Math.min(slices.length, 60)));
    dragY += dy;
    var n = Math.trunc(dragY / per);
    if (n !== 0) { dragY -= n * per; step(-n); }
  });
  function up(e) {
    delete pointers[e.pointerId];
    if (count() < 2) pinch = null;
  }
  stage.addEventListener("pointerup", up);
  stage.addEventListener("pointercancel", up);

  // Buttons.
  root.querySelectorAll("[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var how = b.getAttribute("data-zoom");
      if (how === "in") zoom(1.25);
      else if (how === "out") zoom(1 / 1.25);
      else { scale = 1; apply(); }
    });
  });
  root.querySelectorAll("[data-preset]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      e.preventDefault();
      preset = b.getAttribute("data-preset");
      root.querySelectorAll("[data-preset]").forEach(function (o) {
        o.setAttribute("aria-pressed", o === b ? "true" : "false");
      });
      show(index);
    });
  });

  apply();
  show(index);
})();
