/* Runs bot/web/app.js in Node with a tiny fake DOM and a recording fetch, then prints a
 * JSON report for tests/bot/test_channel_demo_page.py. Usage:
 *   node demo_page_harness.js <path/to/app.js> [stored sender id]
 */
"use strict";

const fs = require("fs");
const vm = require("vm");
const nodeCrypto = require("crypto");

const [appPath, storedSender] = process.argv.slice(2);

class ClassList {
  constructor() { this.set = new Set(); }
  toggle(name, on) { if (on === undefined ? !this.set.has(name) : on) { this.set.add(name); } else { this.set.delete(name); } }
  contains(name) { return this.set.has(name); }
  add(name) { this.set.add(name); }
}

class Node {
  constructor(tag, text) {
    this.tagName = tag;
    this.children = [];
    this.attributes = {};
    this.listeners = {};
    this.classList = new ClassList();
    this.className = "";
    this.hidden = false;
    this.disabled = false;
    this.value = "";
    this._text = text || "";
  }
  appendChild(child) { this.children.push(child); return child; }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return this.attributes[name]; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  dispatch(type) { (this.listeners[type] || []).forEach((fn) => fn({ preventDefault() {} })); }
  click() { this.dispatch("click"); }
  focus() {}
  set textContent(value) { this.children = []; this._text = String(value); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  all() { return this.children.concat(...this.children.map((c) => c.all())); }
  querySelectorAll(selector) {
    if (selector === "button") { return this.all().filter((n) => n.tagName === "button"); }
    throw new Error("unsupported selector " + selector);
  }
}

const ids = ["chat-log", "message-form", "message-input", "send-button", "typing-indicator",
  "reset-button", "projector-toggle", "scenario-list", "scenario-status", "photo-input"];
const elements = {};
ids.forEach((id) => { elements[id] = new Node(id); });
const chip = new Node("button", "Nomor SI-SAGA");
const body = new Node("body");

const document = {
  body,
  documentElement: new Node("html"),
  getElementById: (id) => elements[id],
  createElement: (tag) => new Node(tag),
  createTextNode: (text) => new Node("#text", text),
  querySelectorAll: (selector) => {
    if (selector === "#quick-replies .quick-reply") { return [chip]; }
    if (selector === ".scenario-button") { return []; }
    throw new Error("unsupported selector " + selector);
  },
};

const stores = { sessionStorage: new Map(), localStorage: new Map() };
if (storedSender) { stores.sessionStorage.set("temanMigrasi.sender", storedSender); }
function storage(map) {
  return { getItem: (k) => (map.has(k) ? map.get(k) : null), setItem: (k, v) => map.set(k, String(v)) };
}

const requests = [];
let nextAnswer = [];
function fetch(url, options) {
  if (url === "scenarios.json") {
    return Promise.resolve({ ok: true, json: () => Promise.resolve({ scenarios: [] }) });
  }
  const sent = JSON.parse(options.body);
  requests.push({ url, method: options.method, body: sent });
  const answer = nextAnswer.map((m) => Object.assign({ recipient_id: sent.sender }, m));
  nextAnswer = [];
  return Promise.resolve({ ok: true, json: () => Promise.resolve(answer) });
}

const window = {
  crypto: { getRandomValues: (arr) => nodeCrypto.webcrypto.getRandomValues(arr) },
  sessionStorage: storage(stores.sessionStorage),
  localStorage: storage(stores.localStorage),
};
const context = vm.createContext({
  window, document, fetch, AbortController, setTimeout, clearTimeout, Promise, console,
});
vm.runInContext(fs.readFileSync(appPath, "utf8"), context, { filename: "app.js" });

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
const bubbles = (kind) => elements["chat-log"].all()
  .filter((n) => n.className === "bubble " + kind + "-bubble").map((n) => n.textContent);

(async () => {
  const report = {};
  const api = window.temanMigrasiDemo;
  report.initialSender = api.senderId();
  report.storedSender = stores.sessionStorage.get("temanMigrasi.sender");

  // The bot answers with buttons whose payloads are words (and one legacy "/affirm").
  nextAnswer = [{ text: "Boleh aku teruskan?", buttons: [
    { title: "Ya, teruskan", payload: "ya, teruskan ke petugas" },
    { title: "Tidak usah", payload: "/affirm" },
    { title: "Lewati" },
  ] }];
  elements["message-input"].value = "/choose_entry{\"entry_id\":\"x\"}";
  elements["message-form"].dispatch("submit");
  await tick();
  const buttons = elements["chat-log"].all().filter((n) => n.tagName === "button");
  report.buttons = buttons.map((b) => ({ title: b.textContent, payload: b.getAttribute("data-payload") }));
  buttons[0].click();
  await tick();
  report.buttonsDisabled = buttons.map((b) => b.disabled);
  await tick();

  report.userBubblesBeforeReset = bubbles("user");
  const before = requests.length;
  const oldSender = api.senderId();
  elements["reset-button"].click();
  await tick();
  report.requestsDuringReset = requests.slice(before);
  report.senderAfterReset = api.senderId();
  report.oldSender = oldSender;
  report.storedAfterReset = stores.sessionStorage.get("temanMigrasi.sender");
  chip.click();
  await tick();
  report.requests = requests;
  report.userBubbles = bubbles("user");
  report.noteBubbles = bubbles("note");
  process.stdout.write(JSON.stringify(report));
})().catch((err) => { console.error(err); process.exit(1); });
