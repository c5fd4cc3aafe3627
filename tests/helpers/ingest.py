"""A WHIP endpoint that only ingests, as Meetecho's simple-whip-server and media servers
do: it answers ``recvonly`` (it adds no track of its own), reads the audio it gets and
counts the frames. Runs on its own thread (``StubServer``), so the CLI can call it
in-process or as a process."""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from tests.helpers.stub_server import StubServer


class IngestWhipServer(StubServer):
    def __init__(self) -> None:
        super().__init__({("POST", "/whip"): self._post, ("DELETE", "/whip/r/{n}"): self._delete})
        self.frames_received = 0
        self.offers: list[str] = []
        self.answers: list[str] = []
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    async def _post(self, request: web.Request) -> web.Response:
        offer = await request.text()
        self.offers.append(offer)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("track", self._read)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        self.answers.append(pc.localDescription.sdp)
        resource = str(next(self._ids))
        self._pcs[resource] = pc
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": f"/whip/r/{resource}"},
        )

    def _read(self, track: MediaStreamTrack) -> None:
        async def read() -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                self.frames_received += 1

        task = asyncio.get_running_loop().create_task(read(), name="ingest reader")
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _delete(self, request: web.Request) -> web.Response:
        pc = self._pcs.pop(request.match_info["n"], None)
        if pc is None:
            return web.Response(status=404)
        await pc.close()
        return web.Response(status=200)

    async def _stop(self) -> None:
        for pc in list(self._pcs.values()):
            await pc.close()
        for task in list(self._readers):
            task.cancel()
        await super()._stop()
