"""Word error rate of the voice agent's recognizer on espeak-ng speech: constrained vs open.

    .venv/bin/python bench/stt_accuracy.py

Each sentence is spoken by the agent's TTS (espeak-ng, en-us, 140 wpm), resampled
to 16 kHz and recognized as one utterance with (a) the agent's default constrained
recognizer (language model of the rule responder's phrases + a small vocabulary)
and (b) pocketsphinx's open en-US model. In-domain sentences are ones the
constrained model was built for (not necessarily verbatim); out-of-domain ones are not.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from voicedesk.agent.engines.audio import resample
from voicedesk.agent.engines.responder import RuleResponder
from voicedesk.agent.engines.stt import SAMPLE_RATE, SMALL_VOCABULARY, SttSettings, build_decoder, normalize
from voicedesk.agent.engines.tts import find_tts

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    args = parser.parse_args()
    tts = find_tts()
    pad = np.zeros(SAMPLE_RATE // 4, dtype=np.int16)
    clips = {}
    for group in (IN_DOMAIN, REPLIES, OUT_OF_DOMAIN):
        for sentence in group:
            clips[sentence] = np.concatenate(
                (pad, resample(tts.synthesize(sentence), tts.sample_rate, SAMPLE_RATE), pad)
            )
    modes = {
        "constrained": SttSettings(phrases=(*RuleResponder().phrases(), *SMALL_VOCABULARY)),
        "open": SttSettings(mode="open"),
    }
    print(
        f"TTS {tts.name}; {len(clips)} sentences, {sum(c.size for c in clips.values()) / SAMPLE_RATE:.1f} s of speech"
    )
    responder = RuleResponder()
    print(
        "| recognizer | in-domain WER | intent right (in-domain) | agent replies WER | out-of-domain WER "
        "| decoder load (s) | real-time factor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, settings in modes.items():
        t0 = time.perf_counter()
        decoder = build_decoder(settings)
        load_s = time.perf_counter() - t0
        scores: dict[str, list[float]] = {"in": [], "replies": [], "out": [], "intent": []}
        decode_s = 0.0
        for sentence, clip in clips.items():
            t0 = time.perf_counter()
            decoder.start_utt()
            decoder.process_raw(clip.tobytes(), False, True)
            decoder.end_utt()
            decode_s += time.perf_counter() - t0
            hyp = normalize(decoder.hyp().hypstr) if decoder.hyp() else ""
            group = "in" if sentence in IN_DOMAIN else "replies" if sentence in REPLIES else "out"
            scores[group].append(wer(sentence, hyp))
            if group == "in":
                scores["intent"].append(float(responder.reply_for(hyp) == responder.reply_for(sentence)))
            if args.show:
                print(f"  {name:11s} {wer(sentence, hyp):4.2f}  {sentence!r} -> {hyp!r}")
        audio_s = sum(c.size for c in clips.values()) / SAMPLE_RATE
        print(
            f"| {name} | {np.mean(scores['in']):.0%} | {np.mean(scores['intent']):.0%} | "
            f"{np.mean(scores['replies']):.0%} | {np.mean(scores['out']):.0%} | {load_s:.2f} | "
            f"{decode_s / audio_s:.2f} |"
        )


if __name__ == "__main__":
    main()
