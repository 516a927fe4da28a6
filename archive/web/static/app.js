// sgz web UI: the little behaviour htmx does not give (drag and drop, upload progress).
// Served from 'self' under a strict CSP; no inline script anywhere.
(function () {
  "use strict";
  function setupDropzones(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      if (zone.dataset.ready) { return; }
      zone.dataset.ready = "1";
      var input = zone.querySelector("input[type=file]");
      var list = document.getElementById(zone.dataset.dropzone);
      function show() {
        if (!list) { return; }
        list.textContent = "";
        Array.prototype.forEach.call(input.files, function (f) {
          var li = document.createElement("li");
          li.textContent = f.name + "（" + Math.max(1, Math.round(f.size / 1024)) + " KB）";
          list.appendChild(li);
        });
      }
      ["dragenter", "dragover"].forEach(function (ev) {
        zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (ev) {
        zone.addEventListener(ev, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) {
          input.files = e.dataTransfer.files;
          show();
        }
      });
      input.addEventListener("change", show);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setupDropzones(document); });
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-print]")) { window.print(); }
  });
  document.addEventListener("htmx:load", function (e) { setupDropzones(e.target); });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = document.getElementById("upload-progress");
    if (bar && e.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round(e.detail.loaded / e.detail.total * 100);
    }
  });
}());
