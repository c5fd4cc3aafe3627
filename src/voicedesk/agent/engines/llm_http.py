"""An OpenAI-compatible chat completions client (streamed SSE or whole answers) and the responder on it.

Settings come from agent options, else from the environment:

| option | environment | default |
| --- | --- | --- |
| ``llm_url`` | ``VOICEDESK_LLM_URL``, ``OPENAI_BASE_URL`` | ``https://api.openai.com/v1`` |
| ``llm_model`` | ``VOICEDESK_LLM_MODEL`` | ``gpt-4o-mini`` |
| ``llm_key`` | ``VOICEDESK_LLM_API_KEY``, ``OPENAI_API_KEY`` | none (no Authorization header) |
| ``llm_timeout`` | ``VOICEDESK_LLM_TIMEOUT`` | ``8`` s to the first token, and between tokens |

``llm_url`` is the API base (``…/v1``); ``/chat/completions`` is appended unless
the URL already ends with it. Any failure — connection refused, HTTP error,
malformed stream, a stall — makes the agent say ``APOLOGY`` and log why; the
call goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from voicedesk.agent.engines.responder import Responder
from voicedesk.errors import ConfigError

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, I cannot answer that right now."
SYSTEM_PROMPT = (
    "You are a voice agent on a phone call. Answer in one or two short spoken sentences, without lists or markup."
)


@dataclass(frozen=True)
class LlmSettings:
    url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 8.0
    system_prompt: str = SYSTEM_PROMPT

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


def settings_from(options: dict[str, str]) -> LlmSettings:
    env = os.environ
    url = options.get("llm_url") or env.get("VOICEDESK_LLM_URL") or env.get("OPENAI_BASE_URL") or LlmSettings.url
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"llm_url must be an http(s) URL, not {url!r}")
    try:
        timeout = float(options.get("llm_timeout") or env.get("VOICEDESK_LLM_TIMEOUT") or LlmSettings.timeout)
    except ValueError:
        raise ConfigError("llm_timeout must be a number of seconds") from None
    return LlmSettings(
        url=url,
        model=options.get("llm_model") or env.get("VOICEDESK_LLM_MODEL") or LlmSettings.model,
        api_key=options.get("llm_key") or env.get("VOICEDESK_LLM_API_KEY") or env.get("OPENAI_API_KEY") or None,
        timeout=timeout,
    )


class LlmError(Exception):
    """Why the endpoint gave no answer (logged; the caller hears the apology)."""


class ChatClient:
    """One OpenAI-compatible chat completions endpoint: streamed (SSE) or whole answers.

    The embedded agent's responder and the QA layer's simulated callers and judges
    share it. Every failure is an ``LlmError`` with a one-line reason.
    """

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    async def _post(
        self, messages: list[dict[str, str]], extra: dict[str, Any], stream: bool
    ) -> aiohttp.ClientResponse:
        await self.start()
        assert self._session is not None
        body = {"model": self.settings.model, "stream": stream, "messages": messages, **extra}
        timeout = self.settings.timeout
        try:
            response = await asyncio.wait_for(
                self._session.post(self.settings.endpoint, json=body, headers=self._headers(stream)), timeout
            )
        except TimeoutError:
            raise LlmError(f"no answer within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise LlmError(_client_error(exc)) from None
        if response.status >= 400:
            text = (await response.text())[:200].strip()
            response.release()
            raise LlmError(f"HTTP {response.status}{': ' + text if text else ''}")
        return response

    async def stream(self, messages: list[dict[str, str]], **extra: Any) -> AsyncIterator[str]:
        """The reply's text in chunks as the endpoint streams them."""
        timeout = self.settings.timeout
        # per-step timeouts rather than one around the generator: the consumer's own
        # work between chunks must not count, and a stall between chunks must
        response = await self._post(messages, extra, stream=True)
        async with response:
            while True:
                try:
                    line = await asyncio.wait_for(response.content.readline(), timeout)
                except TimeoutError:
                    raise LlmError(f"the stream stalled: no data for {timeout:g} s") from None
                except aiohttp.ClientError as exc:
                    raise LlmError(_client_error(exc)) from None
                if not line:
                    return  # EOF without [DONE]: take what came
                chunk = _parse_sse_line(line)
                if chunk is _DONE:
                    return
                if isinstance(chunk, str) and chunk:
                    yield chunk

    async def complete(self, messages: list[dict[str, str]], stream: bool = True, **extra: Any) -> str:
        """The whole reply: streamed and joined, or one JSON answer (``stream=False``)."""
        if stream:
            return "".join([chunk async for chunk in self.stream(messages, **extra)])
        response = await self._post(messages, extra, stream=False)
        async with response:
            try:
                data = await asyncio.wait_for(response.json(content_type=None), self.settings.timeout)
            except TimeoutError:
                raise LlmError(f"no answer within {self.settings.timeout:g} s") from None
            except (ValueError, aiohttp.ClientError) as exc:
                raise LlmError(f"the answer is not JSON: {exc}") from None
        _raise_endpoint_error(data)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LlmError(f"unexpected answer: {str(data)[:80]!r}") from None
        return content if isinstance(content, str) else ""


def _raise_endpoint_error(data: Any) -> None:
    """An ``LlmError`` for an answer (whole, or one stream chunk) that is the endpoint's error object."""
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        raise LlmError(f"endpoint error: {error.get('message', error) if isinstance(error, dict) else error}")


def _client_error(exc: Exception) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    return f"{type(exc).__name__}: {exc}"


class OpenAIChatResponder(Responder):
    name = "openai"

    def __init__(self, settings: LlmSettings, history_turns: int = 6) -> None:
        self.settings = settings
        self.history_turns = history_turns
        self.history: list[dict[str, str]] = []
        self.last_error: str | None = None
        self.client = ChatClient(settings)

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def respond(self, transcript: str) -> AsyncIterator[str]:
        self.last_error = None
        reply: list[str] = []
        try:
            async for chunk in self._stream(transcript):
                reply.append(chunk)
                yield chunk
        except LlmError as exc:
            self.last_error = str(exc)
            logger.warning("responder endpoint %s: %s; saying the apology", self.settings.endpoint, exc)
            if not reply:
                yield APOLOGY
                return
            yield " " + APOLOGY
            return
        if not "".join(reply).strip():
            self.last_error = "the endpoint answered with no text"
            logger.warning("responder endpoint %s: %s; saying the apology", self.settings.endpoint, self.last_error)
            yield APOLOGY
            return
        if reply:
            self.history.extend(
                ({"role": "user", "content": transcript}, {"role": "assistant", "content": "".join(reply)})
            )
            self.history = self.history[-2 * self.history_turns :]

    def _stream(self, transcript: str) -> AsyncIterator[str]:
        return self.client.stream(
            [
                {"role": "system", "content": self.settings.system_prompt},
                *self.history,
                {"role": "user", "content": transcript},
            ]
        )


_DONE = object()


def _parse_sse_line(raw: bytes) -> str | object | None:
    line = raw.decode("utf-8", "replace").strip()
    if not line.startswith("data:"):
        return None  # blank separators, comments (": keep-alive"), event/id fields
    payload = line[5:].strip()
    if payload == "[DONE]":
        return _DONE
    try:
        data = json.loads(payload)
    except ValueError:
        raise LlmError(f"malformed stream chunk: {payload[:80]!r}") from None
    _raise_endpoint_error(data)
    try:
        return data["choices"][0].get("delta", {}).get("content") or None
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LlmError(f"unexpected stream chunk: {payload[:80]!r}") from None
