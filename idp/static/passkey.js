// Passkey ceremonies for the login, activation, account and signing-approval pages. The server sends WebAuthn
// options as JSON (base64url binary fields, in a {publicKey} wrapper) and receives the
// credential back as JSON. No other script runs on these pages.
"use strict";
(function () {
  const main = document.getElementById("main");
  const flow = main && main.dataset.flow;
  const status = document.getElementById("status");
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const b64d = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const b64e = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const say = (key, text) => { if (status) status.textContent = text || status.dataset[key] || ""; };

  async function post(url, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || "failed");
    return j;
  }

  async function create(options) {
    const pk = options.publicKey;
    pk.challenge = b64d(pk.challenge);
    pk.user.id = b64d(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = b64d(c.id); });
    const c = await navigator.credentials.create({ publicKey: pk });
    return { id: c.id, rawId: b64e(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: { attestationObject: b64e(c.response.attestationObject), clientDataJSON: b64e(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : [] } };
  }

  async function get(options) {
    const pk = options.publicKey;
    pk.challenge = b64d(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = b64d(c.id); });
    const c = await navigator.credentials.get({ publicKey: pk });
    const r = c.response;
    return { id: c.id, rawId: b64e(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: { authenticatorData: b64e(r.authenticatorData), clientDataJSON: b64e(r.clientDataJSON),
        signature: b64e(r.signature), userHandle: r.userHandle ? b64e(r.userHandle) : null } };
  }

  async function run(fn) {
    if (!window.PublicKeyCredential) { say("unsupported"); return; }
    say("working");
    try {
      const out = await fn();
      if (out && out.redirect) window.location.assign(out.redirect);
    } catch (e) {
      if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) say("cancelled");
      else say("failed", e && e.message && e.message !== "failed" ? e.message : "");
    }
  }

  async function login(cid) {
    const req = main.dataset.req || "";
    const start = await post("/login/passkey/start", { req: req, cid: cid || null });
    const credential = await get(start.options);
    return post("/login/passkey/finish", { ceremony: start.ceremony, req: req, credential: credential });
  }

  if (flow === "login") {
    document.getElementById("passkey-login").addEventListener("click", () => run(() => login(null)));
    document.getElementById("cid-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run(() => login(document.getElementById("cid").value.trim()));
    });
  } else if (flow === "sign") {
    document.getElementById("sign-approve").addEventListener("click", () => run(async () => {
      const req = main.dataset.req || "";
      const start = await post("/sign/approve/start", { req: req });
      const credential = await get(start.options);
      return post("/sign/approve/finish", { ceremony: start.ceremony, req: req, credential: credential });
    }));
  } else if (flow === "activate") {
    document.getElementById("activate-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run(async () => {
        const start = await post("/activate/start", { cid: document.getElementById("cid").value.trim(),
          code: document.getElementById("code").value });
        const credential = await create(start.options);
        return post("/activate/finish", { ceremony: start.ceremony, name: document.getElementById("name").value, credential: credential });
      });
    });
  } else if (flow === "account") {
    document.getElementById("add-passkey").addEventListener("click", () => run(async () => {
      const start = await post("/account/passkeys/start", {});
      const credential = await create(start.options);
      return post("/account/passkeys/finish", { ceremony: start.ceremony, name: "", credential: credential });
    }));
  }
})();
