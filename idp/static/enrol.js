// The enrolment console's one script: find the officer's scanner (a MOSIP SBI 0.9.5 device
// service on this computer, 127.0.0.1 ports 4501-4600), have it capture the ten fingers the
// server asked for, show the quality of each; then find the camera (a Face device on the same
// ports), have it take the face photo the server asked for, show it with its quality; and
// forward both devices' signed answers to the server in one submission, which verifies every
// signature again and decides. Nothing here is trusted by the server.
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
  const face = document.getElementById('face');
  const facePhoto = document.getElementById('face-photo');
  const faceQuality = document.getElementById('face-quality');
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

  // MOSIPDISC on each port until a registered device of `type` (Finger, Face) answers.
  async function discover(type) {
    for (let port = 4501; port <= 4600; port++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/device`, {
          method: 'MOSIPDISC',
          body: JSON.stringify({ type }),
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

  // The photo inside a face capture, for the officer to check (ISO/IEC 19794-5: a 14-byte
  // header, a 20-byte facial information block, 8 bytes per feature point, a 12-byte image
  // information block whose second byte is the image type, 0 JPEG, then the image). Shown as a
  // data: URL, as the QR code is: the console's policy allows no other image source.
  function showFace(response) {
    const p = payloadOf(((response.biometrics || [])[0] || {}).data);
    const score = Math.round(p.qualityScore || 0);
    let bytes;
    try {
      const b64 = (p.bioValue || '').replace(/-/g, '+').replace(/_/g, '/');
      bytes = atob(b64 + '==='.slice((b64.length + 3) % 4));
    } catch (_) { bytes = ''; }
    const at = bytes.length > 20 ? 34 + 8 * ((bytes.charCodeAt(18) << 8) | bytes.charCodeAt(19)) : 0;
    const jpeg = bytes.startsWith('FAC\0') && bytes.length > at + 12 && bytes.charCodeAt(at + 1) === 0;
    if (jpeg) {
      facePhoto.src = `data:image/jpeg;base64,${btoa(bytes.slice(at + 12))}`;
      facePhoto.hidden = false;
      faceQuality.textContent = tr('face_quality', { score });
    } else {
      facePhoto.removeAttribute('src');
      facePhoto.hidden = true;
      faceQuality.textContent = tr('no_preview', { score });
    }
    face.hidden = false;
  }

  // The camera's answer to the server's face request, or null (with the reason said) when
  // there is no photo. A missing camera only stops the capture when the photo is required.
  async function takeFace(start) {
    say(tr('looking_camera'));
    const camera = await discover('Face');
    if (!camera) {
      if (start.face_required) { say(tr('no_camera')); return { stop: true }; }
      return { photo: null };
    }
    const request = start.face;
    for (const bio of request.bio) bio.deviceId = camera.device.deviceId;
    say(tr('look_at_camera'));
    const r = await fetch(`http://127.0.0.1:${camera.port}/capture`, { method: 'RCAPTURE', body: JSON.stringify(request) });
    const text = await r.text();
    let response;
    try { response = JSON.parse(text); } catch (_) { say(tr('not_capture')); return { stop: true }; }
    if (response.error && response.error.errorcode && response.error.errorcode !== '0') {
      say(tr('camera_refused', { reason: response.error.errorinfo || response.error.errorcode }));
      return { stop: true };
    }
    showFace(response);
    return { photo: { transactionId: request.transactionId, text } };
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
      face.hidden = true;
      const found = await discover('Finger');
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
      const taken = await takeFace(start.body);
      if (taken.stop) return;
      say(tr('checking'));
      // Both answers verbatim (the server checks the devices' signatures over them).
      const facePart = taken.photo
        ? `,"face":{"transaction_id":${JSON.stringify(taken.photo.transactionId)},"response":${taken.photo.text}}`
        : '';
      // The packet id is chosen once: a retried upload is recognised and never enrols twice.
      const packetId = crypto.randomUUID();
      let sent;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const resp = await fetch('/enrol/submit', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
            body: `{"packet_id":${JSON.stringify(packetId)},"transaction_id":${JSON.stringify(request.transactionId)},"response":${text}${facePart}}`,
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
