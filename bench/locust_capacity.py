"""Locust users vs ``voicedesk load``: calls per core at the quality bar, same run, same server.

    .venv/bin/python bench/locust_capacity.py [--hold 8] [--steps 20,40,80] [--talk-steps 20,40,60]

The echo server (``voicedesk serve --agent echo``, forwarding) is pinned to CPU 0; the
load generator under test to CPU 1 (a Locust process and its media engine child
together, or one ``voicedesk load --processes 1``), so calls per core are the
generator's own. For each count in ``--steps`` both generators hold that many calls
for ``--hold`` seconds; a count passes when every call that was held to the end met
the bar (>= 48 frames/s received, loss < 1 %, jitter < 20 ms).

(a) tone callers: ``voicedesk load`` vs a lone Locust process (``voicedesk load --locust``);
(b) conversational callers (Locust, ``--say``: a 0.6 s utterance, wait for the reply,
    voice-to-voice every turn) against the same echo, vs the tone callers' figure;
(c) voice-to-voice agreement: the ``parrot`` agent (its own server, CPU 0) called by one
    conversational caller alone that decodes (``--onset decoded``), then by 2 talkers reading
    RFC 6464 levels inside a Locust process that also carries ``--agreement-load`` tone
    calls to the echo; medians compared (the parrot's own timing varies from turn to turn).

Results go to bench/RESULTS.md by hand, with the machine's load at the time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_capacity import Server, free_port, load, loadavg


def locust_run(
    url: str, users: int, hold: float, cpus: set[int], extra: list[str] | None = None, locustfile: Path | None = None
) -> dict:
    """A lone Locust process (LocalRunner + its engine child), every user up within ~3 s.

    With ``locustfile``, that file's users (and their own targets) instead of the built-in one."""
    rate = max(5.0, users / 3.0)
    run_s = users / rate + hold + 10.0  # the engine starts while users spawn: ~2–6 s on a busy machine
    prefix = Path(tempfile.mkdtemp(prefix="vd_locust_")) / "out"
    if locustfile is None:
        args = [sys.executable, "-m", "voicedesk", "load", url, "--duration", str(hold), "--timeout", "20"]
        args += [*(extra or []), "--locust"]
    else:
        args = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    args += [
        "--headless",
        "-u",
        str(users),
        "-r",
        str(rate),
        "-t",
        f"{run_s:.0f}s",
        "--csv",
        str(prefix),
        "--only-summary",
    ]
    cpu_before = children_cpu_s()
    subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        timeout=run_s + 120,
    )
    cpu_s = children_cpu_s() - cpu_before  # Locust and its engine (waited for by Locust), startup included
    summary_path = Path(f"{prefix}_voicedesk.json")
    if not summary_path.exists():
        return {"calls": 0, "ok": False}
    summary = json.loads(summary_path.read_text())
    turns = {}
    call_s = 0.0
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if (row["Type"], row["Name"]) == ("call", "call"):
                call_s = int(row["Request Count"]) * float(row["Average Response Time"]) / 1000.0
            if row["Name"].startswith("turn/"):
                turns[f"{row['Type']} {row['Name']}"] = {
                    "count": int(row["Request Count"]),
                    "failed": int(row["Failure Count"]),
                    "median": float(row["Median Response Time"]),
                    "mean": round(float(row["Average Response Time"]), 1),
                }
    judged = summary["calls"] - summary["cut_short"] - summary.get("unmeasured", 0)
    return {
        "calls": summary["calls"],
        "judged": judged,
        "at_bar": summary["at_quality_bar"],
        "failed": summary["failed"],
        "failures": summary["failures"],
        "ok": judged >= users and summary["at_quality_bar"] >= judged and summary["failed"] == 0,
        "turns": turns,
        "cpu_ms_per_call_s": round(1000.0 * cpu_s / call_s, 1) if call_s else None,
    }


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def voicedesk_load(url: str, calls: int, hold: float, cpus: set[int]) -> dict:
    cpu_before = children_cpu_s()
    report = load(url, calls, hold, cpus)
    cpu_s = children_cpu_s() - cpu_before  # the load process and its worker process, startup included
    return {
        "calls": report["calls"],
        "at_bar": report["meeting_quality_bar"],
        "fps_min": (report.get("rx_fps") or {}).get("min"),
        "failures": report.get("failures"),
        "ok": report["meeting_quality_bar"] == calls,
        "cpu_ms_per_call_s": round(1000.0 * cpu_s / (calls * hold), 1),
    }


def single_decoded(url: str, hold: float, cpus: set[int]) -> dict:
    out = subprocess.run(
        [
            *(sys.executable, "-m", "voicedesk", "load", url, "--calls", "1", "--duration", str(hold)),
            *("--processes", "1", "--say", "tone:600/0.6", "--onset", "decoded", "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    return json.loads(out.stdout.splitlines()[-1])


def parrot_server(cpu: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "voicedesk", "serve", "--port", str(port), "--agent", "parrot", "-o", "delay=300"),
            *("--max-sessions", "1000", "--max-loop-lag-ms", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    os.sched_setaffinity(proc.pid, {cpu})
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}/api/voice/offer"


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants, now (from /proc)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_s(int(child))
    except OSError:
        pass
    return total


def live_sessions(url: str) -> int:
    base = url.rsplit("/api/", 1)[0]
    with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
        return json.load(response)["sessions"]


def steady_cpu(args: list[str], url: str, n: int, window: float, gen: set[int]) -> dict:
    """Start a generator, wait until the server holds its ``n`` calls, then its CPU over ``window`` s
    (imports, set-up and hang-up excluded: the steady cost of calls that are up)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, gen)
    )
    try:
        deadline = time.monotonic() + 90
        while live_sessions(url) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        if live_sessions(url) < n:
            return {"error": f"only {live_sessions(url)} of {n} calls came up"}
        time.sleep(1.0)  # past the first second (the jitter buffers' start)
        before, t0 = tree_cpu_s(proc.pid), time.monotonic()
        time.sleep(window)
        cpu, elapsed = tree_cpu_s(proc.pid) - before, time.monotonic() - t0
        up = live_sessions(url)
        return {
            "calls_up": up,
            "cpu_ms_per_call_s": round(1000.0 * cpu / (n * elapsed), 2),
            "core_share": cpu / elapsed,
        }
    finally:
        proc.wait(120)


def cpu_per_call(n: int, hold: float, server_cpu: int, gen: set[int]) -> None:
    """Steady CPU per call-second of each generator with ``n`` calls up, and the calls per core it implies."""
    server = Server("voicedesk", server_cpu)
    window = max(3.0, hold - 6.0)
    base = [sys.executable, "-m", "voicedesk", "load", server.url, "--duration", str(hold), "--timeout", "30"]
    rate = str(max(5.0, n / 3.0))
    locust = ["--locust", "--headless", "-u", str(n), "-r", rate, "-t", f"{hold + 8:.0f}s", "--only-summary"]
    try:
        runs = {}
        for name, args in (
            ("voicedesk load (tone)", [*base, "--calls", str(n), "--ramp", rate, "--processes", "1"]),
            ("locust (tone)", [*base, *locust]),
            ("locust (conversational)", [*base, "--say", "tone:600/0.6", *locust]),
        ):
            runs[name] = steady_cpu(args, server.url, n, window, gen)
            ms = runs[name].get("cpu_ms_per_call_s")
            per_core = round(1000.0 / ms) if ms else None
            print(f"  {name:26s} {ms} ms CPU per call-second -> ~{per_core} calls per core  {runs[name]}", flush=True)
            time.sleep(3)
    finally:
        server.stop()
    vd, tone, talk = (runs[k].get("cpu_ms_per_call_s") or float("nan") for k in runs)
    print(json.dumps({"n": n, "hold": hold, "runs": runs, "load_average_end": loadavg()}))
    print(
        f"calls per core from CPU: locust/voicedesk load = {vd / tone:.2f}x; conversational/tone = {tone / talk:.2f}x "
        f"(load average {loadavg()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", type=float, default=8.0)
    parser.add_argument("--steps", default="20,40,80")
    parser.add_argument("--talk-steps", default="20,40,60")
    parser.add_argument("--agreement-load", type=int, default=30, help="tone callers beside the 2 talkers in (c)")
    parser.add_argument(
        "--cpu-only",
        type=int,
        metavar="N",
        help="only CPU per call-second at N calls for each generator (robust on a machine others load)",
    )
    parser.add_argument("--agreement-only", action="store_true", help="only (c)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs two CPUs: one for the server, one for the load generator")
    gen = {cpus[1]}
    print(f"echo server on CPU {cpus[0]}, generators on CPU {cpus[1]}; load average {loadavg()}", flush=True)
    if args.cpu_only:
        cpu_per_call(args.cpu_only, args.hold, cpus[0], gen)
        return
    result: dict = {"tone": {}, "talk": {}, "agreement": {}}
    server = Server("voicedesk", cpus[0])
    best = {"voicedesk load": 0, "locust": 0, "locust talk": 0}
    try:
        for n in [int(x) for x in args.steps.split(",")] if not args.agreement_only else []:
            vd = voicedesk_load(server.url, n, args.hold, gen)
            time.sleep(2)
            lc = locust_run(server.url, n, args.hold, gen)
            time.sleep(2)
            result["tone"][n] = {"voicedesk load": vd, "locust": lc}
            print(f"  tone {n:4d}: voicedesk load {vd}  |  locust {lc}  (load {loadavg()})", flush=True)
            best["voicedesk load"] = n if vd["ok"] else best["voicedesk load"]
            best["locust"] = n if lc["ok"] else best["locust"]
        for n in [int(x) for x in args.talk_steps.split(",")] if not args.agreement_only else []:
            talk = locust_run(server.url, n, args.hold, gen, ["--say", "tone:600/0.6"])
            time.sleep(2)
            result["talk"][n] = talk
            print(f"  talk {n:4d}: locust {talk}  (load {loadavg()})", flush=True)
            best["locust talk"] = n if talk["ok"] else best["locust talk"]
    finally:
        server.stop()
    # (c) voice-to-voice: one decoded call alone, then 2 talkers reading levels inside a loaded generator
    echo = Server("voicedesk", cpus[0])
    proc, parrot = parrot_server(cpus[0])
    try:
        single = single_decoded(parrot, 14.0, gen)
        time.sleep(1)
        locustfile = Path(tempfile.mkdtemp(prefix="vd_locust_")) / "mixed.py"
        locustfile.write_text(
            "from voicedesk.load.locust import VoiceUser\n\n"
            f"class Load(VoiceUser):\n    weight = {args.agreement_load}\n    target = '{echo.url}'\n"
            "    duration = 14\n\n"
            f"class Talker(VoiceUser):\n    fixed_count = 2\n    target = '{parrot}'\n    duration = 14\n"
            "    say = ['tone:600/0.6']\n",
            encoding="utf-8",
        )
        loaded = locust_run("", args.agreement_load + 2, 14.0, gen, locustfile=locustfile)
        result["agreement"] = {"single_decoded": single["voice_to_voice_ms"], "loaded_by_level": loaded}
        print(f"  parrot: one decoded call {single['voice_to_voice_ms']}; under load {loaded}", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
        echo.stop()
    result["best"] = best
    result["load_average_end"] = loadavg()
    print(json.dumps(result))
    ratio = best["locust"] / best["voicedesk load"] if best["voicedesk load"] else float("nan")
    talk_ratio = best["locust talk"] / best["locust"] if best["locust"] else float("nan")
    print(
        f"calls per core at the bar: locust {best['locust']} vs voicedesk load {best['voicedesk load']} "
        f"= {ratio:.2f}x; "
        f"conversational {best['locust talk']} = {talk_ratio:.2f}x the tone callers (load average {loadavg()})"
    )


if __name__ == "__main__":
    main()
