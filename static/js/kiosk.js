/* The web kiosk (/kiosk/): a tablet as a clock-in or door terminal, speaking the device protocol
   (docs/kiosk-protocol.md) over the websocket.

   Pairing: a code (typed, or ?code= from the console's QR) is exchanged for the device id and
   secret, kept in localStorage. Connecting: the secret buys a single-use ticket over HTTPS, the
   ticket answers the socket's challenge in hello. Events made while the socket is down are kept
   in localStorage with their ids and times, and sent once as an event_batch on reconnect.
   A face or a PIN punch is answered by the server (identify_result, punch_result): who, when and
   the result, shown with a sound; the words of the answer come from the server, in the device's
   language.
   Every word shown comes from the page's catalogue (#kiosk-texts), in the device's language. */
(function () {
  "use strict";

  const KEY_CREDENTIAL = "kiosk.credential";
  const KEY_QUEUE = "kiosk.queue";
  const KEY_CONFIG = "kiosk.config";
  const KEY_STAFF = "kiosk.staff";
  const QUEUED_TYPES = ["punch", "door_opened", "door_forced", "tamper", "error"];
  const ACK_TIMEOUT_MS = 10000;
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_CAP_MS = 30000;

  const $ = (id) => document.getElementById(id);
  const catalogue = JSON.parse($("kiosk-texts").textContent);
  const settings = JSON.parse($("kiosk-settings").textContent);

  // --- storage ------------------------------------------------------------------------------
  function load(key, fallback) {
    try {
      const value = JSON.parse(localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }
  function save(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* storage full or blocked: the kiosk goes on without it */
    }
  }

  let credential = load(KEY_CREDENTIAL, null);
  let config = load(KEY_CONFIG, { volume: 70, language: settings.language });
  let staff = load(KEY_STAFF, { version: "", staff: [] });

  // --- words ----------------------------------------------------------------------------------
  function language() {
    return catalogue[config.language] ? config.language : settings.language;
  }
  function t(key, params) {
    const texts = catalogue[language()] || {};
    let text = texts[key] || key;
    if (params) {
      Object.keys(params).forEach((name) => {
        text = text.replace("%(" + name + ")s", params[name]);
      });
    }
    return text;
  }
  function applyTexts() {
    document.documentElement.lang = language();
    document.title = t("title");
    document.querySelectorAll("[data-t]").forEach((el) => {
      el.textContent = t(el.getAttribute("data-t"));
    });
    renderNames();
    renderClock();
    renderPending();
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // --- screens --------------------------------------------------------------------------------
  function show(screen) {
    ["pair-screen", "kiosk-screen", "notice-screen"].forEach((id) => {
      $(id).hidden = id !== screen;
    });
    document.body.dataset.screen = screen;
    if (screen !== "kiosk-screen") {
      closePin();
      $("banner").hidden = true;
    }
  }

  function renderNames() {
    $("k-store").textContent = credential ? credential.store || "" : "";
    $("k-device").textContent = credential ? credential.name || "" : "";
  }

  function setStatus(state) {
    const el = $("k-status");
    el.dataset.state = state;
    const key = state === "online" ? "online" : state === "offline" ? "offline" : "connecting";
    $("k-status-text").setAttribute("data-t", key);
    $("k-status-text").textContent = t(key);
  }

  function renderPending() {
    const n = queue().length;
    const el = $("k-pending");
    el.hidden = n === 0;
    el.textContent = n ? t("pending", { n: n }) : "";
  }

  // --- clock ----------------------------------------------------------------------------------
  let timezone = load("kiosk.timezone", undefined);
  function renderClock() {
    const now = new Date();
    const locale = language() === "en" ? "en-GB" : "zh-CN";
    const zone = timezone ? { timeZone: timezone } : {};
    try {
      $("k-time").textContent = new Intl.DateTimeFormat(locale, {
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, ...zone,
      }).format(now);
      $("k-date").textContent = new Intl.DateTimeFormat(locale, {
        year: "numeric", month: "long", day: "numeric", weekday: "long", ...zone,
      }).format(now);
    } catch (e) {
      timezone = undefined; // an unknown zone name: the tablet's own
    }
  }

  // --- sound (WebAudio; no files) -------------------------------------------------------------
  let audio = null;
  function audioContext() {
    if (!audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      audio = new Ctx();
    }
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  function tone(freq, start, length) {
    const ctx = audioContext();
    if (!ctx) return;
    const volume = Math.max(0, Math.min(100, Number(config.volume ?? 70))) / 100;
    if (!volume) return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const at = ctx.currentTime + start;
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.4 * volume, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + length + 0.05);
  }
  const sounds = {
    ok: () => { tone(880, 0, 0.15); tone(1320, 0.16, 0.22); },
    error: () => { tone(330, 0, 0.25); tone(247, 0.28, 0.35); },
    ring: (seconds) => {
      const n = Math.max(1, Math.min(30, seconds || 3)) * 2;
      for (let i = 0; i < n; i++) tone(i % 2 ? 988 : 784, i * 0.5, 0.4);
    },
  };
  document.addEventListener("pointerdown", () => audioContext(), { once: true });

  // --- banner ---------------------------------------------------------------------------------
  let bannerTimer = null;
  function banner(text, kind, seconds) {
    const el = $("banner");
    $("banner-text").textContent = text;
    el.dataset.kind = kind || "ok";
    el.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { el.hidden = true; }, (seconds || 3) * 1000);
  }
  $("banner").addEventListener("click", () => { $("banner").hidden = true; });

  // --- the offline queue ----------------------------------------------------------------------
  // One queue per device id: a device paired again (same id) finds what it kept.
  function queueKey() {
    return KEY_QUEUE + ":" + (credential ? credential.device : "none");
  }
  function queue() {
    const q = load(queueKey(), []);
    return Array.isArray(q) ? q : [];
  }
  function enqueue(envelope) {
    const q = queue();
    if (!q.some((e) => e.id === envelope.id)) q.push(envelope);
    save(queueKey(), q);
    renderPending();
  }
  function dequeue(ids) {
    if (!ids.length) return;
    const gone = new Set(ids);
    save(queueKey(), queue().filter((e) => !gone.has(e.id)));
    renderPending();
  }

  // --- pairing --------------------------------------------------------------------------------
  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    return { status: response.status, data: data };
  }

  async function pair(code) {
    const error = $("pair-error");
    error.textContent = t("pairing");
    $("pair-submit").disabled = true;
    try {
      const { status, data } = await postJSON(settings.pair_url, { code: code, app_version: "web-kiosk" });
      if (status === 201 && data.device && data.secret) {
        disconnect();
        credential = {
          device: data.device,
          secret: data.secret,
          name: data.name,
          kind: data.kind,
          store: data.store && data.store.name,
          brand: data.brand && data.brand.name,
        };
        save(KEY_CREDENTIAL, credential);
        save(KEY_STAFF, null);
        staff = { version: "", staff: [] };
        error.textContent = "";
        $("pair-code").value = "";
        start();
        return true;
      }
      error.textContent = status === 400 ? t("pair_invalid") : t("pair_failed");
    } catch (e) {
      error.textContent = t("pair_failed");
    } finally {
      $("pair-submit").disabled = false;
    }
    sounds.error();
    return false;
  }

  function showPairing(again) {
    disconnect();
    setStatus("offline");
    $("pair-title").setAttribute("data-t", again ? "repair_title" : "pair_title");
    $("pair-hint").setAttribute("data-t", again ? "repair_hint" : "pair_hint");
    $("pair-title").textContent = t(again ? "repair_title" : "pair_title");
    $("pair-hint").textContent = t(again ? "repair_hint" : "pair_hint");
    document.body.dataset.repair = again ? "yes" : "no";
    renderNames();
    show("pair-screen");
    $("pair-code").focus();
  }

  function forget() {
    credential = null;
    save(KEY_CREDENTIAL, null);
    save(KEY_STAFF, null);
    staff = { version: "", staff: [] };
  }

  $("pair-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("pair-code").value.replace(/[\s-]/g, "").toUpperCase();
    if (code.length !== 8) {
      $("pair-error").textContent = t("pair_invalid");
      return;
    }
    pair(code);
  });

  // --- the socket -----------------------------------------------------------------------------
  let ws = null;
  let welcomed = false;
  let attempts = 0;
  let authFailures = 0;
  let reconnectTimer = null;
  let heartbeatTimer = null;
  let lastFrameAt = 0;
  let heartbeatInterval = 10;
  let stopped = false; // replaced, or waiting for pairing: no automatic reconnect
  const pending = new Map(); // message id → {envelope, onAck, onError, timer}
  const waitingSync = new Map(); // fetch id → sync command id

  function connected() {
    return ws && ws.readyState === WebSocket.OPEN && welcomed;
  }

  function disconnect() {
    stopped = true;
    clearTimeout(reconnectTimer);
    clearInterval(heartbeatTimer);
    if (ws) {
      const old = ws;
      ws = null;
      try { old.close(1000); } catch (e) { /* already closed */ }
    }
    welcomed = false;
    failPending();
  }

  function scheduleReconnect() {
    if (stopped || !credential) return;
    clearTimeout(reconnectTimer);
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempts, 10));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    attempts += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  let connecting = false;
  async function connect() {
    clearTimeout(reconnectTimer);
    if (connecting || !credential || (ws && ws.readyState <= WebSocket.OPEN)) return;
    stopped = false;
    connecting = true;
    setStatus("connecting");
    let ticket;
    try {
      const { status, data } = await postJSON(settings.ticket_url, {
        device: credential.device,
        secret: credential.secret,
      });
      if (status === 401) {
        forget();
        showPairing(true);
        return;
      }
      if (status !== 201 || !data.ticket) throw new Error("ticket " + status);
      ticket = data.ticket;
    } catch (e) {
      setStatus("offline");
      scheduleReconnect();
      return;
    } finally {
      connecting = false;
    }
    if (stopped || !credential || (ws && ws.readyState <= WebSocket.OPEN)) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + settings.websocket);
    ws = socket;
    welcomed = false;
    socket.addEventListener("message", (ev) => {
      if (ws !== socket) return;
      lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
      try {
        onFrame(frame, ticket);
      } catch (e) {
        if (window.console) console.warn("kiosk: frame not handled", frame.type, e);
      }
    });
    socket.addEventListener("close", (ev) => {
      if (ws !== socket) return;
      ws = null;
      onClose(ev.code);
    });
  }

  function send(type, payload, id) {
    const envelope = { type: type, id: id || newId(), ts: Date.now(), payload: payload || {} };
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(envelope));
    return envelope;
  }

  function onClose(code) {
    clearInterval(heartbeatTimer);
    welcomed = false;
    failPending();
    setStatus("offline");
    if (code === 4403) {
      forget();
      showPairing(true);
      return;
    }
    if (code === 4401) {
      authFailures += 1;
      if (authFailures >= 2) {
        showPairing(true);
        return;
      }
      attempts = 0;
      connect();
      return;
    }
    if (code === 4409) {
      stopped = true;
      $("notice-title").textContent = t("replaced_title");
      $("notice-hint").textContent = t("replaced_hint");
      $("notice-reconnect").hidden = false;
      show("notice-screen");
      return;
    }
    scheduleReconnect();
  }

  function onFrame(frame, ticket) {
    const payload = frame.payload && typeof frame.payload === "object" ? frame.payload : {};
    switch (frame.type) {
      case "challenge":
        send("hello", {
          version: settings.protocol,
          device: credential.device,
          auth: { method: "ticket", ticket: ticket },
          app_version: "web-kiosk",
        });
        return;
      case "welcome":
        onWelcome(payload);
        return;
      case "ack":
        onAck(payload);
        return;
      case "identify_result":
      case "punch_result":
        onResult(payload);
        return;
      case "error":
        onError(payload);
        return;
      case "staff_list":
        onStaffList(frame, payload);
        return;
      case "config":
        applyConfig(payload.config);
        return;
      case "open_door":
      case "show_message":
      case "ring":
      case "reload_config":
      case "sync":
        if (welcomed) onCommand(frame.type, frame.id, payload);
        return;
      default:
        return; // a newer server's message: ignored
    }
  }

  function onWelcome(payload) {
    welcomed = true;
    attempts = 0;
    authFailures = 0;
    credential = {
      ...credential,
      name: payload.name || credential.name,
      kind: payload.kind || credential.kind,
      store: (payload.store && payload.store.name) || credential.store,
      brand: (payload.brand && payload.brand.name) || credential.brand,
    };
    save(KEY_CREDENTIAL, credential);
    if (payload.store && payload.store.timezone) {
      timezone = payload.store.timezone;
      save("kiosk.timezone", timezone);
    }
    applyConfig(payload.config);
    heartbeatInterval = Math.max(1, Number(payload.heartbeat_interval) || 10);
    clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(heartbeat, heartbeatInterval * 1000);
    show("kiosk-screen");
    setStatus("online");
    flushQueue();
    if (payload.staff_version !== staff.version) send("fetch", { what: "staff" });
  }

  function heartbeat() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastFrameAt > 3 * heartbeatInterval * 1000) {
      // Nothing heard for three intervals: the link is dead even if the socket says open.
      const socket = ws;
      ws = null;
      try { socket.close(); } catch (e) { /* gone */ }
      onClose(1006);
      return;
    }
    send("heartbeat", { pending_events: queue().length });
  }

  function applyConfig(next) {
    if (!next || typeof next !== "object") return;
    config = { ...config, ...next };
    save(KEY_CONFIG, config);
    applyTexts();
  }

  function onStaffList(frame, payload) {
    if (Array.isArray(payload.staff)) {
      staff = { version: payload.version || "", staff: payload.staff };
      save(KEY_STAFF, staff);
      renderStaff();
    }
    const command = waitingSync.get(frame.id);
    if (command) {
      waitingSync.delete(frame.id);
      send("result", { ref: command, ok: true });
    }
  }

  function renderStaff() {
    const list = $("k-staff");
    list.textContent = "";
    (staff.staff || []).forEach((person) => {
      if (!person.employee_no) return;
      const option = document.createElement("option");
      option.value = person.employee_no;
      option.label = person.name;
      list.appendChild(option);
    });
  }

  // Messages waiting for their ack.
  function expect(envelope, handlers) {
    const entry = { envelope: envelope, ...handlers };
    entry.timer = setTimeout(() => {
      pending.delete(envelope.id);
      if (entry.onLost) entry.onLost();
    }, ACK_TIMEOUT_MS);
    pending.set(envelope.id, entry);
  }
  function settle(id) {
    const entry = pending.get(id);
    if (entry) {
      clearTimeout(entry.timer);
      pending.delete(id);
    }
    return entry;
  }
  function failPending() {
    const entries = Array.from(pending.values());
    pending.clear();
    waitingSync.clear();
    entries.forEach((entry) => {
      clearTimeout(entry.timer);
      if (entry.onLost) entry.onLost();
    });
  }

  function onAck(payload) {
    const entry = settle(payload.ref);
    if (entry && entry.onAck) entry.onAck(payload);
  }

  // A checked answer (identify_result, punch_result) settles its frame like an ack.
  function onResult(payload) {
    const entry = settle(payload.ref);
    if (entry && entry.onResult) entry.onResult(payload);
  }

  const GOOD_RESULTS = ["punched", "granted", "ok"];
  // When an answer said the door opens for the face shown: its open_door command follows it.
  let doorForFace = 0;
  /* The server's answer on the screen: the name, the message (打卡成功, 门已开, 未识别 ...) and the
     time, with the good or the bad sound. */
  function showResult(payload) {
    const good = GOOD_RESULTS.includes(payload.result);
    const lines = [];
    if (payload.staff && payload.staff.name) lines.push(payload.staff.name);
    lines.push(payload.message || (good ? t("punch_ok") : t("refused")));
    const time = typeof payload.time === "string" ? payload.time.slice(11, 16) : "";
    if (good && /^\d\d:\d\d$/.test(time)) lines.push(time);
    const kind = !good ? "error" : payload.door_opened ? "door" : "ok";
    if (payload.door_opened) doorForFace = Date.now();
    banner(lines.join("\n"), kind, good ? 4 : 3);
    document.body.dataset.result = payload.result;
    (good ? sounds.ok : sounds.error)();
  }

  function onError(payload) {
    const entry = payload.ref ? settle(payload.ref) : null;
    if (entry && entry.onError) entry.onError(payload);
  }

  // --- events ---------------------------------------------------------------------------------
  /* Send an event now if the socket is up; otherwise (or if it goes down before the ack) keep it
     for the next event_batch, with its id and time, when its type may be replayed. */
  function report(type, payload, handlers) {
    const replayable = QUEUED_TYPES.includes(type);
    const envelope = { type: type, id: newId(), ts: Date.now(), payload: payload };
    const keep = () => {
      if (replayable) {
        enqueue(envelope);
        if (handlers.onQueued) handlers.onQueued();
      } else if (handlers.onOffline) handlers.onOffline();
    };
    if (!connected()) {
      keep();
      return;
    }
    expect(envelope, {
      onAck: handlers.onAck,
      onResult: handlers.onResult,
      onError: handlers.onError,
      onLost: keep,
    });
    ws.send(JSON.stringify(envelope));
  }

  let flushing = false;
  function flushQueue() {
    if (flushing || !connected()) return;
    const events = queue().slice(0, settings.max_batch || 200);
    if (!events.length) return;
    flushing = true;
    const batch = send("event_batch", { events: events });
    const done = () => { flushing = false; };
    expect(batch, {
      onAck: (ack) => {
        const settled = [].concat(ack.stored || [], ack.duplicate || []);
        // Refused for their time: they would be refused again, so they are dropped too.
        (ack.rejected || []).forEach((r) => settled.push(r.id));
        dequeue(settled);
        done();
        if (settled.length) flushQueue();
      },
      onError: (err) => {
        done();
        // A batch the server cannot read: drop the events it names, keep the rest for later.
        if (err.code === "invalid" && events.length === 1) dequeue([events[0].id]);
      },
      onLost: done,
    });
  }

  // --- commands -------------------------------------------------------------------------------
  function answer(id, ok, error) {
    const payload = { ref: id, ok: ok };
    if (error) payload.error = String(error).slice(0, 200);
    send("result", payload);
  }

  function onCommand(name, id, payload) {
    if (name === "open_door") {
      // The door opened for the face just answered: its banner (the name) stays up.
      const forFace = doorForFace && Date.now() - doorForFace < 5000;
      doorForFace = 0;
      if (!forFace) {
        banner(t("door_opened"), "door", Math.max(2, Number(payload.seconds) || 5));
        sounds.ok();
      }
      answer(id, true);
      report("door_opened", { method: "remote", command: id }, {});
    } else if (name === "show_message") {
      banner(String(payload.text || ""), "message", Math.max(1, Math.min(300, Number(payload.seconds) || 5)));
      sounds.ok();
      answer(id, true);
    } else if (name === "ring") {
      sounds.ring(Number(payload.seconds) || 3);
      answer(id, true);
    } else if (name === "reload_config") {
      applyConfig(payload.config);
      answer(id, true);
    } else if (name === "sync") {
      const fetch = send("fetch", { what: "staff" });
      waitingSync.set(fetch.id, id);
    }
  }

  // --- face -----------------------------------------------------------------------------------
  let stream = null;
  async function startCamera() {
    const video = $("k-video");
    if (stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("k-camera-off").hidden = false;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      $("k-camera-off").hidden = true;
      document.body.dataset.camera = "on";
    } catch (e) {
      stream = null;
      $("k-camera-off").hidden = false;
      document.body.dataset.camera = "off";
    }
  }

  function grabFrame() {
    const video = $("k-video");
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!stream || !width || !height) return null;
    const scale = Math.min(1, 640 / Math.max(width, height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    let quality = 0.8;
    let data = canvas.toDataURL("image/jpeg", quality);
    while (data.length > 900 * 1024 && quality > 0.3) {
      quality -= 0.2;
      data = canvas.toDataURL("image/jpeg", quality);
    }
    return data.slice(data.indexOf(",") + 1);
  }

  $("k-face").addEventListener("click", () => {
    if (!connected()) {
      banner(t("face_offline"), "error");
      sounds.error();
      return;
    }
    const image = grabFrame();
    if (!image) {
      banner(t("camera_off"), "error");
      sounds.error();
      return;
    }
    const button = $("k-face");
    button.disabled = true;
    const release = () => { button.disabled = false; };
    banner(t("face_sent"), "queued", 10);
    report("identify", { image: image, format: "jpeg", purpose: "punch" }, {
      onAck: () => { release(); banner(t("face_sent"), "ok"); sounds.ok(); },
      onResult: (answer) => { release(); showResult(answer); },
      onError: () => { release(); banner(t("refused"), "error"); sounds.error(); },
      onOffline: () => { release(); banner(t("face_offline"), "error"); sounds.error(); },
    });
  });

  // --- PIN pad --------------------------------------------------------------------------------
  let pinTarget = null;
  function openPin() {
    $("pin-employee").value = "";
    $("pin-code").value = "";
    $("pin-error").textContent = "";
    $("pin-panel").hidden = false;
    pinTarget = $("pin-employee");
    pinTarget.focus();
  }
  function closePin() {
    $("pin-panel").hidden = true;
    $("pin-code").value = "";
  }
  $("k-pin").addEventListener("click", openPin);
  $("pin-cancel").addEventListener("click", closePin);
  ["pin-employee", "pin-code"].forEach((id) => {
    $(id).addEventListener("focus", () => { pinTarget = $(id); });
  });
  $("pin-employee").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      $("pin-code").focus();
    }
  });
  $("pin-code").addEventListener("input", () => {
    $("pin-code").value = $("pin-code").value.replace(/\D/g, "").slice(0, 8);
  });
  document.querySelectorAll("#pin-panel .key").forEach((key) => {
    key.addEventListener("click", () => {
      const input = pinTarget || $("pin-employee");
      const k = key.getAttribute("data-key");
      if (k === "clear") input.value = "";
      else if (k === "back") input.value = input.value.slice(0, -1);
      else if (input.value.length < Number(input.getAttribute("maxlength") || 32)) input.value += k;
      input.focus();
    });
  });
  $("pin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const employee = $("pin-employee").value.trim();
    const pin = $("pin-code").value;
    if (!employee || !/^[0-9]{4,8}$/.test(pin)) {
      $("pin-error").textContent = t("pin_invalid");
      sounds.error();
      return;
    }
    closePin();
    const person = (staff.staff || []).find((p) => p.employee_no === employee);
    const payload = { method: "pin", employee_no: employee, pin: pin, reason: "no face" };
    if (person) payload.staff = person.id;
    const name = person ? person.name + "\n" : "";
    report("punch", payload, {
      onAck: () => { banner(name + t("punch_ok"), "ok"); sounds.ok(); },
      onResult: (answer) => showResult(answer),
      onError: () => { banner(t("refused"), "error"); sounds.error(); },
      onQueued: () => { banner(name + t("punch_queued"), "queued", 4); sounds.ok(); },
    });
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("pin-panel").hidden) closePin();
  });

  // --- the network comes and goes -------------------------------------------------------------
  window.addEventListener("offline", () => {
    if (ws) {
      const socket = ws;
      ws = null;
      try { socket.close(); } catch (e) { /* gone */ }
      onClose(1006);
    }
  });
  window.addEventListener("online", () => {
    if (!stopped && credential && !ws) {
      attempts = 0;
      connect();
    }
  });
  $("notice-reconnect").addEventListener("click", () => {
    $("notice-reconnect").hidden = true;
    show("kiosk-screen");
    attempts = 0;
    connect();
  });

  // --- start ----------------------------------------------------------------------------------
  function start() {
    stopped = false;
    renderNames();
    renderStaff();
    show("kiosk-screen");
    startCamera();
    connect();
  }

  applyTexts();
  setInterval(renderClock, 1000);
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (code) {
    // The code leaves the address bar (and the history) at once.
    history.replaceState(null, "", location.pathname);
    show("pair-screen");
    $("pair-code").value = code;
    pair(code).then((ok) => {
      if (!ok && credential) start();
    });
  } else if (credential) {
    start();
  } else {
    showPairing(false);
  }
})();
