"""``GET /``: a page from which anyone calls the embedded agent with their own browser.

It speaks the server's own endpoints (JSON offer/answer or WHIP), plays the
agent, and shows the level and dominant frequency of what arrives (WebAudio).

Query parameters (also what the browser tests use):
``call=json|whip`` dials on load; ``raw=1``
turns off the browser's echo cancellation and noise suppression (they eat test tones);
``seconds=N`` measures for N seconds, then, with ``report=/same/origin/path``,
POSTs ``{mode, ok, error, peak_hz, level_dbfs, connection_state, stats}`` there
(``stats`` is the browser's own ``getStats()``) and hangs up. A bearer token goes in
the page's field; ``token=…`` in the address still works but the page warns and
takes it out of the address bar (addresses end up in history and logs).

``report=`` must stay on this page's origin (a crafted link must not make a
visitor's browser post its stats elsewhere): the server refuses any other with 400
and the page checks again with the browser's own URL parser. The page is sent with
a Content-Security-Policy that allows only its own inline script and style and
requests to its own origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urljoin, urlsplit

from aiohttp import web

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VoiceDesk agent</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  @media (prefers-color-scheme: dark) { body { background: #1b1b1d; color: #e6e6e6; } }
  fieldset { border: 1px solid #8884; border-radius: 6px; }
  button { font-size: 1rem; padding: .4rem 1.2rem; }
  #state { font-weight: 600; }
  meter { width: 100%; }
  code { font-size: .9em; }
  .error { color: #c0392b; }
</style>
</head>
<body>
<h1>VoiceDesk agent</h1>
<p>Calls this server's agent from your browser over WebRTC. Allow the microphone when asked.</p>
<fieldset>
  <legend>Signaling</legend>
  <label><input type="radio" name="mode" value="json" checked>
    JSON offer/answer (<code>POST /api/voice/offer</code>)</label><br>
  <label><input type="radio" name="mode" value="whip"> WHIP (<code>POST /whip</code>)</label><br>
  <label>Bearer token (if the server has one): <input id="token" type="password" autocomplete="off"></label><br>
  <label><input id="raw" type="checkbox"> Raw microphone (no echo cancellation or noise suppression:
    for test tones; use headphones)</label>
</fieldset>
<p><button id="call">Call</button> <button id="hangup" disabled>Hang up</button>
   <span id="state">idle</span></p>
<p>Received: <meter id="level" min="-80" max="0" value="-80"></meter>
   <span id="levelText">–</span> dBFS, peak <span id="peak">–</span> Hz</p>
<p id="error" class="error"></p>
<p id="warning" class="error"></p>
<audio id="remote" autoplay></audio>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
let pc = null, stream = null, resource = null, audioContext = null, analyser = null, timer = null;
const peaks = [], levels = [];

function setState(text) { $("state").textContent = text; }
function showError(text) { $("error").textContent = text; setState("failed"); }
function headers(extra) {
  const h = Object.assign({}, extra);
  const token = $("token").value;
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}
// resolve as this browser does ("/\\evil.example" and "/<tab>/evil.example" are other origins
// although they start with one "/"), then keep only this page's own origin
function sameOrigin(target) {
  if (!target || !target.startsWith("/")) return null;
  try {
    const url = new URL(target, location.href);
    return url.origin === location.origin ? url.href : null;
  } catch (e) { return null; }
}
async function errorText(response) {
  const body = await response.text();
  try {
    const data = JSON.parse(body);
    return [data.title, data.detail, data.error].filter(Boolean).join(": ") || body;
  } catch (e) { return body; }
}
function gatheringComplete(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}
async function signal(mode, offer) {
  if (mode === "whip") {
    const r = await fetch("/whip", {method: "POST", body: offer.sdp,
                                    headers: headers({"Content-Type": "application/sdp"})});
    if (r.status !== 201) throw new Error("WHIP answered HTTP " + r.status + ": " + await errorText(r));
    resource = new URL(r.headers.get("Location"), location.href).href;
    return {type: "answer", sdp: await r.text()};
  }
  const r = await fetch("/api/voice/offer", {method: "POST", headers: headers({"Content-Type": "application/json"}),
                                             body: JSON.stringify({sdp: offer.sdp, type: offer.type})});
  if (!r.ok) throw new Error("JSON offer answered HTTP " + r.status + ": " + await errorText(r));
  const data = await r.json();
  return {type: "answer", sdp: data.sdp};
}
function measure(remoteStream) {
  audioContext = new AudioContext();
  const source = audioContext.createMediaStreamSource(remoteStream);
  analyser = audioContext.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  const freq = new Float32Array(analyser.frequencyBinCount);
  const wave = new Float32Array(analyser.fftSize);
  timer = setInterval(() => {
    analyser.getFloatTimeDomainData(wave);
    let sum = 0;
    for (const v of wave) sum += v * v;
    const db = 10 * Math.log10(sum / wave.length + 1e-12);
    analyser.getFloatFrequencyData(freq);
    let best = 1;
    for (let i = 2; i < freq.length; i++) if (freq[i] > freq[best]) best = i;
    const hz = best * audioContext.sampleRate / analyser.fftSize;
    $("level").value = Math.max(-80, db);
    $("levelText").textContent = db.toFixed(1);
    $("peak").textContent = db > -60 ? hz.toFixed(0) : "–";
    if (db > -60) { peaks.push(hz); levels.push(db); }
  }, 100);
}
function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
async function call(mode) {
  $("call").disabled = true; $("error").textContent = "";
  try {
    setState("getting the microphone");
    if (!navigator.mediaDevices) {
      throw new Error("this browser allows the microphone only on https:// or http://localhost: " +
                      "reach this server through an SSH tunnel (ssh -L) or an HTTPS proxy");
    }
    // raw: no echo cancellation / noise suppression / gain control, which treat a test tone as noise
    const raw = $("raw").checked;
    const audio = raw ? {echoCancellation: false, noiseSuppression: false, autoGainControl: false} : true;
    stream = await navigator.mediaDevices.getUserMedia({audio});
    pc = new RTCPeerConnection();
    stream.getTracks().forEach((t) => pc.addTrack(t, stream));
    pc.ontrack = (e) => { $("remote").srcObject = e.streams[0] || new MediaStream([e.track]);
                          measure($("remote").srcObject); };
    pc.onconnectionstatechange = () => setState(pc.connectionState);
    setState("gathering");
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc, 3000);
    setState("signaling (" + mode + ")");
    await pc.setRemoteDescription(await signal(mode, pc.localDescription));
    $("hangup").disabled = false;
  } catch (e) {
    showError(String(e.message || e));
    $("call").disabled = false;
    throw e;
  }
}
async function hangup() {
  if (timer) clearInterval(timer);
  if (resource) {
    try { await fetch(resource, {method: "DELETE", headers: headers({})}); } catch (e) {}
    resource = null;
  }
  if (pc) pc.close();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (audioContext) audioContext.close();
  pc = null; $("hangup").disabled = true; $("call").disabled = false; setState("ended");
}
async function autoCall(mode) {
  const seconds = Number(params.get("seconds") || 4);
  const report = {mode, ok: false, error: null, peak_hz: null, level_dbfs: null, connection_state: null, stats: []};
  try {
    await call(mode);
    const deadline = Date.now() + 15000;
    while (pc.connectionState !== "connected" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    report.connection_state = pc.connectionState;
    report.peak_hz = median(peaks);
    report.level_dbfs = median(levels);
    const stats = await pc.getStats();
    stats.forEach((s) => report.stats.push(s));
    report.ok = pc.connectionState === "connected";
  } catch (e) {
    report.error = String(e.message || e);
  }
  const target = sameOrigin(params.get("report"));
  if (target) {
    await fetch(target, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(report)});
  }
  await hangup();
}
$("call").onclick = () => call(document.querySelector("input[name=mode]:checked").value).catch(() => {});
$("hangup").onclick = hangup;
if (params.get("raw") === "1") $("raw").checked = true;
if (params.has("token")) {
  // a token in the address stays in history, bookmarks and proxy logs: move it to the field
  $("token").value = params.get("token");
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
  $("warning").textContent = "The token was in the page address (kept in history and logs): " +
                             "type it in the field instead, and consider changing it.";
}
const auto = params.get("call");
if (auto === "json" || auto === "whip") {
  document.querySelector("input[value=" + auto + "]").checked = true;
  autoCall(auto);
}
</script>
</body>
</html>
"""


def _sha256(pattern: str) -> str:
    match = re.search(pattern, PAGE, re.DOTALL)
    assert match is not None
    return "'sha256-" + base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode() + "'"


# only the page's own inline script and style run; it talks only to its own origin
# (WebRTC media is not governed by CSP); nothing may frame it, change its base or submit forms
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_sha256(r'<script>(.*?)</script>')}; "
    f"style-src {_sha256(r'<style>(.*?)</style>')}; connect-src 'self'; media-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# a path-absolute reference in plain RFC 3986 characters, with an optional query. Browsers
# parse URLs by WHATWG rules, which urllib does not follow: they read "\" as "/" and drop
# tabs and newlines, so "/\evil.example" or "/\t/evil.example" is another origin to them.
# Refusing those characters outright leaves nothing the two parsers read differently.
_PLAIN_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?")


def is_same_origin_path(target: str, page_url: str) -> bool:
    """Whether ``report=target`` on the page at ``page_url`` stays on the page's origin."""
    if not _PLAIN_PATH.fullmatch(target):
        return False
    page, resolved = urlsplit(page_url), urlsplit(urljoin(page_url, target))
    return (resolved.scheme, resolved.netloc) == (page.scheme, page.netloc)


async def handle_page(request: web.Request) -> web.Response:
    report = request.query.get("report")
    if report and not is_same_origin_path(report, str(request.url)):
        return web.Response(
            status=400,
            text="report= must be a path on this server, such as /results\n",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    return web.Response(
        text=PAGE,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )
