"""CORS over real HTTP: ``voicedesk serve --cors-origin`` answers the requests a browser sends.

One ``voicedesk serve`` (with a bearer token) for the module; requests carry the ``Origin``
and preflight headers a browser would send for a page on another origin. What a browser
then does with the answer is tests/e2e/test_pipecat_js_client.py's part.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import aiohttp
import pytest

from tests.helpers.calls import real_offer
from tests.helpers.processes import Served, serve_started
from voicedesk.cli import main

PAGE = "http://127.0.0.1:3999"
OTHER_PAGE = "http://localhost:3999"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve_started("--cors-origin", PAGE, "--cors-origin", "https://app.example", "--token", TOKEN) as s:
        yield s


async def request(method: str, url: str, **headers: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers) as r:
        return r.status, dict(r.headers)


def preflight(method: str, headers: str = "content-type") -> dict[str, str]:
    return {"Origin": PAGE, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/offer", "POST"),  # pipecat's small-webrtc clients
        ("/api/offer", "PATCH"),  # … and their trickled candidates
        ("/api/voice/offer", "POST"),
        ("/api/voice/offer", "PATCH"),
        ("/whip", "POST"),
        ("/whip/sessions/abc", "DELETE"),
        ("/whip/sessions/abc", "PATCH"),
        ("/health", "GET"),
        ("/", "GET"),
    ],
)
async def test_a_listed_origins_preflight_is_answered_on_every_endpoint(served: Served, path: str, method: str) -> None:
    # no Authorization: browsers send none on a preflight, and the token must not refuse it
    asked = preflight(method, "content-type,authorization")
    status, headers = await request("OPTIONS", served.base_url + path, **asked)
    assert status in (200, 204), (status, headers)
    assert headers["Access-Control-Allow-Origin"] == PAGE
    assert method in headers["Access-Control-Allow-Methods"].split(", ")
    assert headers["Access-Control-Allow-Headers"] == "content-type,authorization"
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in headers["Vary"]


async def test_whips_own_options_answer_keeps_its_headers(served: Served) -> None:
    status, headers = await request("OPTIONS", served.base_url + "/whip", **preflight("POST", "content-type"))
    assert status == 204 and headers["Accept-Post"] == "application/sdp"
    assert headers["Access-Control-Allow-Origin"] == PAGE


async def test_an_origin_not_listed_gets_no_cors_headers(served: Served) -> None:
    for origin in (OTHER_PAGE, "http://127.0.0.1:4000", "null"):
        asked = {**preflight("POST"), "Origin": origin}
        status, headers = await request("OPTIONS", served.base_url + "/api/offer", **asked)
        assert not any(h.lower().startswith("access-control-") for h in headers), (origin, headers)
        assert status == 405  # the path takes no OPTIONS of its own: the browser blocks the POST
        status, headers = await request("GET", served.base_url + "/health", Origin=origin)
        assert status == 200 and "Access-Control-Allow-Origin" not in headers


async def test_answers_to_a_listed_origin_are_readable_errors_included(served: Served) -> None:
    base = served.base_url
    # a 401 the page can read, with the challenge exposed
    status, headers = await request("POST", base + "/api/offer", Origin=PAGE)
    assert status == 401 and headers["Access-Control-Allow-Origin"] == PAGE
    assert "WWW-Authenticate" in headers["Access-Control-Expose-Headers"]
    # origins match as browsers send them: scheme and host in any case the user typed
    status, headers = await request("GET", base + "/health", Origin="https://APP.example")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://APP.example"
    # a WHIP answer's Location and ETag are exposed to the page
    offer = await real_offer()
    auth = {"Authorization": f"Bearer {TOKEN}", "Origin": PAGE, "Content-Type": "application/sdp"}
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/whip", data=offer, headers=auth) as r:
            assert r.status == 201, await r.text()
            exposed = r.headers["Access-Control-Expose-Headers"]
            assert r.headers["Access-Control-Allow-Origin"] == PAGE and {"Location", "ETag"} <= set(exposed.split(", "))
            location = r.headers["Location"]
        async with http.delete(base + location, headers=auth) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == PAGE
        # aiohttp's own 404 for a path the server does not have carries the origin too
        async with http.get(base + "/no/such/path", headers={"Origin": PAGE}) as r:
            assert r.status == 404 and r.headers["Access-Control-Allow-Origin"] == PAGE


async def test_a_websocket_from_another_origins_page_is_refused(served: Served) -> None:
    """Browsers let any page open a WebSocket anywhere (no preflight): the server checks the Origin."""
    url = served.base_url.replace("http", "ws", 1) + f"/ws?access_token={TOKEN}"

    async def upgrade(origin: str | None) -> int:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(url, headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert await upgrade("http://127.0.0.1:4000") == 403
    assert await upgrade("null") == 403
    # a listed origin, the server's own page, and clients that are no browser (no Origin) get in
    assert await upgrade(PAGE) == 101
    assert await upgrade(served.base_url) == 101
    assert await upgrade(None) == 101


def test_cors_origin_must_be_an_origin(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--cors-origin", "http://127.0.0.1:3000/"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert "--cors-origin: 'http://127.0.0.1:3000/' is not an origin: no path" in err


def test_star_beyond_loopback_warns_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # * on an address other machines can reach; the port is taken, so serve stops right after
    with socket.socket() as taken:
        taken.bind(("10.99.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--host", "10.99.0.1", "--port", str(port), "--cors-origin", "*"])
    err = capsys.readouterr().err
    assert code == 1 and "pick another --port" in err
    warnings = [line for line in err.splitlines() if "--cors-origin '*'" in line]
    assert len(warnings) == 1 and "any web page" in warnings[0], err
