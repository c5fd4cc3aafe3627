"""Golden calls: a passing run saved as a baseline; later runs report differences and fail past a tolerance.

A baseline is small JSON (no audio): per turn the client-measured latencies and the reply
transcript, plus set-up and first-audio times. Latencies fail when a run is slower than
the baseline by more than ``golden.tolerance_ms`` (being faster never fails); a changed
transcript fails unless the scenario says ``golden: {transcripts: false}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.qa.scenario import GoldenPolicy

GOLDEN_VERSION = 1
TURN_LATENCIES = ("voice_to_voice_ms", "response_ms")
CALL_LATENCIES = ("setup_ms", "first_audio_ms")


def golden_path(directory: str | Path, scenario_name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario_name).strip("_") or "scenario"
    return Path(directory) / f"{safe}.golden.json"


def baseline_from(result: dict[str, Any]) -> dict[str, Any]:
    """What a run's result JSON (ScenarioResult.to_json) keeps as a baseline."""
    return {
        "version": GOLDEN_VERSION,
        "scenario": result["name"],
        "target": result["target"],
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup_ms": result.get("setup_ms"),
        "first_audio_ms": result.get("first_audio_ms"),
        "turns": [
            {
                "said": t.get("said"),
                "voice_to_voice_ms": t.get("voice_to_voice_ms"),
                "response_ms": t.get("response_ms"),
                "transcript": t.get("transcript"),
            }
            for t in result.get("turns", [])
        ],
    }


def save_baseline(path: str | Path, result: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_from(result), indent=1) + "\n", encoding="utf-8")
    return path


def load_baseline(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the golden call {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not a golden call (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("version") != GOLDEN_VERSION or "turns" not in data:
        raise ConfigError(f"{path} is not a golden call of this VoiceDesk (version {GOLDEN_VERSION})")
    return data


@dataclass(frozen=True)
class Difference:
    what: str
    baseline: Any
    measured: Any
    delta_ms: float | None
    failed: bool

    def describe(self) -> str:
        if self.delta_ms is not None:
            return f"{self.what}: {self.measured} ms vs golden {self.baseline} ms ({self.delta_ms:+.1f} ms)"
        return f"{self.what}: {self.measured!r} vs golden {self.baseline!r}"

    def to_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "golden": self.baseline,
            "measured": self.measured,
            "delta_ms": None if self.delta_ms is None else round(self.delta_ms, 1),
            "failed": self.failed,
        }


def compare(baseline: dict[str, Any], result: dict[str, Any], policy: GoldenPolicy) -> list[Difference]:
    """Every difference between a run and its golden call; ``failed`` marks those past the tolerance."""
    diffs: list[Difference] = []

    def latency(what: str, old: Any, new: Any) -> None:
        if old is None and new is None:
            return
        if old is None or new is None:
            diffs.append(Difference(what, old, new, None, failed=old is not None))
            return
        delta = float(new) - float(old)
        diffs.append(Difference(what, old, new, delta, failed=delta > policy.tolerance_ms))

    for name in CALL_LATENCIES:
        latency(name, baseline.get(name), result.get(name))
    old_turns, new_turns = baseline.get("turns", []), result.get("turns", [])
    if len(old_turns) != len(new_turns):
        diffs.append(Difference("turns", len(old_turns), len(new_turns), None, failed=True))
    for i, (old, new) in enumerate(zip(old_turns, new_turns, strict=False), start=1):
        for name in TURN_LATENCIES:
            latency(f"turn {i} {name}", old.get(name), new.get(name))
        if (old.get("transcript") or "") != (new.get("transcript") or ""):
            diffs.append(
                Difference(
                    f"turn {i} transcript", old.get("transcript"), new.get("transcript"), None, policy.transcripts
                )
            )
    return diffs
