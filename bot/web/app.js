/* Teman Migrasi – facilitator demo page.
 * Talks to Rasa's REST channel on the same origin. Bot text is never inserted as HTML:
 * it is turned into DOM nodes (text nodes + <strong>/<em>/<s>/<a>) so nothing can inject
 * markup or script. No build step, no external libraries. */
(function () {
  "use strict";

  var REST_URL = "/webhooks/rest/webhook";
  var SENDER_KEY = "temanMigrasi.sender";
  var PROJECTOR_KEY = "temanMigrasi.projector";
  var TIMEOUT_MS = 60000;
  var STEP_PAUSE_MS = 700;
  var ERROR_TEXT = "Maaf, Teman Migrasi belum bisa menjawab sekarang. " +
    "Periksa koneksi ke server, lalu coba lagi ya.";
  var WELCOME_TEXT = "Halo! Tanyakan apa saja tentang kerja ke luar negeri yang aman dan resmi. " +
    "Pilih pertanyaan cepat di bawah atau ketik sendiri.";

  var log = document.getElementById("chat-log");
  var form = document.getElementById("message-form");
  var input = document.getElementById("message-input");
  var sendButton = document.getElementById("send-button");
  var typing = document.getElementById("typing-indicator");
  var resetButton = document.getElementById("reset-button");
  var projectorToggle = document.getElementById("projector-toggle");
  var scenarioList = document.getElementById("scenario-list");
  var scenarioStatus = document.getElementById("scenario-status");
  var photoInput = document.getElementById("photo-input");
  var OCR_URL = "ocr";
  var PHOTO_PREVIEW_CHARS = 300;
  var PHOTO_ERROR_TEXT = "Maaf, fotonya belum bisa dibaca sekarang. Coba lagi, atau salin teks iklannya ke sini ya.";

  // Every reset bumps the generation: late answers for the old conversation are dropped.
  var generation = 0;
  var pending = 0;
  var queue = Promise.resolve();
  var scenarioRunning = false;

  /* ---------- sender id ---------- */
  // "demo-" + 24 hex chars: never in a phone channel's namespace ("wa:", "tw:"), which
  // the REST channel refuses, and short enough for its 128-character limit.
  var SENDER_RE = /^demo-[0-9a-f]{24}$/;

  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes); // works on plain http (LAN) too, unlike randomUUID
    return "demo-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function storageGet(store, key) {
    try { return window[store].getItem(key); } catch (e) { return null; }
  }

  function storageSet(store, key, value) {
    try { window[store].setItem(key, value); } catch (e) { /* private mode: memory only */ }
  }

  var stored = storageGet("sessionStorage", SENDER_KEY);
  var sender = (stored && SENDER_RE.test(stored)) ? stored : randomId();
  storageSet("sessionStorage", SENDER_KEY, sender);

  /* ---------- safe WhatsApp-style formatting ---------- */
  var INLINE = new RegExp(
    "(?<![\\w*])\\*{1,2}(?!\\s)([^*\\n]+?)(?<!\\s)\\*{1,2}(?![\\w*])" + // *bold* / **bold**
    "|(?<![\\w_])_(?!\\s)([^_\\n]+?)(?<!\\s)_(?![\\w_])" +             // _italic_
    "|(?<![\\w~])~(?!\\s)([^~\\n]+?)(?<!\\s)~(?![\\w~])" +             // ~strike~
    "|(https?:\\/\\/[^\\s<>\"]*[^\\s<>\".,;:!?)\\]])",                    // links
    "g");

  function appendInline(parent, text) {
    var re = new RegExp(INLINE.source, "g"); // own state: this function recurses
    var last = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      if (match.index > last) {
        parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      var node;
      if (match[1] !== undefined) {
        node = document.createElement("strong");
        appendInline(node, match[1]);
      } else if (match[2] !== undefined) {
        node = document.createElement("em");
        appendInline(node, match[2]);
      } else if (match[3] !== undefined) {
        node = document.createElement("s");
        appendInline(node, match[3]);
      } else {
        node = document.createElement("a");
        node.href = match[4];
        node.textContent = match[4];
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      }
      parent.appendChild(node);
      last = re.lastIndex;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function formatInto(parent, text) {
    String(text).split(/\r?\n/).forEach(function (line, i) {
      if (i > 0) { parent.appendChild(document.createElement("br")); }
      appendInline(parent, line);
    });
  }

  /* ---------- chat rendering ---------- */
  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function addBubble(kind, text) {
    var bubble = document.createElement("div");
    bubble.className = "bubble " + kind + "-bubble";
    bubble.setAttribute("data-testid", kind + "-bubble");
    if (kind === "user") {
      bubble.textContent = text; // user text: plain, exactly as typed
    } else {
      formatInto(bubble, text);
    }
    log.appendChild(bubble);
    scrollToEnd();
    return bubble;
  }

  function addButtons(buttons) {
    var group = document.createElement("div");
    group.className = "bot-buttons";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Pilihan jawaban");
    buttons.forEach(function (b) {
      // Payloads are plain words: the button shows its title, sends its payload as text
      // (exactly like a WhatsApp reply button) and the chat shows the title.
      var title = String(b.title || b.payload || "").trim();
      if (!title) { return; }
      var payload = String(b.payload || "").trim() || title;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply bot-button";
      button.setAttribute("data-testid", "bot-button");
      button.setAttribute("data-payload", payload);
      button.textContent = title;
      button.addEventListener("click", function () {
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (el) {
          el.disabled = true;
        });
        send(payload, title);
      });
      group.appendChild(button);
    });
    log.appendChild(group);
    scrollToEnd();
  }

  function renderBotMessage(msg) {
    if (msg.text) { addBubble("bot", msg.text); }
    if (msg.image) {
      // CSP allows only local images, so external pictures become a link.
      addBubble("bot", "Gambar: " + msg.image);
    }
    if (msg.attachment) { addBubble("bot", "Lampiran: " + String(msg.attachment)); }
    if (Array.isArray(msg.buttons) && msg.buttons.length) { addButtons(msg.buttons); }
  }

  function setBusy(delta) {
    pending = Math.max(0, pending + delta);
    var busy = pending > 0;
    typing.hidden = !busy;
    sendButton.disabled = busy;
    log.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /* ---------- talking to Rasa ---------- */
  function postToRasa(senderId, message) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(REST_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: senderId, message: message }),
      signal: controller.signal
    }).then(function (resp) {
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      return resp.json();
    }).finally(function () { clearTimeout(timer); });
  }

  /* Sends one message (serialised after earlier ones). Resolves true if the bot answered. */
  function send(message, shownText) {
    var text = String(message || "").trim();
    if (!text) { return Promise.resolve(false); }
    var myGeneration = generation;
    addBubble("user", shownText || text);
    setBusy(1);
    var result = queue.then(function () {
      if (myGeneration !== generation) { return false; }
      return postToRasa(sender, text).then(function (messages) {
        if (myGeneration !== generation) { return false; }
        (Array.isArray(messages) ? messages : []).forEach(renderBotMessage);
        return true;
      }, function () {
        if (myGeneration === generation) { addBubble("error", ERROR_TEXT); }
        return false;
      });
    }).finally(function () { setBusy(-1); });
    queue = result.catch(function () { return false; });
    return result;
  }

  /* ---------- scenarios ---------- */
  function setScenarioStatus(state, text) {
    scenarioStatus.setAttribute("data-state", state);
    scenarioStatus.textContent = text;
  }

  function setScenarioButtons(disabled) {
    Array.prototype.forEach.call(document.querySelectorAll(".scenario-button"), function (b) {
      b.disabled = disabled;
    });
  }

  function pause(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function runScenario(scenario) {
    if (scenarioRunning) { return Promise.resolve(); }
    scenarioRunning = true;
    setScenarioButtons(true);
    var myGeneration = generation;
    addBubble("note", "Catatan fasilitator: " + scenario.note);
    var steps = scenario.steps.slice();
    var index = 0;

    function next() {
      if (myGeneration !== generation) { return Promise.resolve("cancelled"); }
      if (index >= steps.length) { return Promise.resolve("done"); }
      index += 1;
      setScenarioStatus("running", "Skenario \u201c" + scenario.title + "\u201d: langkah " +
        index + " dari " + steps.length);
      return send(steps[index - 1]).then(function (ok) {
        if (!ok) { return myGeneration !== generation ? "cancelled" : "error"; }
        return index < steps.length ? pause(STEP_PAUSE_MS).then(next) : "done";
      });
    }

    return next().then(function (outcome) {
      if (outcome === "done") {
        setScenarioStatus("done", "Skenario \u201c" + scenario.title + "\u201d selesai \u2714");
      } else if (outcome === "error") {
        setScenarioStatus("error", "Skenario berhenti karena server tidak menjawab.");
      } else {
        setScenarioStatus("idle", "");
      }
    }).finally(function () {
      scenarioRunning = false;
      setScenarioButtons(false);
    });
  }

  function renderScenarios(data) {
    var scenarios = (data && Array.isArray(data.scenarios)) ? data.scenarios : [];
    scenarios.forEach(function (scenario) {
      var item = document.createElement("li");
      item.className = "scenario-item";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "scenario-button";
      button.setAttribute("data-testid", "scenario-button");
      button.setAttribute("data-scenario-id", scenario.id);
      button.textContent = "\u25B6 " + scenario.title;
      button.addEventListener("click", function () { runScenario(scenario); });
      var note = document.createElement("p");
      note.className = "scenario-note";
      note.textContent = scenario.note;
      item.appendChild(button);
      item.appendChild(note);
      scenarioList.appendChild(item);
    });
    if (!scenarios.length) {
      setScenarioStatus("error", "Daftar skenario kosong.");
    }
  }

  function loadScenarios() {
    fetch("scenarios.json", { cache: "no-cache" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(renderScenarios)
      .catch(function () { setScenarioStatus("error", "Skenario gagal dimuat."); });
  }

  /* ---------- controls ---------- */
  function setProjector(on) {
    document.body.classList.toggle("projector", on);
    document.documentElement.classList.toggle("projector-root", on);
    projectorToggle.setAttribute("aria-pressed", on ? "true" : "false");
    storageSet("localStorage", PROJECTOR_KEY, on ? "1" : "0");
  }

  /* A reset only starts a new conversation under a new random sender id: no chat
   * message is sent (nothing typed or clicked is a command). */
  function resetConversation() {
    generation += 1;
    queue = Promise.resolve();
    sender = randomId();
    storageSet("sessionStorage", SENDER_KEY, sender);
    log.textContent = "";
    setScenarioStatus("idle", "");
    addBubble("note", "Percakapan baru dimulai.");
    input.value = "";
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { return; }
    input.value = "";
    send(text);
    input.focus();
  });

  Array.prototype.forEach.call(
    document.querySelectorAll("#quick-replies .quick-reply"),
    function (chip) {
      chip.addEventListener("click", function () { send(chip.textContent.trim()); });
    });

  /* ---------- photo of a job advert ---------- */
  // The image goes to /demo/ocr (read in memory, not stored); the text read from it is
  // then sent like a pasted advert, so the same offer check answers.
  function sendPhoto(file) {
    var myGeneration = generation;
    setBusy(1);
    return fetch(OCR_URL, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: file
    }).then(function (resp) {
      return resp.json();
    }).then(function (body) {
      if (myGeneration !== generation) { return; }
      var text = String((body && body.text) || "").trim();
      if (text) {
        var preview = text.length > PHOTO_PREVIEW_CHARS ?
          text.slice(0, PHOTO_PREVIEW_CHARS) + "…" : text;
        send(text, "\uD83D\uDCF7 Foto: " + file.name + "\nTeks yang terbaca: " + preview);
      } else {
        addBubble("user", "\uD83D\uDCF7 Foto: " + file.name);
        addBubble("bot", String((body && body.reply) || PHOTO_ERROR_TEXT));
      }
    }).catch(function () {
      if (myGeneration === generation) { addBubble("error", PHOTO_ERROR_TEXT); }
    }).finally(function () { setBusy(-1); });
  }

  photoInput.addEventListener("change", function () {
    var file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (file) { sendPhoto(file); }
  });

  projectorToggle.addEventListener("click", function () {
    setProjector(!document.body.classList.contains("projector"));
  });
  resetButton.addEventListener("click", resetConversation);

  setProjector(storageGet("localStorage", PROJECTOR_KEY) === "1");
  addBubble("note", WELCOME_TEXT);
  loadScenarios();

  // Small hook for tests and facilitators' console: read-only info, no controls.
  window.temanMigrasiDemo = { senderId: function () { return sender; } };
})();
