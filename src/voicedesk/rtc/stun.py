"""A small STUN/TURN client over UDP, TCP and TLS, to ask a server what it thinks.

aiortc says nothing when a TURN server refuses the credentials: gathering ends
with no relay candidate and no exception. The probe therefore talks to each
server itself: a Binding request (RFC 8489) for STUN, an Allocate (RFC 8656)
answered by ``401`` + REALM/NONCE and retried with long-term credentials
(MESSAGE-INTEGRITY, FINGERPRINT) for TURN. That tells apart "the server refused
the credentials" (a 401 *after* authenticating) from "no answer after N ms".

With an allocation in hand, ``measure_relay_rtt`` bounces datagrams off a local
UDP echo through the relay and reports the round-trip time.

Message encoding and parsing come from aioice (which aiortc already uses); the
transactions, retransmissions, framing and verdicts are ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import ipaddress
import logging
import re
import socket
import ssl as ssl_module
import statistics
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aioice import stun

from voicedesk.config import PROBE_TIMEOUT_S

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = PROBE_TIMEOUT_S
RTO = 0.5  # initial retransmission timeout over UDP (RFC 8489 section 6.2.1)
UDP_TRANSPORT = 17 << 24  # REQUESTED-TRANSPORT value for UDP (RFC 8656 section 18.7)
RTT_PINGS = 5

_URL = re.compile(
    r"(?P<scheme>stuns?|turns?):(?P<host>\[[^\]]+\]|[^?:\[\]]+)(?::(?P<port>\d+))?(?:\?transport=(?P<transport>\w+))?"
)


class Outcome(enum.Enum):
    ANSWERED = "answered"  # STUN Binding answered
    ALLOCATED = "allocated"  # TURN gave a relay address
    REFUSED = "refused"  # TURN said 401 after we authenticated
    NO_ANSWER = "no_answer"  # timeout, port unreachable, connection refused
    ERROR = "error"  # any other error response, DNS or TLS failure


@dataclass(frozen=True)
class ServerAddress:
    """One ``stun:``/``turn:`` URL, parsed the way aiortc parses it."""

    url: str
    scheme: str
    host: str
    port: int
    transport: str  # udp or tcp

    @property
    def is_turn(self) -> bool:
        return self.scheme.startswith("turn")

    @property
    def tls(self) -> bool:
        return self.scheme in ("turns", "stuns")

    @property
    def kind(self) -> str:
        return "TURN" if self.is_turn else "STUN"

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def via(self) -> str:
        return "TLS" if self.tls else self.transport.upper()

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        match = _URL.fullmatch(url.strip())
        if not match:
            raise ValueError(f"not a STUN/TURN URL: {url!r}")
        scheme = match["scheme"]
        host = match["host"].strip("[]")
        port = int(match["port"]) if match["port"] else (5349 if scheme in ("stuns", "turns") else 3478)
        transport = match["transport"] or ("tcp" if scheme in ("stuns", "turns") else "udp")
        return cls(url, scheme, host, port, transport.lower())


@dataclass(frozen=True)
class ServerVerdict:
    """What one server did when asked, in words a user can act on."""

    url: str
    kind: str  # "STUN" or "TURN"
    transport: str  # "UDP", "TCP" or "TLS"
    endpoint: str  # host:port
    outcome: Outcome
    text: str
    elapsed_ms: float
    mapped_address: str | None = None  # our address as the server saw it
    relayed_address: str | None = None  # the relay the TURN server allocated
    rtt_ms: float | None = None  # STUN: Binding round trip; TURN: round trip through the relay to a local echo
    rtt_samples: int = 0
    error_code: int | None = None
    used_by_aiortc: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ANSWERED, Outcome.ALLOCATED)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "transport": self.transport,
            "endpoint": self.endpoint,
            "outcome": self.outcome.value,
            "verdict": self.text,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "mapped_address": self.mapped_address,
            "relayed_address": self.relayed_address,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 2),
            "rtt_samples": self.rtt_samples,
            "error_code": self.error_code,
            "used_by_aiortc": self.used_by_aiortc,
        }


class StunNoAnswer(Exception):
    """No answer before the deadline; ``why`` names an ICMP error or a refused connection if one came."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why or "no answer")
        self.why = why


class StunErrorResponse(Exception):
    def __init__(self, response: stun.Message) -> None:
        code, reason = response.attributes.get("ERROR-CODE", (0, ""))
        super().__init__(f"{code} {reason}".strip())
        self.response = response
        self.code = int(code)
        self.reason = str(reason)


def integrity_key(username: str, realm: str, password: str) -> bytes:
    """Long-term credential key (RFC 8489 section 9.2.2)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


def _address(value: tuple[str, int] | None) -> str | None:
    if value is None:
        return None
    host, port = value[0], value[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "port unreachable: nothing listens there"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__


# transport ----------------------------------------------------------------


class _Channel:
    """One socket to one server: transactions, indications, STUN-over-TCP framing."""

    def __init__(self, server: tuple[str, int], stream: bool) -> None:
        self.server = server
        self.stream = stream
        self.transport: asyncio.BaseTransport | None = None
        self.indications: asyncio.Queue[stun.Message] = asyncio.Queue()
        self._pending: dict[bytes, asyncio.Future[stun.Message]] = {}
        self._buffer = b""
        self.error: BaseException | None = None

    # asyncio protocol callbacks (both datagram and stream flavours)
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self._fail_pending(exc or ConnectionResetError("the server closed the connection"))

    def error_received(self, exc: BaseException) -> None:
        # a connected UDP socket reports ICMP port unreachable here
        self._fail_pending(exc)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._received(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            first, length = struct.unpack("!HH", self._buffer[:4])
            if 0x4000 <= first <= 0x7FFF:  # ChannelData, padded to 4 bytes over TCP
                full = 4 + length + (-length % 4)
            else:
                full = 20 + length
            if len(self._buffer) < full:
                break
            frame, self._buffer = self._buffer[:full], self._buffer[full:]
            self._received(frame)

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    def _fail_pending(self, exc: BaseException) -> None:
        self.error = exc
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)

    def _received(self, data: bytes) -> None:
        if len(data) < 20 or data[0] & 0xC0:  # not STUN (ChannelData: unused here)
            return
        try:
            message = stun.parse_message(data)
        except ValueError as exc:
            logger.debug("dropping a malformed STUN message from %s: %s", self.server, exc)
            return
        if message.message_class in (stun.Class.RESPONSE, stun.Class.ERROR):
            future = self._pending.get(message.transaction_id)
            if future is not None and not future.done():
                future.set_result(message)
        elif message.message_class == stun.Class.INDICATION:
            self.indications.put_nowait(message)

    def send(self, message: stun.Message) -> None:
        data = bytes(message)
        if self.stream:
            self.transport.write(data)  # type: ignore[union-attr]
        else:
            self.transport.sendto(data)  # type: ignore[union-attr]

    async def request(self, message: stun.Message, deadline: float) -> stun.Message:
        """Send and wait for the answer until ``deadline`` (loop time); raise StunErrorResponse on an error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[stun.Message] = loop.create_future()
        self._pending[message.transaction_id] = future
        rto = RTO
        try:
            while True:
                if self.error is not None:
                    raise StunNoAnswer(_why(self.error))
                self.send(message)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise StunNoAnswer()
                # over TCP a request is sent once (RFC 8489 section 6.2.2); over UDP it is retransmitted
                wait = remaining if self.stream else min(rto, remaining)
                try:
                    response = await asyncio.wait_for(asyncio.shield(future), wait)
                    break
                except TimeoutError:
                    if loop.time() >= deadline:
                        raise StunNoAnswer() from None
                    rto *= 2
                except OSError as exc:
                    raise StunNoAnswer(_why(exc)) from None
        finally:
            self._pending.pop(message.transaction_id, None)
            if not future.done():
                future.cancel()
        if response.message_class == stun.Class.ERROR:
            raise StunErrorResponse(response)
        return response

    @property
    def local_address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _resolve(host: str, port: int, stream: bool) -> tuple[str, int]:
    with contextlib.suppress(ValueError):
        return (str(ipaddress.ip_address(host)), port)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
    # IPv4 first: aioice asks STUN servers over IPv4 only
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return infos[0][4][0], infos[0][4][1]


async def open_channel(
    server: ServerAddress, deadline: float, ssl_context: ssl_module.SSLContext | None = None
) -> _Channel:
    loop = asyncio.get_running_loop()
    stream = server.transport == "tcp" or server.tls
    address = await asyncio.wait_for(_resolve(server.host, server.port, stream), max(0.01, deadline - loop.time()))
    channel = _Channel(address, stream)
    if stream:
        context = None
        if server.tls:
            context = ssl_context or ssl_module.create_default_context()
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: channel,
                    address[0],
                    address[1],
                    ssl=context,
                    server_hostname=server.host if context else None,
                ),
                max(0.01, deadline - loop.time()),
            )
        except ssl_module.SSLError as exc:
            raise TlsFailed(exc.reason or str(exc)) from None
    else:
        await loop.create_datagram_endpoint(lambda: channel, remote_addr=address)
    return channel


class TlsFailed(Exception):
    pass


# STUN -------------------------------------------------------------------


def _now() -> float:
    return asyncio.get_running_loop().time()


def _binding_request() -> stun.Message:
    message = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    message.add_fingerprint()
    return message


async def stun_binding(server: ServerAddress, budget_s: float = DEFAULT_TIMEOUT) -> ServerVerdict:
    """Send a Binding request; say what address the server saw, or why it did not answer."""
    start = _now()
    deadline = start + budget_s

    def verdict(outcome: Outcome, text: str, **extra: Any) -> ServerVerdict:
        return ServerVerdict(
            server.url, server.kind, server.via, server.endpoint, outcome, text, (_now() - start) * 1000, **extra
        )

    try:
        channel = await open_channel(server, deadline)
    except (StunNoAnswer, TimeoutError, OSError, TlsFailed) as exc:
        return _unreachable(server, exc, start, verdict)
    try:
        response = await channel.request(_binding_request(), deadline)
    except StunNoAnswer as exc:
        return _no_answer(server, start, verdict, exc.why)
    except StunErrorResponse as exc:
        return verdict(Outcome.ERROR, f"{server.kind} server at {server.endpoint} answered {exc}", error_code=exc.code)
    finally:
        channel.close()
    rtt = (_now() - start) * 1000
    mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or response.attributes.get("MAPPED-ADDRESS")
    if mapped is None:
        return verdict(Outcome.ERROR, f"STUN server at {server.endpoint} answered without a mapped address")
    return verdict(
        Outcome.ANSWERED,
        f"STUN answered from {_address(mapped)} in {rtt:.0f} ms",
        mapped_address=_address(mapped),
        rtt_ms=rtt,
        rtt_samples=1,
    )


def _no_answer(server: ServerAddress, start: float, verdict: Callable[..., ServerVerdict], why: str | None = None):
    elapsed = (_now() - start) * 1000
    via = f" over {server.via}" if server.via != "UDP" else ""
    return verdict(
        Outcome.NO_ANSWER,
        f"no answer from {server.kind} server at {server.endpoint}{via} after {elapsed:.0f} ms"
        + (f" ({why})" if why else ""),
    )


def _unreachable(server: ServerAddress, exc: BaseException, start: float, verdict: Callable[..., ServerVerdict]):
    if isinstance(exc, TlsFailed):
        return verdict(
            Outcome.ERROR,
            f"TLS handshake with {server.kind} server at {server.endpoint} failed: {exc} (the certificate must be "
            f"valid for {server.host}; a private CA can be trusted with SSL_CERT_FILE)",
        )
    if isinstance(exc, socket.gaierror):
        return verdict(Outcome.ERROR, f"cannot resolve {server.host}: {_why(exc)}")
    if isinstance(exc, ConnectionRefusedError):
        return _no_answer(server, start, verdict, "connection refused: nothing listens there")
    if isinstance(exc, TimeoutError):
        return _no_answer(server, start, verdict)
    if isinstance(exc, StunNoAnswer):
        return _no_answer(server, start, verdict, exc.why)
    return _no_answer(server, start, verdict, _why(exc))


# TURN -------------------------------------------------------------------


class TurnAllocation:
    """An allocation on a TURN server, authenticated with long-term credentials."""

    def __init__(self, channel: _Channel, username: str | None, password: str | None) -> None:
        self.channel = channel
        self.username = username
        self.password = password
        self.realm: str | None = None
        self.nonce: bytes | None = None
        self.key: bytes | None = None
        self.relayed: tuple[str, int] | None = None
        self.mapped: tuple[str, int] | None = None
        self.lifetime: int | None = None

    def _sign(self, message: stun.Message) -> stun.Message:
        if self.key is not None and self.username is not None:
            message.attributes["USERNAME"] = self.username
            message.attributes["REALM"] = self.realm
            message.attributes["NONCE"] = self.nonce
            message.add_message_integrity(self.key)
        message.add_fingerprint()
        return message

    async def _authenticated_request(self, build: Callable[[], stun.Message], deadline: float) -> stun.Message:
        """Send, and on 401/438 learn realm/nonce and send once more signed (RFC 8656 section 7.2)."""
        tried_auth = self.key is not None
        stale_retries = 1
        while True:
            try:
                return await self.channel.request(self._sign(build()), deadline)
            except StunErrorResponse as exc:
                attrs = exc.response.attributes
                if exc.code == 438 and "NONCE" in attrs and stale_retries > 0:
                    stale_retries -= 1
                    self.nonce = attrs["NONCE"]
                    continue
                if exc.code == 401 and not tried_auth and "REALM" in attrs and "NONCE" in attrs:
                    if self.username is None or self.password is None:
                        raise
                    tried_auth = True
                    self.realm = attrs["REALM"]
                    self.nonce = attrs["NONCE"]
                    self.key = integrity_key(self.username, self.realm, self.password)
                    continue
                raise

    async def allocate(self, deadline: float, lifetime: int = 600) -> tuple[str, int]:
        def build() -> stun.Message:
            message = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
            message.attributes["LIFETIME"] = lifetime
            message.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
            return message

        response = await self._authenticated_request(build, deadline)
        self.relayed = response.attributes["XOR-RELAYED-ADDRESS"]
        self.mapped = response.attributes.get("XOR-MAPPED-ADDRESS")
        self.lifetime = response.attributes.get("LIFETIME")
        return self.relayed

    async def create_permission(self, peer: tuple[str, int], deadline: float) -> None:
        def build() -> stun.Message:
            message = stun.Message(message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST)
            message.attributes["XOR-PEER-ADDRESS"] = peer
            return message

        await self._authenticated_request(build, deadline)

    def send_to(self, peer: tuple[str, int], data: bytes) -> None:
        message = stun.Message(message_method=stun.Method.SEND, message_class=stun.Class.INDICATION)
        message.attributes["XOR-PEER-ADDRESS"] = peer
        message.attributes["DATA"] = data
        message.add_fingerprint()
        self.channel.send(message)

    async def release(self, budget_s: float = 1.0) -> None:
        """Refresh with lifetime 0 so the server frees the relay port now, not in 10 minutes."""
        if self.relayed is None:
            return

        def build() -> stun.Message:
            message = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
            message.attributes["LIFETIME"] = 0
            return message

        with contextlib.suppress(StunNoAnswer, StunErrorResponse, OSError):
            await self._authenticated_request(build, _now() + budget_s)
        self.relayed = None


class _UdpEcho(asyncio.DatagramProtocol):
    """Sends every datagram back where it came from; also answers our own Binding requests' responses."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.responses: dict[bytes, asyncio.Future[stun.Message]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 20 and data[0] == 0x01 and data[4:8] == b"\x21\x12\xa4\x42":
            with contextlib.suppress(ValueError):
                message = stun.parse_message(data)
                future = self.responses.get(message.transaction_id)
                if future is not None and not future.done():
                    future.set_result(message)
            return
        assert self.transport is not None
        self.transport.sendto(data, addr)


async def _echo_peer_address(echo: _UdpEcho, local: tuple[str, int], server: tuple[str, int]) -> tuple[str, int]:
    """Where the relay must send to reach our echo: its own address when the server is on a private or
    loopback network, else the address the server sees it from (a Binding over UDP, like srflx)."""
    server_ip = ipaddress.ip_address(server[0])
    if server_ip.is_loopback or server_ip.is_private:
        return local
    request = _binding_request()
    future: asyncio.Future[stun.Message] = asyncio.get_running_loop().create_future()
    echo.responses[request.transaction_id] = future
    assert echo.transport is not None
    try:
        for wait in (0.5, 1.0):
            echo.transport.sendto(bytes(request), server)
            with contextlib.suppress(TimeoutError):
                response = await asyncio.wait_for(asyncio.shield(future), wait)
                return response.attributes.get("XOR-MAPPED-ADDRESS", local)
    finally:
        future.cancel()
    return local


async def measure_relay_rtt(
    allocation: TurnAllocation, pings: int = RTT_PINGS, budget_s: float = 2.0
) -> tuple[float | None, int]:
    """Median round trip (ms) of datagrams sent through the relay to a local UDP echo and back."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    local_ip = allocation.channel.local_address[0]
    transport, echo = await loop.create_datagram_endpoint(_UdpEcho, local_addr=(local_ip, 0))
    samples: list[float] = []
    try:
        echo_addr = transport.get_extra_info("sockname")[:2]
        peer = await _echo_peer_address(echo, echo_addr, allocation.channel.server)
        await allocation.create_permission(peer, deadline)
        # indications from before (none expected) must not be taken for echoes
        while not allocation.channel.indications.empty():
            allocation.channel.indications.get_nowait()
        for seq in range(pings):
            payload = b"voicedesk-rtt-" + struct.pack("!I", seq)
            sent = loop.time()
            allocation.send_to(peer, payload)
            while loop.time() < deadline:
                try:
                    message = await asyncio.wait_for(allocation.channel.indications.get(), deadline - loop.time())
                except TimeoutError:
                    break
                if message.message_method == stun.Method.DATA and message.attributes.get("DATA") == payload:
                    samples.append((loop.time() - sent) * 1000)
                    break
    except (StunNoAnswer, StunErrorResponse, OSError) as exc:
        logger.info("relay round trip not measured: %s", exc)
    finally:
        transport.close()
    return (statistics.median(samples) if samples else None), len(samples)


def _expired_username(username: str | None) -> str | None:
    """Ephemeral (TURN REST) usernames start with their unix expiry; say so if it has passed."""
    if not username:
        return None
    head = username.split(":", 1)[0]
    if head.isdigit() and len(head) >= 9 and int(head) <= time.time():
        ago = int(time.time() - int(head))
        return f"the ephemeral username expired {ago} s ago: mint fresh credentials"
    return None


async def turn_allocate(
    server: ServerAddress,
    username: str | None,
    password: str | None,
    budget_s: float = DEFAULT_TIMEOUT,
    measure_rtt: bool = True,
    ssl_context: ssl_module.SSLContext | None = None,
) -> ServerVerdict:
    """Allocate a relay with the given credentials (then free it) and say what happened."""
    start = _now()
    deadline = start + budget_s

    def verdict(outcome: Outcome, text: str, **extra: Any) -> ServerVerdict:
        return ServerVerdict(
            server.url, server.kind, server.via, server.endpoint, outcome, text, (_now() - start) * 1000, **extra
        )

    try:
        channel = await open_channel(server, deadline, ssl_context)
    except (StunNoAnswer, TimeoutError, OSError, TlsFailed) as exc:
        return _unreachable(server, exc, start, verdict)
    allocation = TurnAllocation(channel, username, password)
    try:
        try:
            relayed = await allocation.allocate(deadline)
        except StunNoAnswer as exc:
            return _no_answer(server, start, verdict, exc.why)
        except StunErrorResponse as exc:
            if exc.code == 401:
                if allocation.key is None:
                    detail = "it asks for credentials and none were given"
                else:
                    detail = f"401 {exc.reason or 'Unauthorized'} for user {username!r}"
                    expired = _expired_username(username)
                    if expired:
                        detail += f"; {expired}"
                return verdict(Outcome.REFUSED, f"TURN refused the credentials ({detail})", error_code=401)
            return verdict(
                Outcome.ERROR,
                f"TURN server at {server.endpoint} answered {exc.code} {exc.reason}".rstrip(),
                error_code=exc.code,
            )
        allocated_ms = (_now() - start) * 1000
        rtt, samples = (None, 0)
        if measure_rtt:
            rtt, samples = await measure_relay_rtt(allocation)
        text = f"TURN allocated a relay at {_address(relayed)} in {allocated_ms:.0f} ms"
        if measure_rtt:
            text += (
                f"; round trip through the relay {rtt:.1f} ms ({samples} of {RTT_PINGS} echoes)"
                if rtt is not None
                else "; no echo came back through the relay"
            )
        return ServerVerdict(
            server.url,
            server.kind,
            server.via,
            server.endpoint,
            Outcome.ALLOCATED,
            text,
            allocated_ms,
            mapped_address=_address(allocation.mapped),
            relayed_address=_address(relayed),
            rtt_ms=rtt,
            rtt_samples=samples,
        )
    finally:
        await allocation.release()
        channel.close()
