// callqa workstation part 2: play a search hit or collected example in place (seek to its start, stop at its
// end), and send "collect" to the collection picked in the row. No framework, no network besides our own pages.
(function () {
  "use strict";
  var player = document.getElementById("hit-player");
  if (player) {
    var stopAt = null;
    document.addEventListener("click", function (ev) {
      var btn = ev.target.closest(".play");
      if (!btn) return;
      var t = parseFloat(btn.dataset.t), end = parseFloat(btn.dataset.end);
      stopAt = isNaN(end) ? null : end + 0.3;
      var go = function () {
        player.currentTime = t;
        var p = player.play();
        if (p && p.catch) p.catch(function () {});
      };
      if (player.getAttribute("src") !== btn.dataset.src) {
        player.src = btn.dataset.src;
        player.addEventListener("loadedmetadata", function once() { player.removeEventListener("loadedmetadata", once); go(); });
        player.load();
      } else {
        go();
      }
    });
    player.addEventListener("timeupdate", function () {
      if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
    });
  }
  document.querySelectorAll(".collect-form").forEach(function (form) {
    var pick = form.querySelector(".collection-pick");
    if (!pick) return;
    var sync = function () { form.action = form.dataset.base + pick.value + "/examples"; };
    pick.addEventListener("change", sync);
    sync();
  });
})();
