"""Word error rate of the voice agent's recognizer on espeak-ng speech: constrained vs open.

    .venv/bin/python bench/stt_accuracy.py

Each sentence is spoken by the agent's TTS (espeak-ng, en-us, 140 wpm), resampled
to 48 kHz (the call's rate) with 0.3 s before and 0.15 s after, as the agent's STT
stage hands an utterance over, and fed in 100 ms chunks to the agent's own
recognizer (worker process: live pass for partials, whole-utterance pass for the
final transcript), one recognizer for all sentences, as one call. With (a) the agent's default constrained
recognizer (language model of the rule responder's phrases + a small vocabulary)
and (b) pocketsphinx's open en-US model. In-domain sentences are ones the
constrained model was built for (not necessarily verbatim); out-of-domain ones are not.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from voicedesk.agent.engines.responder import RuleResponder
from voicedesk.media.resample import resample, to_float
from voicedesk.speech.stt import SMALL_VOCABULARY, PocketsphinxRecognizer, SttSettings
from voicedesk.speech.tts import find_tts

CALL_RATE = 48_000

IN_DOMAIN = [
    "hello what is your name",
    "what is the weather today",
    "what time is it",
    "what can you do",
    "thank you very much",
    "goodbye",
    "can you hear me",
    "testing one two three",
    "tell me about the weather",
    "who are you",
    "good morning",
    "repeat that please",
]
REPLIES = [  # what a client hears from the agent (the e2e tests recognize these)
    "my name is voice desk i am a test agent",
    "the weather is sunny and warm today",
    "it is time to test your voice agent",
    "you are welcome",
    "hello i am the voice desk agent how can i help you",
]
OUT_OF_DOMAIN = [
    "i would like to book a table for two",
    "the quick brown fox jumps over the lazy dog",
    "please send the invoice to my office",
    "my flight to boston was cancelled this morning",
]


def wer(ref: str, hyp: str) -> float:
    r, h = ref.split(), hyp.split()
    d = np.zeros((len(r) + 1, len(h) + 1), dtype=int)
    d[:, 0] = np.arange(len(r) + 1)
    d[0, :] = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        for j in range(1, len(h) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (r[i - 1] != h[j - 1]))
    return float(d[len(r), len(h)]) / max(1, len(r))


async def measure(settings: SttSettings, clips: dict[str, np.ndarray], show: str | None) -> dict[str, float]:
    """Each clip through the agent's own recognizer (worker process, 100 ms chunks, final pass)."""
    recognizer = PocketsphinxRecognizer(settings)
    await recognizer.start()
    responder = RuleResponder()
    scores: dict[str, list[float]] = {"in": [], "replies": [], "out": [], "intent": []}
    decode_s = 0.0
    try:
        for sentence, clip in clips.items():
            t0 = time.perf_counter()
            await recognizer.begin(CALL_RATE)
            for i in range(0, clip.size, CALL_RATE // 10):
                await recognizer.feed(clip[i : i + CALL_RATE // 10])
            hyp = await recognizer.finish()
            decode_s += time.perf_counter() - t0
            group = "in" if sentence in IN_DOMAIN else "replies" if sentence in REPLIES else "out"
            scores[group].append(wer(sentence, hyp))
            if group == "in":
                scores["intent"].append(float(responder.reply_for(hyp) == responder.reply_for(sentence)))
            if show:
                print(f"  {show:11s} {wer(sentence, hyp):4.2f}  {sentence!r} -> {hyp!r}")
    finally:
        await recognizer.close()
    audio_s = sum(c.size for c in clips.values()) / CALL_RATE
    return {k: float(np.mean(v)) for k, v in scores.items()} | {
        "load": recognizer.load_s or 0.0,
        "rtf": decode_s / audio_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    args = parser.parse_args()
    tts = find_tts()
    lead, tail = np.zeros(int(0.3 * CALL_RATE), np.float32), np.zeros(int(0.15 * CALL_RATE), np.float32)
    clips = {}
    for group in (IN_DOMAIN, REPLIES, OUT_OF_DOMAIN):
        for sentence in group:
            speech = to_float(resample(tts.synthesize(sentence), tts.sample_rate, CALL_RATE))
            clips[sentence] = np.concatenate((lead, speech, tail))
    modes = {
        "constrained": SttSettings(phrases=(*RuleResponder().phrases(), *SMALL_VOCABULARY)),
        "open": SttSettings(mode="open"),
    }
    seconds = sum(c.size for c in clips.values()) / CALL_RATE
    print(f"TTS {tts.name}; {len(clips)} sentences, {seconds:.1f} s of audio")
    print(
        "| recognizer | in-domain WER | intent right (in-domain) | agent replies WER | out-of-domain WER "
        "| recognizer start (s) | real-time factor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, settings in modes.items():
        r = await measure(settings, clips, name if args.show else None)
        print(
            f"| {name} | {r['in']:.0%} | {r['intent']:.0%} | {r['replies']:.0%} | {r['out']:.0%} | "
            f"{r['load']:.2f} | {r['rtf']:.2f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
