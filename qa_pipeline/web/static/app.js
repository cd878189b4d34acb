// callqa workstation: seek from timeline/transcript/findings, current line follows playback, channel switch,
// "use current time" for a missed finding, select-all in the queue. No framework, no network besides our own pages.
(function () {
  "use strict";
  var player = document.getElementById("player");
  function fmt(t) {
    t = Math.max(0, Math.round(t));
    var m = Math.floor(t / 60), s = t % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }
  if (player) {
    var duration = parseFloat(player.dataset.duration) || 0;
    var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript .line"));
    var cursor = document.getElementById("tl-cursor");
    var now = document.getElementById("now");
    var current = null;
    document.addEventListener("click", function (ev) {
      var el = ev.target.closest(".seek");
      if (!el || el.tagName === "FORM") return;
      var t = parseFloat(el.dataset.t);
      if (isNaN(t)) return;
      player.currentTime = t;
      var p = player.play();
      if (p && p.catch) p.catch(function () {});
    });
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime;
      if (now) now.textContent = fmt(t);
      if (cursor && duration) cursor.style.left = Math.min(100, (100 * t) / duration) + "%";
      var hit = null;
      for (var i = 0; i < lines.length; i++) {
        var a = parseFloat(lines[i].dataset.t), b = parseFloat(lines[i].dataset.end);
        if (t >= a && t < b) { hit = lines[i]; break; }
        if (t >= a) hit = lines[i];
      }
      if (hit !== current) {
        if (current) current.classList.remove("current");
        if (hit) {
          hit.classList.add("current");
          var box = document.getElementById("transcript");
          if (box) box.scrollTop = hit.offsetTop - box.offsetTop - box.clientHeight / 3;
        }
        current = hit;
      }
    });
    document.querySelectorAll(".channel").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var t = player.currentTime, playing = !player.paused;
        player.src = btn.dataset.src;
        player.addEventListener("loadedmetadata", function once() {
          player.removeEventListener("loadedmetadata", once);
          player.currentTime = t;
          if (playing) player.play();
        });
        document.querySelectorAll(".channel").forEach(function (b) { b.classList.toggle("active", b === btn); });
      });
    });
    var useNow = document.getElementById("use-now");
    if (useNow) useNow.addEventListener("click", function () {
      document.getElementById("add-start").value = fmt(player.currentTime);
    });
  }
  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll('#assign-form input[name="call_id"]').forEach(function (c) { c.checked = all.checked; });
  });
})();
