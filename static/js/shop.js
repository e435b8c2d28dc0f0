/* Cloud store: "find the nearest store" asks the browser where the shopper is, then loads the
   store finder with ?lat=&lng= (the server orders the stores by distance). */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    if (!button) return;
    event.preventDefault();
    var status = document.getElementById("locate-status");
    var say = function (text) { if (status) status.textContent = text || ""; };
    if (!navigator.geolocation) {
      say(button.getAttribute("data-denied-text"));
      return;
    }
    button.setAttribute("aria-disabled", "true");
    say(button.getAttribute("data-busy-text"));
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        var url = new URL(button.getAttribute("data-url"), window.location.href);
        url.searchParams.set("lat", pos.coords.latitude.toFixed(6));
        url.searchParams.set("lng", pos.coords.longitude.toFixed(6));
        window.location.assign(url.toString());
      },
      function () {
        button.removeAttribute("aria-disabled");
        say(button.getAttribute("data-denied-text"));
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 }
    );
  });
})();
