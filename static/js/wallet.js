/* Wallet pages: small touches on top of pages that work without this file. */
(function () {
  "use strict";

  // The 開 button spins like a coin while the claim is on its way.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches(".rp-open-form")) return;
    var button = form.querySelector(".rp-open");
    if (button) {
      if (button.classList.contains("is-opening")) {
        event.preventDefault(); // one tap is enough (a second would be a harmless replay anyway)
        return;
      }
      button.classList.add("is-opening");
    }
  });

  // Right after opening, the amount counts up from zero (the CSS reveal plays either way).
  function countUp(el) {
    var fen = parseInt(el.getAttribute("data-countup"), 10);
    if (!(fen > 0)) return;
    var final = el.textContent;
    var start = null;
    var duration = 900;
    var format = function (f) {
      var yuan = Math.floor(f / 100);
      var cents = ("0" + (f % 100)).slice(-2);
      return yuan.toLocaleString("en-US") + "." + cents;
    };
    var step = function (now) {
      if (start === null) start = now;
      var t = Math.min((now - start) / duration, 1);
      var eased = 1 - Math.pow(1 - t, 3);
      el.textContent = t < 1 ? format(Math.round(fen * eased)) : final;
      if (t < 1) window.requestAnimationFrame(step);
    };
    el.textContent = format(0);
    window.setTimeout(function () { window.requestAnimationFrame(step); }, 1100);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) return;
    document.querySelectorAll(".fresh [data-countup]").forEach(countUp);
  });
})();
