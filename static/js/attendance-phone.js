/* Attendance on the staff phone (templates/attendance/m/): face enrollment with a liveness
   challenge (#at-enroll) and the punch with location, face or PIN (#at-punch).
   Frames are drawn from the front camera onto a canvas (at most 640 px on the longer side), sent
   as JPEG uploads with the form, and never kept in the page after sending. */
(function () {
  "use strict";

  var MAX_SIDE = 640;

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var h = document.body.getAttribute("hx-headers");
    try { return JSON.parse(h)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function startCamera(video) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error("no camera"));
    }
    return navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        return new Promise(function (resolve) {
          if (video.readyState >= 2) resolve(stream);
          else video.addEventListener("loadeddata", function () { resolve(stream); }, { once: true });
        });
      });
  }

  function stopCamera(video) {
    var s = video && video.srcObject;
    if (s) s.getTracks().forEach(function (t) { t.stop(); });
    if (video) video.srcObject = null;
  }

  function grab(video) {
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    var c = document.createElement("canvas");
    c.width = Math.round(w * scale);
    c.height = Math.round(h * scale);
    c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
    return new Promise(function (resolve) { c.toBlob(resolve, "image/jpeg", 0.88); });
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function post(url, form) {
    return fetch(url, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false, message: "" }; }).then(function (body) {
        body.status = r.status;
        return body;
      });
    });
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx(), o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.08;
      o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.18);
    } catch (e) { /* no sound: the notice on the page is enough */ }
  }

  /* ---- enrollment ------------------------------------------------------------------------ */
  function enroll(root) {
    var video = document.getElementById("at-video");
    var start = document.getElementById("at-start");
    var msg = document.getElementById("at-msg");
    var instruction = document.getElementById("at-instruction");
    var count = parseInt(root.dataset.frames, 10) || 6;
    var interval = parseInt(root.dataset.interval, 10) || 400;

    function say(text, kind) { msg.textContent = text || ""; msg.className = "at-msg" + (kind ? " " + kind : ""); }

    startCamera(video).then(function () { start.disabled = false; }).catch(function () {
      say(root.dataset.textCamera, "error");
    });

    start.addEventListener("click", function () {
      start.disabled = true;
      say(root.dataset.textHold);
      var blobs = [];
      var chain = Promise.resolve();
      for (var i = 0; i < count; i++) {
        chain = chain.then(function () { return grab(video); }).then(function (b) { blobs.push(b); return wait(interval); });
      }
      chain.then(function () {
        say(root.dataset.textSending);
        var form = new FormData();
        blobs.forEach(function (b, i) { form.append("frame", b, "frame" + i + ".jpg"); });
        blobs = null;
        return post(root.dataset.url, form);
      }).then(function (body) {
        if (body.ok) {
          stopCamera(video);
          say("", "ok");
          window.location.assign(body.next);
          return;
        }
        if (body.instruction) {
          instruction.textContent = body.instruction;
          instruction.dataset.challenge = body.challenge;
        }
        say(body.message || root.dataset.textError, "error");
        start.disabled = false;
      }).catch(function () {
        say(root.dataset.textError, "error");
        start.disabled = false;
      });
    });
  }

  /* ---- punch ----------------------------------------------------------------------------- */
  function punch(root) {
    var texts = document.getElementById("at-texts").dataset;
    var where = document.getElementById("at-where");
    var whereText = document.getElementById("at-where-text");
    var riskLine = document.getElementById("at-risk");
    var faceBox = document.getElementById("at-face");
    var video = document.getElementById("at-video");
    var shoot = document.getElementById("at-shoot");
    var toPin = document.getElementById("at-to-pin");
    var pinForm = document.getElementById("at-pin");
    var reasonField = document.getElementById("at-reason-field");
    var blocked = document.getElementById("at-blocked");
    var msg = document.getElementById("at-msg");
    var done = document.getElementById("at-done");
    var storeSelect = document.getElementById("at-store");
    var position = null;
    var state = null;
    var busy = false;

    function say(text) { msg.textContent = text || ""; }

    function baseForm() {
      var f = new FormData();
      f.append("key", root.dataset.key);
      if (storeSelect && storeSelect.value) f.append("store", storeSelect.value);
      if (position) {
        f.append("latitude", position.coords.latitude.toFixed(6));
        f.append("longitude", position.coords.longitude.toFixed(6));
        f.append("accuracy", Math.round(position.coords.accuracy || 0));
      }
      return f;
    }

    function showPin(withReason) {
      stopCamera(video);
      faceBox.hidden = true;
      if (!state.pin_allowed) {
        blocked.textContent = state.has_pin ? texts.blockedOutside : texts.blockedNopin;
        blocked.hidden = false;
        pinForm.hidden = true;
        return;
      }
      blocked.hidden = true;
      pinForm.hidden = false;
      reasonField.hidden = !withReason;
    }

    function showFace() {
      faceBox.hidden = false;
      pinForm.hidden = true;
      toPin.hidden = !state.pin_allowed;
      startCamera(video).catch(function () {
        say(root.dataset.textCamera);
        showPin(state.reason_needed);
      });
    }

    function instruct(body) {
      if (!body.instruction) return;
      var line = document.getElementById("at-instruction");
      line.textContent = body.instruction;
      line.dataset.challenge = body.challenge;
    }

    function decide(body) {
      state = body;
      instruct(body);
      where.dataset.inside = body.inside ? "1" : "0";
      var place = body.store.name + " · " + (body.inside ? root.dataset.textInside : root.dataset.textOutside);
      if (body.distance_m !== null && body.distance_m !== undefined) {
        place += " · " + root.dataset.textMeters.replace("{m}", body.distance_m);
      }
      whereText.textContent = position ? place : root.dataset.textNoLocation;
      if (body.risk.length) {
        riskLine.textContent = (body.face_needed ? texts.faceNeeded + " · " : "") + texts.riskPrefix + (/：$/.test(texts.riskPrefix) ? "" : " ") + body.risk_words.join("、");
        riskLine.hidden = false;
      } else {
        riskLine.hidden = true;
      }
      if (body.face_needed && body.can_face) showFace();
      else if (body.face_needed) showPin(true);
      else if (body.pin_allowed || !body.can_face) showPin(false);
      else showFace();
    }

    function check() {
      post(root.dataset.check, baseForm()).then(function (body) {
        if (!body.ok) { say(body.message || root.dataset.textError); return; }
        decide(body);
      }).catch(function () { say(root.dataset.textError); });
    }

    function finish(body) {
      busy = false;
      shoot.disabled = false;
      if (body.key) root.dataset.key = body.key;
      instruct(body);
      if (!body.ok) {
        say(body.message || root.dataset.textError);
        return;
      }
      stopCamera(video);
      beep();
      say("");
      faceBox.hidden = true; pinForm.hidden = true; riskLine.hidden = true; blocked.hidden = true;
      document.getElementById("at-done-text").textContent = body.message;
      done.hidden = false;
      if (navigator.vibrate) navigator.vibrate(80);
    }

    shoot.addEventListener("click", function () {
      if (busy) return;
      busy = true;
      shoot.disabled = true;
      say(root.dataset.textHold);
      var count = parseInt(faceBox.dataset.frames, 10) || 6;
      var interval = parseInt(faceBox.dataset.interval, 10) || 400;
      var blobs = [];
      var chain = Promise.resolve();
      for (var i = 0; i < count; i++) {
        chain = chain.then(function () { return grab(video); }).then(function (b) { blobs.push(b); return wait(interval); });
      }
      chain.then(function () {
        say(root.dataset.textSending);
        var f = baseForm();
        blobs.forEach(function (b, i) { f.append("frame", b, "face" + i + ".jpg"); });
        blobs = null;
        return post(root.dataset.send, f);
      }).then(finish).catch(function () { busy = false; shoot.disabled = false; say(root.dataset.textError); });
    });

    toPin.addEventListener("click", function () { showPin(state.reason_needed); });

    pinForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      say(root.dataset.textSending);
      var f = baseForm();
      f.append("pin", document.getElementById("at-pin-input").value);
      if (!reasonField.hidden) f.append("reason", document.getElementById("at-reason").value);
      post(root.dataset.send, f).then(finish).catch(function () { busy = false; say(root.dataset.textError); });
    });

    if (storeSelect) storeSelect.addEventListener("change", check);

    if (!navigator.geolocation) { check(); return; }
    navigator.geolocation.getCurrentPosition(
      function (p) { position = p; check(); },
      function () { position = null; check(); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 }
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    var e = document.getElementById("at-enroll");
    if (e) enroll(e);
    var p = document.getElementById("at-punch");
    if (p) punch(p);
  });
})();
