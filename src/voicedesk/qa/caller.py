"""A simulated caller: hears the agent, decides what to say, says it over the call.

Each turn the caller

1. listens: the agent's reply is found in the received audio (its start and end as the
   caller heard them); where the agent reports its own words on its events channel
   (rtc/events/: VoiceDesk's own agents, RTVI, OpenAI Realtime) those are what the caller
   "heard", else the recognizer (qa/hearing.py) transcribes the reply;
2. decides (``RuleBrain``: the scenario's rules, seeded; ``LlmBrain``: an OpenAI-compatible
   chat endpoint through the agent layer's ``ChatClient``; streamed, each sentence of its
   answer is rendered and queued as soon as it is complete, so the caller starts talking
   while the model is still writing);
3. speaks through the scenario's queued track (the ``say:`` path: espeak-ng, its voice,
   rate, pitch and volume), and the next turn begins.

It stops when the goal is reached, a rule hangs up, the agent ends the call, ``max_turns``
is used up, or it loops (the same sentence three times in a row: the run fails with that
reason). An LLM that fails or does not answer in time fails the run with one line.

With agent events the end of a reply is known from the agent (its ``turn`` report) and the
audio only confirms that the last of it has arrived, so the caller answers within a few
hundred ms. From audio alone the reply is streamed into the recognizer while it plays, a
piece at a time: each pause of ``GUESS_HANG_MS`` (between sentences, as a rule) closes a
piece and has it recognized at once, and ``REPLY_END_MS`` of silence (longer than espeak-ng's
pause between sentences) ends the reply, so recognition overlaps the wait instead of
following it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicedesk.errors import VoiceDeskError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.qa.caller_spec import CallerSpec, CallerVoice, Condition, LlmEndpoint
from voicedesk.qa.hearing import Hearing, HearingStream
from voicedesk.qa.latency import Turn, speech_runs
from voicedesk.qa.scenario import Step, Utterance
from voicedesk.rtc.events import AgentEventReceived
from voicedesk.rtc.events.model import ConversationEvent, Speaker, SpeechStarted, SpeechStopped, TranscriptReceived
from voicedesk.rtc.signaling.log import redact_url
from voicedesk.speech.stt import normalize

logger = logging.getLogger(__name__)

POLL_S = 0.05  # a reply's start and end (as the runner's wait_reply polls)
TAIL_POLL_S = 0.02  # the agent said it is done: its last audio is close
REPLY_HANG_MS = 700.0  # the runner's wait_reply: this much silence ends a reply
# audio alone (bench/eval_callers.py, bench/RESULTS.md): espeak-ng pauses up to 440 ms between
# sentences at 140 wpm (310 ms at 175 wpm, 200-220 ms at a comma), so 500 ms of silence ends a reply;
# a 150 ms pause (longer than most gaps between words) closes a piece of it for the recognizer
REPLY_END_MS = 500.0
GUESS_HANG_MS = 150.0
STREAM_REPLIES = True  # False: the whole reply recognized after the silence (bench/eval_callers.py's baseline)
SAME_PAUSE_S = 0.05
PAD_FROM_S = 0.05  # the pause's quiet from here on is fed twice
PRE_ROLL_S = 0.05  # audio before a reply's first loud frame goes to the recognizer too (as transcribe)
TAIL_HANG_MS = 200.0  # the agent said it is done: this much silence means its last audio arrived
LOOP_LIMIT = 3

GOAL_MARK = "[GOAL]"
HANGUP_MARK = "[HANGUP]"
LLM_CALLER_PROMPT = (
    "You are a caller on a phone call with a voice agent. Stay in character.\n"
    "{persona}\nYour goal: {goal}\n"
    "Reply with only the words you say next: one or two short spoken sentences, no lists or markup. "
    f"When your goal has been reached, end your reply with {GOAL_MARK}. "
    f"To end the call, reply with {HANGUP_MARK} (after any last words)."
)


Speak = Callable[[str], Awaitable[None]]  # a sentence of the answer, spoken while the rest streams
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")  # as the voice agent's TTS splits a streamed reply


def spoken_words(text: str) -> str:
    """What of the model's text is said aloud: without the goal and hang-up marks."""
    return " ".join(text.replace(GOAL_MARK, " ").replace(HANGUP_MARK, " ").split())


def said_in(words: str, text: str) -> bool:
    """``words`` occur in ``text`` (case and punctuation aside). The number normaliser of the
    transcripts work (speech/text.py) replaces this when it lands."""
    return normalize(words) in normalize(text)


@dataclass(frozen=True)
class Decision:
    say: str | None
    hangup: bool = False
    goal: bool = False
    why: str = ""


def _same_time(a: float | None, b: float | None) -> bool:
    """Two reads of one moment in the received audio: the speech threshold follows the call's noise
    floor, so a pause's edge may move by a frame or two between polls."""
    return a is not None and b is not None and abs(a - b) <= SAME_PAUSE_S


# --- brains --------------------------------------------------------------------
def condition_holds(when: Condition, heard: str | None, turn: int) -> bool:
    text = normalize(heard or "")
    if when.contains and not any(said_in(c, text) for c in when.contains):
        return False
    if when.matches and re.search(when.matches, heard or "", re.IGNORECASE) is None:
        return False
    if when.after is not None and turn < when.after:
        return False
    return when.silent is None or when.silent == (not text)


class RuleBrain:
    """The scenario's rules, first match wins; random choices come from the run's seed."""

    def __init__(self, spec: CallerSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng

    async def decide(self, heard: str | None, turn: int) -> Decision | None:
        for rule in self.spec.rules:
            if condition_holds(rule.when, heard, turn):
                say = self.rng.choice(rule.say) if rule.say else None
                return Decision(say, hangup=rule.hangup, goal=rule.goal, why=f"rule at line {rule.line}")
        if self.spec.otherwise:
            return Decision(self.rng.choice(self.spec.otherwise), why="otherwise")
        return None

    def note(self, heard: str | None, said: str | None) -> None:
        """A turn decided elsewhere (the opening): rules keep no history."""

    async def close(self) -> None:
        pass


class LlmBrain:
    """Asks the chat endpoint what the persona says next (the agent is the 'user')."""

    def __init__(self, spec: CallerSpec, endpoint: LlmEndpoint, seed: int) -> None:
        self.endpoint = endpoint
        self.seed = seed
        self.client = endpoint.chat_client()
        prompt = LLM_CALLER_PROMPT.format(persona=spec.persona or "", goal=spec.goal or "(none given)")
        self.messages: list[dict[str, str]] = [{"role": "system", "content": prompt}]

    async def decide(self, heard: str | None, turn: int, speak: Speak | None = None) -> Decision | None:
        """What the persona says next. Streamed with ``speak``: each sentence goes to ``speak`` as
        soon as it is complete, so the caller starts talking while the model is still answering."""
        from voicedesk.agent.engines.llm_http import LlmError

        self.messages.append({"role": "user", "content": heard or "(the agent has said nothing)"})
        answer = (
            self._stream_sentences(speak)
            if speak is not None and self.endpoint.stream
            else self.client.complete(self.messages, stream=self.endpoint.stream, seed=self.seed)
        )
        try:
            # the whole turn has the timeout too: a trickle of chunks must not hold the call
            reply = await asyncio.wait_for(answer, self.endpoint.timeout)
        except TimeoutError:
            raise VoiceDeskError(
                f"the caller's LLM at {redact_url(self.endpoint.url)} gave no answer within {self.endpoint.timeout:g} s"
            ) from None
        except LlmError as exc:
            raise VoiceDeskError(f"the caller's LLM at {redact_url(self.endpoint.url)}: {exc}") from None
        self.messages.append({"role": "assistant", "content": reply})
        goal = GOAL_MARK in reply
        hangup = HANGUP_MARK in reply
        say = spoken_words(reply) or None
        if say is None and not hangup:
            raise VoiceDeskError(f"the caller's LLM at {redact_url(self.endpoint.url)} answered with no words")
        return Decision(say, hangup=hangup, goal=goal, why="llm")

    async def _stream_sentences(self, speak: Speak) -> str:
        text, done = "", 0  # done: the characters already handed to speak
        async for chunk in self.client.stream(self.messages, seed=self.seed):
            text += chunk
            *sentences, rest = SENTENCE_END.split(text[done:])
            done = len(text) - len(rest)
            for sentence in sentences:
                if words := spoken_words(sentence):
                    await speak(words)
        if words := spoken_words(text[done:]):
            await speak(words)
        return text

    def note(self, heard: str | None, said: str | None) -> None:
        """A turn decided elsewhere (the opening, a rule): the model must know what was said."""
        if heard:
            self.messages.append({"role": "user", "content": heard})
        if said:
            self.messages.append({"role": "assistant", "content": said})

    async def close(self) -> None:
        await self.client.close()


# --- the caller's voice ------------------------------------------------------------
class CallerMouth:
    """The caller's espeak-ng voice (rate, pitch) and volume, rendered off the event loop."""

    def __init__(self, voice: CallerVoice) -> None:
        self.voice = voice
        self._engine: Any = None

    def check(self) -> None:
        """Load the voice now: an unknown espeak-ng voice is one line before the call, not in it."""
        from voicedesk.speech.tts import DEFAULT_PITCH, find_tts

        if self._engine is None:
            pitch = self.voice.pitch if self.voice.pitch is not None else DEFAULT_PITCH
            self._engine = find_tts(self.voice.name, self.voice.rate, pitch)

    def _render(self, text: str) -> np.ndarray:
        from voicedesk.speech.tts import call_samples

        self.check()
        audio = call_samples(self._engine, text)
        if self.voice.volume is not None and self.voice.volume != 100:
            audio = np.clip(audio * (self.voice.volume / 100.0), -1.0, 1.0).astype(np.float32)
        return audio

    async def render(self, text: str) -> np.ndarray:
        from voicedesk.speech.tts import TTS_EXECUTOR

        # espeak-ng's library is not reentrant: every synthesis in the process uses its one thread
        audio = await asyncio.get_running_loop().run_in_executor(TTS_EXECUTOR, self._render, text)
        if audio.size == 0:
            raise VoiceDeskError(f"the caller's voice made no audio for {text!r}")
        return audio


# --- what the agent reports about itself -------------------------------------------
class AgentEars:
    """What the agent reports about its replies, as it arrives (monotonic arrival times).

    VoiceDesk's own agents (the ``voicedesk`` protocol): a ``turn`` report with its ``response``
    closes a reply (their audio stops between sentences too, so "stopped speaking" alone is not
    the end). Other protocols (RTVI, OpenAI Realtime) through the call's conversation model
    (rtc/events/): the agent stopped speaking, and its words of one channel (RTVI may send the
    same sentence as bot-transcription, bot-tts-text and bot-output).
    """

    def __init__(self) -> None:
        self.protocol = "voicedesk"
        self.events: list[tuple[float, dict[str, Any]]] = []  # raw voicedesk messages
        self.model: list[tuple[float, ConversationEvent]] = []  # the agent's side of the model

    def __call__(self, event: object) -> None:
        now = time.monotonic()
        if isinstance(event, AgentEventReceived):
            self.protocol = event.protocol
            if event.protocol == "voicedesk":
                self.events.append((now, event.event))
        elif isinstance(event, SpeechStarted | SpeechStopped | TranscriptReceived) and event.who is Speaker.AGENT:
            self.model.append((now, event))

    def since(self, t: float) -> list[dict[str, Any]]:
        return [e for at, e in self.events if at >= t]

    def _model_since(self, t: float) -> list[ConversationEvent]:
        return [e for at, e in self.model if at >= t]

    def reply_done(self, t: float) -> bool:
        """The agent reported a finished reply since ``t``."""
        if self.protocol == "voicedesk":
            return any(e.get("type") == "turn" and e.get("response") for e in self.since(t))
        stopped = any(isinstance(e, SpeechStopped) for e in self._model_since(t))
        return stopped and bool(self.reply_text(t))

    def reply_text(self, t: float) -> str | None:
        if self.protocol == "voicedesk":
            texts = [str(e["response"]) for e in self.since(t) if e.get("type") == "turn" and e.get("response")]
            if not texts:
                texts = [str(e["text"]) for e in self.since(t) if e.get("type") == "response_ended" and e.get("text")]
            return " ".join(texts) or None
        words = [e for e in self._model_since(t) if isinstance(e, TranscriptReceived)]
        finals = [e for e in words if e.final and not e.delta]
        if finals:
            channel = finals[0].channel
            return " ".join(e.text.strip() for e in finals if e.channel == channel and e.text.strip()) or None
        return "".join(e.text for e in words if e.delta).strip() or None

    def talking(self) -> bool | None:
        """Whether the agent's last report says it is still answering (None: it said nothing)."""
        if self.protocol == "voicedesk":
            for _, event in reversed(self.events):
                kind = event.get("type")
                if kind in ("turn", "audio_out_stopped", "session_ended"):
                    return False
                if kind in ("response_started", "audio_out_started", "speech_stopped", "transcript"):
                    return True
            return None
        for _, item in reversed(self.model):
            if isinstance(item, SpeechStarted | SpeechStopped):
                return isinstance(item, SpeechStarted)
        return None

    def ended(self) -> bool:
        return any(e.get("type") == "session_ended" for _, e in self.events)


# --- the conversation ---------------------------------------------------------------
@dataclass
class ConversationTurn:
    index: int
    heard: str | None = None
    heard_from: str | None = None  # "agent events" or the recognizer's name
    said: str | None = None
    why: str = ""
    caller_response_ms: float | None = None  # the agent stopped -> the caller started (from audio)
    spoken: bool = False  # said over the call (a looping caller's last line is not)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "heard": self.heard,
            "heard_from": self.heard_from,
            "said": self.said,
            "why": self.why,
            "caller_response_ms": None if self.caller_response_ms is None else round(self.caller_response_ms, 1),
            "spoken": self.spoken,
        }


@dataclass
class Conversation:
    kind: str
    seed: int
    turns: list[ConversationTurn] = field(default_factory=list)
    ended: str = ""
    goal_reached: bool = False
    looped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "caller": self.kind,
            "seed": self.seed,
            "ended": self.ended,
            "goal_reached": self.goal_reached,
            "looped": self.looped,
            "turns": [t.to_json() for t in self.turns],
        }


class SimulatedCaller:
    """Runs the conversation on a ScenarioRun's call (its source, capture and turns)."""

    def __init__(self, run: Any, spec: CallerSpec, seed: int, hearing: Hearing | None) -> None:
        self.run = run
        self.spec = spec
        self.seed = seed
        self.hearing = hearing
        self.mouth: CallerMouth = run.caller_mouth if getattr(run, "caller_mouth", None) else CallerMouth(spec.voice)
        self.brain: RuleBrain | LlmBrain = (
            LlmBrain(spec, spec.llm, seed) if spec.llm is not None else RuleBrain(spec, random.Random(seed))
        )
        self.rules = RuleBrain(spec, random.Random(seed)) if spec.llm is not None and spec.rules else None
        self.ears = AgentEars()
        self.conversation = Conversation(spec.kind, seed)
        # the sentences of the answer being streamed, queued: (sent, seconds, what) for run._sent
        self._streamed: list[tuple[asyncio.Future[tuple[float, float]], float, str]] = []

    @property
    def _call(self) -> Any:
        return self.run.call

    def _uses_events(self) -> bool:
        return self.spec.hear != "recognizer" and self._call.agent_events is not None

    async def converse(self) -> Conversation:
        call = self._call
        call.add_listener(self.ears)
        if self.hearing is not None and not self._uses_events() and self.spec.hear != "events":
            # no events channel: every turn needs the recognizer; load it before the first, not in it
            await self.hearing.start()
        try:
            await self._converse()
        finally:
            await self.brain.close()
        return self.conversation

    async def _converse(self) -> None:
        spec, conv = self.spec, self.conversation
        said: list[str] = []
        heard_since = time.monotonic()
        previous: Turn | None = None
        for index in range(1, spec.max_turns + 1):
            entry = ConversationTurn(index)
            conv.turns.append(entry)
            if index == 1 and spec.opening:
                decision: Decision | None = Decision(spec.opening, why="opening")
                self.brain.note(None, spec.opening)
            else:
                await self._listen(entry, previous, heard_since, spec.greeting_s if index == 1 else spec.listen_s)
                if self._agent_ended():
                    if entry.heard is None:
                        conv.turns.pop()
                    self._end_by_agent()
                    return
                decision = await self._decide(entry.heard, index)
            if decision is None:
                entry.why = "no rule matched and there is no otherwise"
                conv.ended = "the caller had nothing to say (no rule matched) and hung up"
                return
            entry.why = decision.why
            conv.goal_reached = conv.goal_reached or decision.goal
            streamed, self._streamed = self._streamed, []
            if decision.say:
                text = decision.say
                recent = said[-(LOOP_LIMIT - 1) :]
                if len(recent) == LOOP_LIMIT - 1 and all(normalize(s) == normalize(text) for s in recent):
                    conv.looped = text
                    conv.ended = f"the caller looped: it said {text!r} {LOOP_LIMIT} times in a row"
                    entry.said = text
                    entry.spoken = bool(streamed)  # a streamed answer is on its way before it is whole
                    return
                said.append(text)
                entry.said = text
                if streamed:  # its sentences were queued as they came: the first is playing already
                    start, _ = await self.run._sent(*streamed[0])
                    _, end = await self.run._sent(*streamed[-1])
                else:
                    clip = await self.mouth.render(text)
                    start, end = await self.run._play(clip, repr(text))
                turn = self.run._turn(Step(kind="say", line=spec.line, say=Utterance(text=text)), start, end)
                self.run.turns.append(turn)
                entry.spoken = True
                if previous is not None and previous.reply_end is not None:
                    entry.caller_response_ms = (turn.utterance_start - previous.reply_end) * 1000.0
                previous = turn
                heard_since = turn.utterance_start
            if decision.hangup or (decision.goal and not decision.say):
                conv.ended = "the caller reached its goal and hung up" if conv.goal_reached else "the caller hung up"
                return
            if decision.goal and self.spec.llm is not None:
                conv.ended = "the caller reached its goal"
                return
            if self._agent_ended():
                self._end_by_agent()
                return
        conv.ended = f"max_turns ({spec.max_turns}) reached"

    def _agent_ended(self) -> bool:
        return self._call.state.is_final or self.ears.ended()

    def _end_by_agent(self) -> None:
        """The agent hung up (its signaling said so, or it ended its session), or the call failed."""
        call = self._call
        if call.state.is_final and call.peer_hung_up_at_ms is None and not self.ears.ended():
            self.conversation.ended = f"the call failed: {call.reason or 'it ended'}"
            raise VoiceDeskError(f"the call failed during the conversation: {call.reason or 'it ended'}")
        self.conversation.ended = "the agent ended the call"

    async def _decide(self, heard: str | None, index: int) -> Decision | None:
        if self.rules is not None:  # an LLM caller's rules are tried first
            decision = await self.rules.decide(heard, index)
            if decision is not None and decision.why != "otherwise":
                self.brain.note(heard, decision.say)
                return decision
        if isinstance(self.brain, LlmBrain):
            return await self.brain.decide(heard, index, speak=self._speak_sentence)
        return await self.brain.decide(heard, index)

    async def _speak_sentence(self, sentence: str) -> None:
        """A streamed answer's sentence: rendered and queued behind the ones before it at once."""
        clip = await self.mouth.render(sentence)
        self._streamed.append((self.run._enqueue(clip), clip.size / SAMPLE_RATE, repr(sentence)))

    async def _listen(self, entry: ConversationTurn, turn: Turn | None, since: float, wait_s: float) -> None:
        """Wait ``wait_s`` for the agent's reply (after ``since``) to start, then for it to end, and hear
        its words."""
        rx = self.run.capture.rx
        events = self._uses_events()
        if not events and self.hearing is not None and self.spec.hear != "events":
            await self._listen_to_audio(entry, turn, since, wait_s, self.hearing)
            return
        deadline = time.monotonic() + wait_s
        start = end = None
        while True:
            runs = [r for r in speech_runs(rx, since, hang_ms=REPLY_HANG_MS) if r.start >= since - 0.03]
            if runs:
                if start is None:  # a long reply gets listen_s from its start to finish
                    deadline = max(deadline, runs[0].start + self.spec.listen_s)
                start = runs[0].start
                if events and self.ears.reply_done(since):
                    # the agent says it is done: its last audio is in once the line is quiet briefly
                    tail = speech_runs(rx, start, hang_ms=TAIL_HANG_MS)
                    if tail and tail[-1].end is not None:
                        end = tail[-1].end
                        break
                elif runs[0].end is not None and not (events and self._agent_talks()):
                    end = runs[0].end
                    break
            if self._agent_ended() or time.monotonic() > deadline:
                break
            await asyncio.sleep(TAIL_POLL_S if events and start is not None and self.ears.reply_done(since) else POLL_S)
        if turn is not None:
            turn.reply_start, turn.reply_end = start, end
        if start is None:
            return
        text = self.ears.reply_text(since) if events else None
        if text:
            entry.heard, entry.heard_from = text, "agent events"
        elif self.hearing is not None and self.spec.hear != "events":  # events: the agent's words or none
            audio = rx.segment(start - 0.05, (end + 0.2) if end is not None else None)
            entry.heard, entry.heard_from = await self.hearing.transcribe(audio), self.hearing.name
            if turn is not None:
                turn.transcript = entry.heard

    async def _listen_to_audio(
        self, entry: ConversationTurn, turn: Turn | None, since: float, wait_s: float, hearing: Hearing
    ) -> None:
        """``_listen`` from the audio alone. The reply goes to the recognizer as it arrives, a piece
        (a sentence, as a rule) at a time: each pause of ``GUESS_HANG_MS`` closes a piece and has it
        recognized while the wait for the reply's end runs, so at the end little or nothing is left."""
        rx = self.run.capture.rx
        deadline = time.monotonic() + wait_s
        start = end = None
        stream: HearingStream | None = None
        streaming = STREAM_REPLIES
        fed = 0  # the next sample of rx for the stream
        pieces: list[str] = []
        piece_end: float | None = None  # the pause that closed the last piece
        try:
            while True:
                runs = [r for r in speech_runs(rx, since, hang_ms=REPLY_END_MS) if r.start >= since - 0.03]
                if runs:
                    if start is None:  # a long reply gets listen_s from its start to finish
                        start = runs[0].start
                        deadline = max(deadline, start + self.spec.listen_s)
                    if runs[0].end is not None:
                        end = runs[0].end
                        break
                    quick = speech_runs(rx, start, hang_ms=GUESS_HANG_MS) if streaming else []
                    last = quick[-1] if quick else None
                    if last is not None and stream is None and not _same_time(last.end, piece_end):
                        stream = await hearing.stream()  # speech since the last piece: a new piece
                        if stream is None:  # busy with another run's reply: all of it at the end
                            streaming = False
                        else:
                            fed = rx.index_at(max(last.start, piece_end or start) - PRE_ROLL_S)
                    if last is not None and stream is not None:
                        await stream.feed(rx.samples(fed, rx.total))
                        fed = rx.total
                        if last.end is not None:  # a pause: this piece's words now
                            # with the pause's own quiet once more: a recognizer cuts a last word
                            # that ends too close to its utterance's end (as pipecat pads segments)
                            await stream.feed(rx.samples(rx.index_at(last.end + PAD_FROM_S), rx.total))
                            pieces.append(await stream.finish())
                            stream, piece_end = None, last.end
                if self._agent_ended() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(TAIL_POLL_S if start is not None else POLL_S)
            if turn is not None:
                turn.reply_start, turn.reply_end = start, end
            if start is None:
                return
            if stream is not None:  # the reply ran to the deadline, or ended between two polls
                await stream.feed(rx.samples(fed, rx.total))
                pieces.append(await stream.finish())
                stream = None
            elif not streaming or not _same_time(end, piece_end):  # what was not streamed, whole
                first = start if not streaming or piece_end is None else piece_end
                pieces = pieces if streaming else []
                last_t = (end + 0.2) if end is not None else None
                pieces.append(await hearing.transcribe(rx.segment(first - PRE_ROLL_S, last_t)))
        finally:
            if stream is not None:
                await stream.cancel()
        heard = " ".join(p for p in pieces if p)
        entry.heard, entry.heard_from = heard, hearing.name
        if turn is not None:
            turn.transcript = heard

    def _agent_talks(self) -> bool:
        """The agent's last event says it is still answering (text or audio under way)."""
        return bool(self.ears.talking())
