// pipecat's own web client, as an app would use it, calling `voicedesk serve` from another origin.
//
// The page (served by tests/e2e/test_pipecat_js_client.py on its own port) reads ?servers=URL,URL…
// and connects to each offer URL in turn with PipecatClient + SmallWebRTCTransport. For each it
// records what the client saw: whether connect() resolved (it does only once the bot sends RTVI
// bot-ready) or how it failed, the transcripts and speaking events its callbacks got, and the
// answer to a client request; then it POSTs everything to /report on its own origin.
import { PipecatClient, RTVIEvent } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport, WavMediaManager } from "@pipecat-ai/small-webrtc-transport";

const params = new URLSearchParams(location.search);
const servers = (params.get("servers") || "").split(",").filter(Boolean);
const listenMs = Number(params.get("listen_ms") || 30000);
const connectMs = Number(params.get("connect_ms") || 20000);
// the transport retries a failed offer every 2 s (3 times by default): fewer make a refusal quick
const retries = params.has("retries") ? Number(params.get("retries")) : null;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function callOne(offerUrl) {
  const seen = { offer_url: offerUrl, connected: false, error: null, bot_ready: null, events: [] };
  const note = (type, data) => seen.events.push({ type, data: data ?? null, t: Math.round(performance.now()) });
  // WavMediaManager: the browser's own getUserMedia (Chromium's fake device), no Daily bundle
  const transport = new SmallWebRTCTransport({ mediaManager: new WavMediaManager() });
  if (retries !== null) transport.maxReconnectionAttempts = retries;
  const client = new PipecatClient({
    transport,
    enableMic: true,
    enableCam: false,
    callbacks: {
      onBotReady: (data) => { seen.bot_ready = data; },
      onUserStartedSpeaking: () => note("user-started-speaking"),
      onUserStoppedSpeaking: () => note("user-stopped-speaking"),
      onBotStartedSpeaking: () => note("bot-started-speaking"),
      onBotStoppedSpeaking: () => note("bot-stopped-speaking"),
      onUserTranscript: (data) => note("user-transcription", data),
      onBotTranscript: (data) => note("bot-transcription", data),
      onBotOutput: (data) => note("bot-output", data),
      onBotTtsText: (data) => note("bot-tts-text", data),
      onMetrics: (data) => note("metrics", data),
      onError: (message) => note("error", message),
      onMessageError: (message) => note("error-response", message),
    },
  });
  try {
    await withTimeout(client.connect({ webrtcRequestParams: { endpoint: offerUrl } }), connectMs, "connect()");
    seen.connected = true;
    seen.t_connected = Math.round(performance.now());
    // listen until two turns are over (the script has two lines; metrics come with each turn's
    // report, once its reply has been spoken), or give up
    const count = (type) => seen.events.filter((e) => e.type === type).length;
    const started = performance.now();
    while (performance.now() - started < listenMs) {
      if (count("bot-transcription") >= 2 && count("metrics") >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      seen.turns = await client.sendClientRequest("turns", {}, 5000);
    } catch (e) {
      seen.turns_error = String(e && (e.message || e.data?.error || e));
    }
  } catch (e) {
    seen.error = String((e && (e.message || e)) || "unknown error");
  }
  try {
    await withTimeout(client.disconnect(), 5000, "disconnect()");
  } catch (e) {
    seen.disconnect_error = String(e);
  }
  seen.t_done = Math.round(performance.now());
  return seen;
}

async function main() {
  const results = [];
  for (const url of servers) results.push(await callOne(url));
  await fetch("/report", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(results) });
  document.title = "done";
}

main().catch((e) =>
  fetch("/report", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ page_error: String(e) }) })
);
