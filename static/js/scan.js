/* Scan a member code (会员码) with the phone's camera or from a photo, using the vendored
   jsQR decoder; the code goes into the form's text field and the form is submitted. A scanner
   gun (or a person) can always type into the field instead. */
(function () {
  "use strict";

  var root = document.getElementById("scanner");
  var form = document.getElementById("scan-form");
  if (!root || !form) return;
  var input = form.querySelector("input[name=code]");
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var idle = document.getElementById("scan-idle");
  var frame = root.querySelector(".frame");
  var status = document.getElementById("scan-status");
  var start = document.getElementById("scan-start");
  var file = document.getElementById("scan-file");
  var ctx = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;

  function say(key) {
    status.textContent = root.getAttribute(key) || "";
  }

  function decode(source, width, height, both) {
    if (!window.jsQR || !width || !height) return null;
    var scale = Math.min(1, 800 / Math.max(width, height));
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(image.data, image.width, image.height, {
      inversionAttempts: both ? "attemptBoth" : "dontInvert",
    });
    return found && found.data ? found.data : null;
  }

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
  }

  function submit(code) {
    stop();
    say("data-found");
    input.value = code;
    form.submit();
  }

  function tick() {
    if (!stream) return;
    if (video.readyState >= 2) {
      var code = decode(video, video.videoWidth, video.videoHeight, false);
      if (code) return submit(code);
    }
    window.requestAnimationFrame(tick);
  }

  start.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("data-no-camera");
      return;
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        frame.hidden = false;
        idle.hidden = true;
        start.hidden = true;
        status.textContent = "";
        return video.play().then(function () { window.requestAnimationFrame(tick); });
      })
      .catch(function () { say("data-no-camera"); });
  });

  file.addEventListener("change", function () {
    var f = file.files && file.files[0];
    if (!f) return;
    var img = new Image();
    var url = URL.createObjectURL(f);
    img.onload = function () {
      var code = decode(img, img.naturalWidth, img.naturalHeight, true);
      URL.revokeObjectURL(url);
      file.value = "";
      if (code) submit(code);
      else say("data-not-found");
    };
    img.onerror = function () {
      URL.revokeObjectURL(url);
      say("data-not-found");
    };
    img.src = url;
  });

  window.addEventListener("pagehide", stop);
})();
