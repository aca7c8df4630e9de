/* Uploading an examination's images: one file per request, a few at a time, with progress
   (files and bytes), per-file errors and retries with backoff after a dropped connection. Before
   sending, it asks what the examination holds already and skips those files (by name and size),
   so choosing the same folder again resumes where it stopped; the server keeps each DICOM
   instance once (SOP Instance UID), so a retry never duplicates. Without this script the form
   posts the chosen files in one go. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var root = document.querySelector("[data-upload]");
  if (!root || !window.XMLHttpRequest || !window.FormData) return;
  var texts = JSON.parse(document.getElementById("upload-texts").textContent || "{}");
  var form = root.querySelector("[data-upload-form]");
  var inputs = root.querySelectorAll("[data-upload-input]");
  var box = root.querySelector("[data-upload-progress]");
  var bar = root.querySelector("[data-upload-bar]");
  var statusLine = root.querySelector("[data-upload-status]");
  var errorList = root.querySelector("[data-upload-errors]");
  var retryButton = root.querySelector("[data-upload-retry]");
  var refresh = root.querySelector("[data-upload-refresh]");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var uploadUrl = root.getAttribute("data-upload-url");
  var receivedUrl = root.getAttribute("data-received-url");
  var CONCURRENCY = 3;
  var TRIES = 5;
  // What a scanner's export holds besides its images: never sent.
  var SKIP = /^(dicomdir|thumbs\.db|desktop\.ini|\.ds_store|lockfile|autorun\.inf)$/i;
  var busy = false;
  var failedFiles = [];

  function say(key, values) {
    var text = texts[key] || key;
    return text.replace(/%\((\w+)\)s/g, function (_m, name) {
      return values && values[name] !== undefined ? String(values[name]) : "";
    });
  }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    if (bytes < 1024 * 1024 * 1024) return (bytes / 1048576).toFixed(1) + " MB";
    return (bytes / 1073741824).toFixed(2) + " GB";
  }

  // The name the server keeps: the path inside the chosen folder, so that files of the same
  // name in different series folders are told apart.
  function nameOf(file) {
    return (file.webkitRelativePath || file.name).replace(/[\/\\]/g, "_");
  }

  function wanted(file) {
    var base = file.name || "";
    return file.size > 0 && base.charAt(0) !== "." && !SKIP.test(base);
  }

  function addError(text) {
    var li = document.createElement("li");
    li.textContent = text;
    errorList.appendChild(li);
  }

  function received() {
    return fetch(receivedUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .catch(function () { return []; });
  }

  function send(file, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.timeout = 180000;
      xhr.upload.onprogress = function (e) { onProgress(e.loaded || 0); };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_e) { body = null; }
        resolve({status: xhr.status, body: body});
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve({status: 0, body: null}); };
      var data = new FormData();
      data.append("file", file, nameOf(file));
      xhr.send(data);
    });
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function run(files) {
    busy = true;
    failedFiles = [];
    errorList.innerHTML = "";
    retryButton.hidden = true;
    refresh.hidden = true;
    box.hidden = false;
    bar.removeAttribute("value");
    statusLine.textContent = say("checking");
    inputs.forEach(function (i) { i.disabled = true; });
    return received().then(function (have) {
      var seen = {};
      (have || []).forEach(function (h) { seen[h.name + "\u0000" + h.size] = true; });
      var todo = files.filter(function (f) { return !seen[nameOf(f) + "\u0000" + f.size]; });
      var skipped = files.length - todo.length;
      var total = files.length;
      var totalBytes = todo.reduce(function (n, f) { return n + f.size; }, 0) || 1;
      var doneBytes = 0;
      var partial = {};
      var done = skipped;
      var added = 0;
      var again = skipped;
      var next = 0;

      function show() {
        var sent = doneBytes;
        Object.keys(partial).forEach(function (k) { sent += partial[k]; });
        bar.max = 100;
        bar.value = Math.min(100, Math.round(100 * sent / totalBytes));
        statusLine.textContent = say("progress", {done: done, total: total, sent: size(sent), size: size(totalBytes)})
          + (skipped ? " · " + say("skipped", {n: skipped}) : "");
      }

      function one(file, key) {
        var attempt = 0;
        function tryOnce() {
          return send(file, function (loaded) { partial[key] = loaded; show(); }).then(function (res) {
            delete partial[key];
            if (res.status === 200 && res.body && !res.body.error) {
              if (res.body.created) added += 1; else again += 1;
              return true;
            }
            if (res.status === 200 && !res.body) {  // the sign-in page: the session ended
              addError(nameOf(file) + ": " + say("session"));
              return false;
            }
            var transient = res.status === 0 || res.status >= 500 || res.status === 408 || res.status === 429;
            if (transient && attempt + 1 < TRIES) {
              attempt += 1;
              statusLine.textContent = say("retrying", {name: nameOf(file)});
              return wait(Math.min(15000, 1000 * Math.pow(2, attempt - 1))).then(tryOnce);
            }
            addError(nameOf(file) + ": " + ((res.body && res.body.error) || say("refused") + (res.status ? " (" + res.status + ")" : "")));
            failedFiles.push(file);
            return false;
          });
        }
        return tryOnce().then(function () {
          done += 1;
          doneBytes += file.size;
          show();
        });
      }

      function worker() {
        if (next >= todo.length) return Promise.resolve();
        var i = next++;
        return one(todo[i], "f" + i).then(worker);
      }

      show();
      var workers = [];
      for (var w = 0; w < Math.min(CONCURRENCY, todo.length); w += 1) workers.push(worker());
      return Promise.all(workers).then(function () {
        busy = false;
        inputs.forEach(function (i) { i.disabled = false; });
        bar.value = 100;
        statusLine.textContent = say("done", {added: added, again: again});
        if (errorList.children.length) {
          var head = document.createElement("li");
          head.textContent = say("failed", {n: errorList.children.length});
          head.className = "errorlist-head";
          errorList.insertBefore(head, errorList.firstChild);
          retryButton.hidden = failedFiles.length === 0;
          refresh.hidden = false;
        } else {
          statusLine.textContent += " " + say("reloading");
          setTimeout(function () { window.location.reload(); }, 600);
        }
      });
    });
  }

  function start(files) {
    if (busy) return;
    var chosen = Array.prototype.filter.call(files, wanted);
    if (!chosen.length) {
      box.hidden = false;
      statusLine.textContent = say("nothing");
      return;
    }
    run(chosen);
  }

  inputs.forEach(function (input) {
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      input.value = "";
      if (files.length) start(files);
    });
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
  });
  retryButton.addEventListener("click", function () {
    if (failedFiles.length) start(failedFiles.slice());
  });
  window.addEventListener("beforeunload", function (e) {
    if (!busy) return undefined;
    e.preventDefault();
    e.returnValue = say("leave");
    return e.returnValue;
  });
})();
