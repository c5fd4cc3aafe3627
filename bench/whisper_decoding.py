"""Whisper's final-pass decoding settings on more than one espeak voice: is a difference real?

    PYTHONPATH=src .venv/bin/python bench/whisper_decoding.py [--model PATH] [--show] [--only NAME] [--long]

bench/stt_accuracy.py scores each setting on one rendering of each sentence, and tiny.en's
hypotheses flip on small changes of the audio (the same sentence fed in 100 ms chunks or as
one clip can differ by a word). Here every sentence of stt_accuracy.py's three sets is
spoken by espeak-ng in several variants (rate 120/140/160 wpm, pitch 35/50/65; 140 wpm and
pitch 50 are the agent's defaults) with 0.3 s of silence before and 0.15 s after, and each
setting transcribes every variant through the worker's ``clip`` (the QA side's path, the
code users run). Per setting: WER per set pooled over the variants (mean of sentences),
the worst variant, and the worker's CPU seconds per audio second (one thread). ``--long``:
instead, five long replies (each set's sentences spoken as one text, 12-20 s) in the default
voice: where decoding text alone, one window at a time, could drop words.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stt_accuracy import IN_DOMAIN, OUT_OF_DOMAIN, REPLIES, cpu_seconds

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.resample import resample, to_float
from voicedesk.speech.text import wer
from voicedesk.speech.tts import find_tts
from voicedesk.speech.whisper import WhisperRecognizer, WhisperSettings, resolve_model

VARIANTS = {
    "140 wpm": (140, 50),
    "120 wpm": (120, 50),
    "160 wpm": (160, 50),
    "pitch 35": (140, 35),
    "pitch 65": (140, 65),
}
GROUPS = {"in-domain": IN_DOMAIN, "agent replies": REPLIES, "out-of-domain": OUT_OF_DOMAIN}
# --long: long replies (12-20 s), the sentences of a set spoken as one text: the five replies,
# the out-of-domain ones seven at a time (a long utterance is where text alone could lose words)
LONG = {
    " ".join(REPLIES): "agent replies",
    **{" ".join(OUT_OF_DOMAIN[i : i + 7]): "out-of-domain" for i in range(0, len(OUT_OF_DOMAIN), 7)},
}


def group_of(text: str) -> str:
    return LONG.get(text) or next(g for g, members in GROUPS.items() if text in members)


def clips(rate: int, pitch: int, texts: list[str]) -> dict[str, np.ndarray]:
    tts = find_tts(rate=rate, pitch=pitch)
    lead, tail = np.zeros(int(0.3 * SAMPLE_RATE), np.float32), np.zeros(int(0.15 * SAMPLE_RATE), np.float32)
    return {
        s: np.concatenate((lead, to_float(resample(tts.synthesize(s), tts.sample_rate, SAMPLE_RATE)), tail))
        for s in texts
    }


async def score(settings: WhisperSettings, variants: dict[str, dict[str, np.ndarray]], show: str | None):
    recognizer = WhisperRecognizer(settings)
    await recognizer.start()
    pid = recognizer.worker.pid
    per_variant: dict[str, dict[str, float]] = {}
    audio_s = cpu = 0.0
    try:
        for variant, sentences in variants.items():
            errors: dict[str, list[float]] = {g: [] for g in GROUPS}
            for sentence, clip in sentences.items():
                c0 = cpu_seconds(pid)
                heard = await recognizer.clip(clip, SAMPLE_RATE)
                cpu += cpu_seconds(pid) - c0
                audio_s += clip.size / SAMPLE_RATE
                group = group_of(sentence)
                errors[group].append(wer(sentence, heard.text))
                if show:
                    print(f"  {show} | {variant} | {wer(sentence, heard.text):.2f} | {sentence!r} -> {heard.text!r}")
            per_variant[variant] = {g: float(np.mean(v)) if v else float("nan") for g, v in errors.items()}
    finally:
        await recognizer.close()
    return per_variant, cpu / audio_s


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a CTranslate2 Whisper model (default: the packaged tiny.en)")
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    parser.add_argument("--only", help="run only the settings whose name contains one of these (comma-separated)")
    parser.add_argument("--long", action="store_true", help="long replies (sentences joined, 12-20 s), default voice")
    args = parser.parse_args()
    model = str(resolve_model(args.model))
    if args.long:
        variants = {"long replies, 140 wpm": clips(140, 50, list(LONG))}
    else:
        texts = [s for group in GROUPS.values() for s in group]
        variants = {name: clips(rate, pitch, texts) for name, (rate, pitch) in VARIANTS.items()}
    settings = {
        "beam 5, text only (default)": WhisperSettings(model=model),
        "beam 5, timestamp tokens (before)": WhisperSettings(model=model, timestamp_tokens=True),
        "beam 10, text only": WhisperSettings(model=model, beam_size=10),
        "beam 10, timestamp tokens": WhisperSettings(model=model, beam_size=10, timestamp_tokens=True),
    }
    if args.only:
        settings = {k: v for k, v in settings.items() if any(part in k for part in args.only.split(","))}
    print(f"{len(variants)} voice variants ({', '.join(variants)}) × {len(next(iter(variants.values())))} texts")
    print("| final pass | " + " | ".join(f"{g} WER (worst variant)" for g in GROUPS) + " | CPU per audio s |")
    print("| --- |" + " --- |" * (len(GROUPS) + 1))
    for name, setting in settings.items():
        per_variant, cpu = await score(setting, variants, name if args.show else None)
        cells = []
        for g in GROUPS:
            values = [v[g] for v in per_variant.values()]
            cells.append(f"{np.mean(values):.1%} ({max(values):.0%})")
        print(f"| {name} | " + " | ".join(cells) + f" | {cpu:.2f} |", flush=True)
        for variant, v in per_variant.items():
            print(f"|   {variant} | " + " | ".join(f"{v[g]:.1%}" for g in GROUPS) + " | |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
