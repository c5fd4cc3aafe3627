"""Small, surgical SDP edits that leave every other byte alone.

They work on lines of the parsed model, so line endings, unknown attributes and the
order of what stays are kept. ``voicedesk sdp edit`` exposes them for
``voicedesk call --edit-offer 'voicedesk sdp edit --keep-codec PCMU -'``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from voicedesk.cores import leave_media_cpu
from voicedesk.errors import SdpError
from voicedesk.rtc.sdp.model import SdpLine, parse

_PT_ATTRIBUTES = ("rtpmap", "fmtp", "rtcp-fb")


def keep_codecs(text: str, names: Iterable[str], kind: str = "audio") -> str:
    """Keep only the named codecs (e.g. {"PCMU"}) in every ``kind`` section, in their order."""
    wanted = {n.lower() for n in names}
    desc = parse(text)
    drop_lines: set[int] = set()
    new_m: dict[int, str] = {}
    for media in desc.media:
        if media.kind != kind or not media.is_rtp:
            continue
        keep = [pt for pt, codec in media.codecs.items() if (codec.name or "").lower() in wanted]
        if not keep:
            have = ", ".join(c.describe() for c in media.codecs.values())
            raise SdpError(f"{media.label()} has none of {', '.join(sorted(wanted))} (it has {have})")
        dropped = {str(pt) for pt in media.codecs if pt not in keep}
        head = desc.line(media.line).text.split()[:3]
        new_m[media.line] = " ".join([*head, *(f for f in media.formats if f not in dropped)])
        for line in desc.lines[media.line : media.last_line]:
            name, value = line.attribute if line.type == "a" else ("", None)
            if name in _PT_ATTRIBUTES and value is not None and value.split(" ", 1)[0] in dropped:
                drop_lines.add(line.number)
    return _rebuild(desc.lines, drop_lines, new_m)


def drop_candidates(text: str, types: Iterable[str] = (), transports: Iterable[str] = ()) -> str:
    """Remove candidates of the given types (host/srflx/prflx/relay) or transports (udp/tcp)."""
    types_, transports_ = {t.lower() for t in types}, {t.lower() for t in transports}
    desc = parse(text)
    drop = {
        c.line
        for media in desc.media
        for c in media.candidates
        if c.type.lower() in types_ or c.transport.lower() in transports_
    }
    return _rebuild(desc.lines, drop, {})


def _rebuild(lines: list[SdpLine], drop: set[int], replace: dict[int, str]) -> str:
    out = []
    for line in lines:
        if line.number in drop:
            continue
        out.append(replace.get(line.number, line.text) + line.ending)
    return "".join(out)


def command_editor(command: str, kind: str, timeout: float = 30.0) -> Callable[[str], Awaitable[str]]:
    """An SDP edit hook for ``Call(edit_offer=…)`` that pipes the SDP through a shell command.

    The command reads the SDP on stdin and writes the SDP to use on stdout. A command that
    fails, hangs past ``timeout`` or prints nothing ends the call with one line that says so.
    """
    option = f"--edit-{kind}"

    async def edit(sdp: str) -> str:
        try:
            process = await asyncio.create_subprocess_shell(
                command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            raise SdpError(f"{option} command cannot be started: {exc.strerror or exc}") from None
        leave_media_cpu(process.pid)  # started by the media loop's thread: off its CPU
        try:
            out, err = await asyncio.wait_for(process.communicate(sdp.encode("utf-8")), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SdpError(f"{option} command did not finish within {timeout:g} s: {command}") from None
        if process.returncode != 0:
            said = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
            detail = f": {said[-1].strip()}" if said else ""
            raise SdpError(f"{option} command failed (exit status {process.returncode}){detail}")
        try:
            text = out.decode("utf-8")
        except UnicodeDecodeError:
            raise SdpError(f"{option} command printed something that is not UTF-8 text") from None
        if not text.strip():
            raise SdpError(f"{option} command printed nothing (it must print the SDP to use)")
        return text

    return edit
