/* The chat: the guide's conversation page, the shopper's chat page and the guide's inbox.
 *
 * One socket per page (/ws/chat/ for the guide, /ws/s/<brand>/chat/ for the shopper), reconnected
 * with a growing delay; what was missed while it was down is read from the history endpoint.
 * Sends go over the socket when it is open, else over HTTP; each carries a client id, so a resend
 * is stored once. */
(function () {
  "use strict";

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function newId() {
    var a = new Uint8Array(10);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function hhmm(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var now = new Date();
    var t = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    if (d.toDateString() === now.toDateString()) return t;
    return (d.getMonth() + 1) + "-" + d.getDate() + " " + t;
  }

  function safeUrl(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : "";
  }

  function Socket(path, onFrame, onState) {
    var self = this;
    self.ws = null;
    self.delay = 500;
    self.open = false;
    function connect() {
      var ws = new WebSocket(socketUrl(path));
      self.ws = ws;
      ws.onopen = function () {
        self.open = true;
        self.delay = 500;
        onState(true);
      };
      ws.onmessage = function (ev) {
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        onFrame(frame);
      };
      ws.onclose = function (ev) {
        self.open = false;
        onState(false);
        if (ev.code === 4401 || ev.code === 4403) return; // logged out or no longer allowed
        setTimeout(connect, self.delay);
        self.delay = Math.min(self.delay * 2, 15000);
      };
    }
    self.send = function (obj) {
      if (!self.open) return false;
      self.ws.send(JSON.stringify(obj));
      return true;
    };
    connect();
  }

  // --- the 消息 tab's badge counts up as a shopper writes (the page drew it at load) ----------------
  function bumpTab() {
    var tab = document.querySelector('.tabbar a[data-tab="messages"]');
    if (!tab) return;
    var badge = tab.querySelector(".tab-badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "tab-badge";
      badge.setAttribute("data-testid", "tab-badge-messages");
      tab.appendChild(badge);
    }
    var n = parseInt(badge.textContent, 10) || 0;
    badge.textContent = n >= 99 ? "99+" : String(n + 1);
  }

  // --- the inbox: rows move up and count unread as messages arrive -------------------------------
  function inbox(list) {
    new Socket(list.getAttribute("data-socket"), function (frame) {
      if (frame.type !== "message") return;
      var m = frame.message;
      var row = list.querySelector('[data-conv="' + m.conversation + '"]');
      if (!row) { location.reload(); return; }
      var preview = row.querySelector("[data-preview]");
      if (preview) preview.textContent = m.kind === "text" ? m.body : preview.textContent;
      var time = row.querySelector("time");
      if (time) time.textContent = hhmm(m.created_at);
      if (m.sender === "member") {
        var badge = row.querySelector("[data-unread]");
        badge.textContent = String((parseInt(badge.textContent, 10) || 0) + 1);
        badge.hidden = false;
        bumpTab();
      }
      var li = row.parentNode;
      li.parentNode.insertBefore(li, li.parentNode.firstChild);
    }, function (open) {
      list.setAttribute("data-live", open ? "1" : "0");
    });
  }

  // --- a conversation ---------------------------------------------------------------------------
  function chat(root) {
    var state = JSON.parse(document.getElementById("chat-state").textContent);
    var side = state.side;
    var convId = state.conversation;
    var marks = state.state; // guide_read_upto, member_read_upto, member_delivered_upto
    var t = function (k) { return root.getAttribute("data-t-" + k) || ""; };
    var list = document.getElementById("chat-list");
    var scroller = document.getElementById("chat-scroll");
    var earlier = document.getElementById("chat-earlier");
    var input = document.getElementById("chat-input");
    var status = document.getElementById("chat-status");
    var byId = {};
    var pending = {}; // client_id -> element
    var lastId = 0;
    var firstId = 0;

    function mine(m) {
      return side === "guide" ? m.sender !== "member" : m.sender === "member";
    }

    function atBottom() {
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    }

    function scrollDown() {
      scroller.scrollTop = scroller.scrollHeight;
      pinned = true;
    }
    // Pinned to the latest message until the reader scrolls up: images that load later keep it in view.
    var pinned = true;
    scroller.addEventListener("scroll", function () { pinned = atBottom(); }, { passive: true });
    list.addEventListener("load", function () { if (pinned) scrollDown(); }, true);

    function tick(m) {
      if (!m.id) return t("sending");
      if (side === "guide") {
        if (m.id <= marks.member_read_upto) return t("read");
        if (m.id <= marks.member_delivered_upto) return t("delivered");
        return t("sent");
      }
      return m.id <= marks.guide_read_upto ? t("read") : t("sent");
    }

    function card(m) {
      var d = m.data || {};
      var box = el("div", "chat-card chat-card-" + m.kind);
      box.setAttribute("data-testid", "card-" + m.kind);
      var url = safeUrl(d.url);
      if (m.kind === "product") {
        if (d.image) {
          var img = el("img");
          img.src = safeUrl(d.image) || d.image;
          img.alt = "";
          box.appendChild(img);
        }
        var info = el("div", "info");
        info.appendChild(el("div", "nm", d.name));
        info.appendChild(el("div", "price", d.price));
        box.appendChild(info);
      } else if (m.kind === "coupon") {
        box.appendChild(el("div", "nm", d.name));
        box.appendChild(el("div", "sum", d.summary));
      } else if (m.kind === "order") {
        box.appendChild(el("div", "nm", t("order") + " " + (d.number || "")));
        box.appendChild(el("div", "sum", (d.status_label || "") + " · " + (d.total || "")));
      }
      if (m.body) box.appendChild(el("div", "note", m.body));
      if (url) {
        var a = el("a", "go", m.kind === "product" ? t("view-product") : m.kind === "coupon" ? t("get-coupon") : t("view-order"));
        a.href = url;
        a.setAttribute("data-testid", "card-link");
        box.appendChild(a);
      }
      return box;
    }

    function render(m) {
      var li = el("li", "chat-msg" + (mine(m) ? " mine" : " theirs") + (m.sender === "system" || m.kind === "notice" ? " system" : ""));
      if (m.id) li.setAttribute("data-id", m.id);
      li.setAttribute("data-sender", m.sender);
      li.setAttribute("data-kind", m.kind);
      var bubble;
      if (m.kind === "image") {
        bubble = el("div", "bubble image");
        if (m.id && m.has_image) {
          var img = el("img");
          img.src = root.getAttribute("data-image-url").replace(/0\/$/, m.id + "/");
          img.alt = "";
          img.loading = "lazy";
          bubble.appendChild(img);
        }
      } else if (m.kind === "product" || m.kind === "coupon" || m.kind === "order") {
        bubble = card(m);
        bubble.classList.add("bubble");
      } else {
        bubble = el("div", "bubble", m.body);
      }
      if (m.sender === "auto" || m.sender === "brand") {
        li.appendChild(el("div", "who", m.sender === "auto" ? t("auto") : t("brand")));
      }
      li.appendChild(bubble);
      var meta = el("div", "meta");
      meta.appendChild(el("time", "", m.created_at ? hhmm(m.created_at) : ""));
      if (mine(m) && m.sender !== "auto") {
        var tk = el("span", "tick", tick(m));
        tk.setAttribute("data-testid", "tick");
        meta.appendChild(tk);
      }
      li.appendChild(meta);
      return li;
    }

    function place(m) {
      if (m.id && byId[m.id]) return byId[m.id];
      var li = render(m);
      if (m.client_id && pending[m.client_id] && mine(m)) {
        var old = pending[m.client_id];
        old.parentNode.replaceChild(li, old);
        delete pending[m.client_id];
      } else {
        var stick = atBottom();
        // Keep the order by id: a message that arrived late goes where it belongs.
        var after = null;
        if (m.id) {
          var items = list.querySelectorAll("li[data-id]");
          for (var i = items.length - 1; i >= 0; i--) {
            if (parseInt(items[i].getAttribute("data-id"), 10) < m.id) { after = items[i]; break; }
          }
          if (!after && items.length && parseInt(items[0].getAttribute("data-id"), 10) > m.id) {
            list.insertBefore(li, items[0]);
          } else if (after && after.nextSibling && after.nextSibling.hasAttribute && after.nextSibling.hasAttribute("data-id")) {
            list.insertBefore(li, after.nextSibling);
          } else {
            list.appendChild(li);
          }
        } else {
          list.appendChild(li);
        }
        if (stick || pinned || mine(m)) scrollDown();
      }
      if (m.id) {
        byId[m.id] = li;
        lastId = Math.max(lastId, m.id);
        firstId = firstId ? Math.min(firstId, m.id) : m.id;
      }
      return li;
    }

    function refreshTicks() {
      list.querySelectorAll("li.mine[data-id]").forEach(function (li) {
        var tk = li.querySelector(".tick");
        if (tk) tk.textContent = tick({ id: parseInt(li.getAttribute("data-id"), 10) });
      });
    }

    function markRead() {
      if (document.visibilityState !== "visible") return;
      var upto = 0;
      list.querySelectorAll("li.theirs[data-id]").forEach(function (li) {
        upto = Math.max(upto, parseInt(li.getAttribute("data-id"), 10));
      });
      var mark = side === "guide" ? marks.guide_read_upto : marks.member_read_upto;
      if (upto > mark) {
        var frame = { type: "read", upto: upto };
        if (side === "guide") frame.conversation = convId;
        if (socket.send(frame)) {
          if (side === "guide") marks.guide_read_upto = upto; else marks.member_read_upto = upto;
        }
      }
    }

    function showStatus(text) {
      status.textContent = text || "";
      status.hidden = !text;
    }

    function failed(clientId, message) {
      var li = pending[clientId];
      if (!li) { showStatus(message); return; }
      li.classList.add("failed");
      var tk = li.querySelector(".tick");
      if (tk) tk.textContent = t("failed");
      var why = el("div", "why", message);
      why.setAttribute("data-testid", "send-error");
      li.appendChild(why);
      delete pending[clientId];
    }

    function catchUp() {
      fetch(root.getAttribute("data-history-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          data.messages.forEach(place);
          markRead();
        });
    }

    var connectedBefore = false;
    var socket = new Socket(state.socket, function (frame) {
      if (frame.type === "message") {
        if (frame.message.conversation !== convId) return;
        place(frame.message);
        markRead();
      } else if (frame.type === "sent") {
        place(frame.message);
      } else if (frame.type === "read") {
        if (frame.conversation !== convId) return;
        if (frame.side === "member") {
          marks.member_read_upto = Math.max(marks.member_read_upto, frame.upto);
          marks.member_delivered_upto = Math.max(marks.member_delivered_upto, frame.upto);
        } else if (frame.side === "delivered") {
          marks.member_delivered_upto = Math.max(marks.member_delivered_upto, frame.upto);
        } else if (frame.side === "guide") {
          marks.guide_read_upto = Math.max(marks.guide_read_upto, frame.upto);
        }
        refreshTicks();
      } else if (frame.type === "error") {
        if (frame.client_id) failed(frame.client_id, frame.message);
        else showStatus(frame.message);
      }
    }, function (open) {
      root.setAttribute("data-live", open ? "1" : "0");
      showStatus(open ? "" : t("offline"));
      if (open) {
        if (connectedBefore) catchUp();
        connectedBefore = true;
        markRead();
      }
    });

    function post(url, body, isForm) {
      var headers = { "X-CSRFToken": csrf() };
      if (!isForm) headers["Content-Type"] = "application/json";
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: headers,
        body: isForm ? body : JSON.stringify(body),
      }).then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; }, function () {
          return { ok: false, data: { error: { message: document.body.getAttribute("data-error-text") } } };
        });
      });
    }

    function send(fields) {
      var clientId = newId();
      var draft = { sender: side === "guide" ? "guide" : "member", kind: fields.kind, body: fields.body || "", data: {}, client_id: clientId };
      if (fields.kind === "text") pending[clientId] = place(draft);
      else pending[clientId] = place({ sender: draft.sender, kind: "text", body: "…", client_id: clientId });
      var frame = { type: "send", client_id: clientId, kind: fields.kind, body: fields.body || "" };
      if (fields.target) frame.target = fields.target;
      if (side === "guide") frame.conversation = convId;
      if (!socket.send(frame)) {
        post(root.getAttribute("data-send-url"), frame).then(function (res) {
          if (res.ok) place(res.data.message);
          else failed(clientId, res.data.error ? res.data.error.message : "");
        });
      }
    }

    document.getElementById("chat-composer").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = input.value.trim();
      if (!body) return;
      input.value = "";
      autosize();
      send({ kind: "text", body: body });
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && window.matchMedia("(min-width: 900px)").matches) {
        ev.preventDefault();
        document.getElementById("chat-composer").requestSubmit();
      }
    });
    function autosize() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 120) + "px";
    }
    input.addEventListener("input", autosize);

    // Images: uploaded over HTTP (checked and re-encoded on the server), then shown to both sides.
    var fileInput = document.getElementById("chat-image-input");
    if (fileInput) {
      fileInput.addEventListener("change", function () {
        var file = fileInput.files && fileInput.files[0];
        if (!file) return;
        closeSheets();
        var clientId = newId();
        pending[clientId] = place({ sender: side === "guide" ? "guide" : "member", kind: "text", body: "…", client_id: clientId });
        var form = new FormData();
        form.append("image", file);
        form.append("client_id", clientId);
        post(root.getAttribute("data-upload-url"), form, true).then(function (res) {
          if (res.ok) place(res.data.message);
          else failed(clientId, res.data.error ? res.data.error.message : "");
        });
        fileInput.value = "";
      });
    }

    earlier.addEventListener("click", function () {
      var url = root.getAttribute("data-history-url") + "?before=" + firstId;
      earlier.disabled = true;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var height = scroller.scrollHeight;
          data.messages.forEach(place);
          scroller.scrollTop = scroller.scrollHeight - height;
          earlier.hidden = !data.more;
          earlier.disabled = false;
        });
    });

    // Sheets (guide): tools, pickers, quick replies.
    function closeSheets() {
      root.querySelectorAll(".chat-sheet").forEach(function (s) { s.hidden = true; });
    }
    function openSheet(id) {
      var sheet = document.getElementById(id);
      var wasHidden = sheet.hidden;
      closeSheets();
      sheet.hidden = !wasHidden;
    }
    root.addEventListener("click", function (ev) {
      var toggle = ev.target.closest("[data-sheet]");
      if (toggle) { openSheet(toggle.getAttribute("data-sheet")); return; }
      if (ev.target.closest("[data-close]")) { closeSheets(); return; }
      var canned = ev.target.closest("[data-canned]");
      if (canned) {
        input.value = canned.getAttribute("data-canned");
        autosize();
        closeSheets();
        input.focus();
        return;
      }
      var pickBtn = ev.target.closest("[data-pick]");
      if (pickBtn) { picker(pickBtn.getAttribute("data-pick")); return; }
      var item = ev.target.closest("[data-target]");
      if (item) {
        closeSheets();
        send({ kind: item.getAttribute("data-kind"), target: parseInt(item.getAttribute("data-target"), 10) });
      }
    });

    var pickKind = { products: "product", coupons: "coupon", orders: "order" };
    var pickQ = document.getElementById("chat-picker-q");
    function picker(what, q) {
      var base = root.getAttribute("data-pick-url");
      if (!base) return;
      var url = base.replace(/products\/$/, what + "/") + (q ? "?q=" + encodeURIComponent(q) : "");
      var sheet = document.getElementById("chat-picker");
      var titles = document.getElementById("chat-pick-titles").content;
      document.getElementById("chat-picker-title").textContent = titles.querySelector('[data-k="' + what + '"]').textContent;
      pickQ.hidden = what !== "products";
      pickQ.setAttribute("data-what", what);
      if (q === undefined) pickQ.value = "";
      closeSheets();
      sheet.hidden = false;
      var ul = document.getElementById("chat-pick-list");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          ul.textContent = "";
          if (!data.items.length) ul.appendChild(el("li", "empty-line", t("nothing")));
          data.items.forEach(function (it) {
            var li = el("li");
            var b = el("button", "chat-pick");
            b.type = "button";
            b.setAttribute("data-target", it.id);
            b.setAttribute("data-kind", pickKind[what]);
            b.setAttribute("data-testid", "pick-" + it.id);
            if (it.image) {
              var img = el("img");
              img.src = it.image;
              img.alt = "";
              b.appendChild(img);
            }
            var txt = el("span", "txt");
            txt.appendChild(el("span", "t", it.title));
            txt.appendChild(el("span", "s", it.sub));
            b.appendChild(txt);
            li.appendChild(b);
            ul.appendChild(li);
          });
        });
    }
    if (pickQ) {
      var timer = null;
      pickQ.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { picker("products", pickQ.value); }, 250);
      });
    }

    // The member panel: beside the chat on a desktop, a drawer on a phone.
    document.querySelectorAll("[data-panel-toggle]").forEach(function (b) {
      b.addEventListener("click", function () {
        var open = document.body.classList.toggle("chat-panel-open");
        document.querySelectorAll(".chat-panel-toggle").forEach(function (x) { x.setAttribute("aria-expanded", open ? "true" : "false"); });
      });
    });

    document.addEventListener("visibilitychange", markRead);
    state.messages.forEach(place);
    scrollDown();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("chat");
    if (root) chat(root);
    var list = document.getElementById("chat-inbox");
    if (list) inbox(list);
  });
})();
