// The enrolment console's one script: find the officer's scanner (a MOSIP SBI 0.9.5 device
// service on this computer, 127.0.0.1 ports 4501-4600), have it capture the ten fingers the
// server asked for, show the quality of each, and forward the device's signed answer to the
// server, which verifies every signature again and decides. Nothing here is trusted by the server.
(() => {
  'use strict';
  const main = document.getElementById('main');
  if (!main || main.dataset.flow !== 'enrol') return;
  const button = document.getElementById('capture');
  if (!button) return;
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const cid = document.getElementById('person').dataset.cid;
  const status = document.getElementById('status');
  const fingers = document.getElementById('fingers');
  const say = (text) => { status.textContent = text; };
  // The page's strings, in the officer's language (the server renders them; see console_text).
  let strings = {};
  try { strings = JSON.parse(main.dataset.text || '{}'); } catch (_) { /* keys are shown instead */ }
  const tr = (key, args) => (strings[key] || key).replace(/\{(\w+)\}/g, (m, name) =>
    (args && Object.prototype.hasOwnProperty.call(args, name) ? String(args[name]) : m));
  const fingerName = (subType) => (strings.fingers || {})[subType] || subType || '?';

  async function postJson(path, body) {
    const r = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    let json = {};
    try { json = await r.json(); } catch (_) { /* not JSON */ }
    return { ok: r.ok, status: r.status, body: json };
  }

  // MOSIPDISC on each port until a registered finger device answers.
  async function discover() {
    for (let port = 4501; port <= 4600; port++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/device`, {
          method: 'MOSIPDISC',
          body: JSON.stringify({ type: 'Finger' }),
          signal: AbortSignal.timeout(1500),
        });
        if (!r.ok) continue;
        const list = await r.json();
        const d = Array.isArray(list) && list.find((x) => x.deviceStatus && x.deviceStatus !== 'Not Registered');
        if (d) return { port, device: d };
      } catch (_) { /* nothing listening here */ }
    }
    return null;
  }

  // The payload of a compact JWS, decoded for display only (the server verifies it).
  function payloadOf(jws) {
    const part = (jws || '').split('.')[1] || '';
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    try { return JSON.parse(atob(b64 + '==='.slice((b64.length + 3) % 4))); } catch (_) { return {}; }
  }

  function showFingers(response) {
    fingers.textContent = '';
    for (const b of response.biometrics || []) {
      const p = payloadOf(b.data);
      const li = document.createElement('li');
      li.textContent = tr('quality', { finger: fingerName(p.bioSubType), score: Math.round(p.qualityScore || 0) });
      fingers.appendChild(li);
    }
  }

  function showResult(outcome) {
    const result = document.getElementById('result');
    const title = document.getElementById('result-title');
    const text = document.getElementById('result-text');
    result.hidden = false;
    const code = outcome.activation_code;
    document.getElementById('activation-code').textContent = code || tr('no_code');
    document.getElementById('activation-url').textContent = outcome.activation_url || '';
    document.getElementById('activation-expires').textContent =
      outcome.expires_at ? new Date(outcome.expires_at * 1000).toLocaleString() : '';
    const qr = document.getElementById('activation-qr');
    if (outcome.qr) { qr.src = outcome.qr; qr.hidden = false; } else { qr.hidden = true; }
    const known = ['issued', 'verified', 'adjudication', 'not_matched'];
    const kind = known.includes(outcome.outcome) ? outcome.outcome : 'refused';
    title.textContent = tr(`${kind}_title`);
    text.textContent = tr(`${kind}_text`, { cid: outcome.cid, candidates: outcome.candidates });
    if (kind !== 'issued' && kind !== 'verified') {
      document.getElementById('activation-code').textContent = tr('none');
    }
  }

  async function run() {
    button.disabled = true;
    try {
      say(tr('looking'));
      const found = await discover();
      if (!found) { say(tr('no_scanner')); return; }
      const start = await postJson('/enrol/capture/start', { cid, kind: button.dataset.kind });
      if (!start.ok) { say(start.body.error || tr('server_refused', { status: start.status })); return; }
      const request = start.body.request;
      for (const bio of request.bio) bio.deviceId = found.device.deviceId;
      say(tr('place_fingers'));
      const r = await fetch(`http://127.0.0.1:${found.port}/capture`, { method: 'RCAPTURE', body: JSON.stringify(request) });
      const text = await r.text();
      let response;
      try { response = JSON.parse(text); } catch (_) { say(tr('not_capture')); return; }
      if (response.error && response.error.errorcode && response.error.errorcode !== '0') {
        say(tr('scanner_refused', { reason: response.error.errorinfo || response.error.errorcode })); return;
      }
      showFingers(response);
      say(tr('checking'));
      // The packet id is chosen once: a retried upload is recognised and never enrols twice.
      const packetId = crypto.randomUUID();
      let sent;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const resp = await fetch('/enrol/submit', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
            body: `{"packet_id":${JSON.stringify(packetId)},"transaction_id":${JSON.stringify(request.transactionId)},"response":${text}}`,
            credentials: 'same-origin',
          });
          sent = { ok: resp.ok, status: resp.status, body: await resp.json().catch(() => ({})) };
          break;
        } catch (_) {
          await new Promise((done) => setTimeout(done, 1000 * (attempt + 1)));
        }
      }
      if (!sent) { say(tr('unreachable')); return; }
      if (!sent.ok) { say(sent.body.error || tr('server_refused', { status: sent.status })); return; }
      say('');
      showResult(sent.body);
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener('click', () => { run(); });
})();
