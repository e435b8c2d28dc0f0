/* The pairing page: counts down to the code's expiry ([data-expires] in ms since 1970). */
(function () {
  "use strict";
  var box = document.querySelector("[data-expires]");
  if (!box) return;
  var end = parseInt(box.getAttribute("data-expires"), 10);
  var out = box.querySelector("[data-countdown]");
  if (!out || !end) return;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    if (left <= 0) {
      out.textContent = box.getAttribute("data-expired-text");
      box.classList.add("is-expired");
      return;
    }
    out.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
    setTimeout(tick, 1000);
  }
  tick();
})();
