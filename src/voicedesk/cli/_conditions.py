"""Caller-condition options of ``voicedesk call``: noise, echo path, backchannels, pauses, voice.

Each option's type parses and checks its value (media/conditions/spec.py), so a bad one
stops the command before dialing with one line and exit 2, as every argparse error does
(voicedesk/limits.py). The leading underscore keeps this module out of the subcommand list.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from voicedesk.errors import ConfigError
from voicedesk.limits import count, number
from voicedesk.media.conditions import INSERT_KINDS, NOISE_KINDS, CallerVoice, Conditions, EchoSpec, InsertSpec
from voicedesk.media.conditions.spec import NoiseSpec

T = TypeVar("T")


def _type(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__qualname__.split(".")[0]
    return convert


def add_condition_arguments(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("caller conditions (mixed into what is sent; see the robustness table)")
    group.add_argument(
        "--noise",
        type=_type(NoiseSpec.parse),
        metavar="KIND[:SNR_DB]",
        help=f"noise at an SNR against the speech sent: {', '.join(NOISE_KINDS)} or an audio file; "
        "e.g. babble:10 (SNR -10…60 dB, default 20)",
    )
    group.add_argument(
        "--echo",
        type=_type(EchoSpec.parse),
        metavar="delay_ms=MS,erl_db=DB[,speaker]",
        help="feed the agent's audio back into what is sent (a speakerphone without echo cancellation), "
        "e.g. delay_ms=200,erl_db=6; speaker filters it like a laptop speaker; 'on' for those defaults",
    )
    group.add_argument(
        "--backchannel",
        type=_type(InsertSpec.parse),
        action="append",
        default=[],
        metavar="WHAT[@MS][,turn=N]",
        help=f"say or make {', '.join(INSERT_KINDS)} MS after the agent starts speaking (its Nth stretch of "
        "speech, default 1), e.g. mm-hmm@800 (repeatable)",
    )
    group.add_argument(
        "--pause-ms",
        type=number(minimum=0, maximum=10_000),
        metavar="MS",
        help="split each sentence of a say: or wav: source in two with this much silence",
    )
    group.add_argument(
        "--caller-voice",
        type=_type(CallerVoice.parse),
        metavar="voice=V,rate=WPM,pitch=P,volume_db=DB,clip_db=DB",
        help="who is calling: an espeak-ng voice, rate and pitch for say:, and a volume change or clipping "
        "(gain into full scale) for any source, e.g. volume_db=-25 (a quiet caller)",
    )
    group.add_argument(
        "--conditions-seed",
        type=count(minimum=0),
        default=0,
        metavar="N",
        help="seed of the noise and sounds (default 0)",
    )


def conditions_from_args(args: argparse.Namespace) -> Conditions | None:
    conditions = Conditions(
        noise=args.noise,
        echo=args.echo,
        inserts=tuple(args.backchannel),
        pause_ms=args.pause_ms,
        voice=args.caller_voice or CallerVoice(),
        seed=args.conditions_seed,
    )
    return None if conditions.empty else conditions


def robustness_lines(summary: Any) -> list[str]:
    """The robustness table of a call that had conditions (none for one that had not)."""
    from voicedesk.media.conditions.measure import table_lines

    if "robustness" not in summary:
        return []
    return table_lines(summary["robustness"], summary.get("conditions") or {})
