"""JUnit XML for CI: one testcase per scenario, a failure per unmet expectation, an error when the call failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.qa.evals import check_where, passes, summary_lines


def junit_xml(results: list[dict[str, Any]], suite: str = "voicedesk") -> str:
    failures = sum(1 for r in results if not r["passed"] and not r.get("error"))
    errors = sum(1 for r in results if r.get("error"))
    total_time = sum(r.get("duration_s", 0.0) for r in results)
    root = ET.Element("testsuites", name=suite, tests=str(len(results)), failures=str(failures), errors=str(errors))
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors=str(errors),
        time=f"{total_time:.3f}",
    )
    for r in results:
        case = ET.SubElement(
            ts,
            "testcase",
            classname=f"{suite}.{Path(r['scenario'].rsplit(':', 1)[0]).stem}",
            name=r["name"],
            time=f"{r.get('duration_s', 0.0):.3f}",
            file=r["scenario"].rsplit(":", 1)[0],
        )
        lines = [
            f"{'PASS' if c['passed'] else 'FAIL'} {check_where(c)} (line {c['line']}): expected {c['expected']}; "
            f"measured {c['measured']}" + (f" — {c['message']}" if c.get("message") else "")
            for c in r.get("checks", [])
        ]
        golden = r.get("golden") or {}
        lines += [
            f"golden: {d['what']}: golden {d['golden']}, measured {d['measured']}"
            for d in golden.get("differences", [])
        ]
        if r.get("error"):
            element = ET.SubElement(case, "error", message=r["error"], type="CallError")
            element.text = "\n".join([r["error"], *lines])
        elif not r["passed"]:
            failed = [c for c in r.get("checks", []) if not c["passed"]]
            golden_failed = [d for d in golden.get("differences", []) if d["failed"]]
            first = (
                f"{check_where(failed[0])} (line {failed[0]['line']}): expected {failed[0]['expected']}, "
                f"measured {failed[0]['measured']}"
                if failed
                else f"golden call: {golden_failed[0]['what']} differs"
                if golden_failed
                else "failed"
            )
            element = ET.SubElement(case, "failure", message=first, type="ExpectationFailed")
            element.text = "\n".join(lines)
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(lines)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | Path, results: list[dict[str, Any]]) -> None:
    try:
        Path(path).write_text(junit_xml(results), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the JUnit file {path}: {exc.strerror or exc}") from None


def repeat_junit_xml(summaries: list[dict[str, Any]], min_pass_rate: float | None, suite: str = "voicedesk") -> str:
    """Repeated runs: one testcase per scenario, its pass rate in properties and the message.

    A scenario fails when its pass rate is under ``min_pass_rate`` (every run must pass when
    there is none); a flaky one (passed only sometimes) says so even when the rate is enough.
    Judged expectations are labelled ``[judged]``.
    """
    failing = [s for s in summaries if not passes(s, min_pass_rate)]
    total_runs = sum(s["runs"] for s in summaries)
    root = ET.Element("testsuites", name=suite, tests=str(len(summaries)), failures=str(len(failing)), errors="0")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(summaries)), failures=str(len(failing)), errors="0")
    props = ET.SubElement(ts, "properties")
    ET.SubElement(props, "property", name="runs", value=str(total_runs))
    if min_pass_rate is not None:
        ET.SubElement(props, "property", name="min_pass_rate", value=f"{min_pass_rate:g}")
    for s in summaries:
        file = str(s.get("scenario") or "").rsplit(":", 1)[0]
        case = ET.SubElement(
            ts, "testcase", classname=f"{suite}.{Path(file).stem}", name=s["name"], file=file, time="0.000"
        )
        cprops = ET.SubElement(case, "properties")
        for name, value in (
            ("runs", s["runs"]),
            ("passed", s["passed"]),
            ("pass_rate", s["pass_rate"]),
            ("flaky", str(s["flaky"]).lower()),
        ):
            ET.SubElement(cprops, "property", name=name, value=str(value))
        lines = summary_lines(s, min_pass_rate)
        if s in failing:
            wanted = f"at least {min_pass_rate * 100:g} %" if min_pass_rate is not None else "every run"
            element = ET.SubElement(
                case,
                "failure",
                message=f"pass rate {s['pass_rate'] * 100:.0f} % ({s['passed']} of {s['runs']} runs); wanted {wanted}"
                + (" (flaky)" if s["flaky"] else ""),
                type="PassRate",
            )
            element.text = "\n".join(lines)
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(lines)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_repeat_junit(path: str | Path, summaries: list[dict[str, Any]], min_pass_rate: float | None) -> None:
    try:
        Path(path).write_text(repeat_junit_xml(summaries, min_pass_rate), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the JUnit file {path}: {exc.strerror or exc}") from None
