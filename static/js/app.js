/* Small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Copy-to-clipboard buttons: <button data-copy="#input-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    event.preventDefault();
    input.select();
    var label = button.querySelector("span");
    var done = function () {
      if (!label) return;
      var before = label.textContent;
      label.textContent = document.body.getAttribute("data-copied-text") || before;
      setTimeout(function () { label.textContent = before; }, 1800);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Select the invitation link when it is focused, so it can be copied by hand too.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[readonly][data-select-on-focus]")) {
      event.target.select();
    }
  });

  // htmx: inside [data-swap-errors], a 4xx answer is a form showing its errors: swap it in
  // like a success instead of treating it as a failure.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var elt = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.target;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // htmx: tell the user when a request failed (htmx leaves the page unchanged on errors).
  document.addEventListener("htmx:responseError", function () {
    window.alert(document.body.getAttribute("data-error-text"));
  });
  document.addEventListener("htmx:sendError", function () {
    window.alert(document.body.getAttribute("data-error-text"));
  });
})();
