"""``GET /``: the page's report target stays on its origin; the page is sent with a CSP."""

from __future__ import annotations

import base64
import hashlib
import re

import aiohttp
import pytest

from tests.helpers.calls import running_server


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example", "/%09/evil.example", "/%0a/evil.example", "http://evil.example/"]
)
async def test_the_page_refuses_a_report_target_on_another_origin(target):
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/?call=json&report={target}") as response:
            assert response.status == 400
            assert "report= must be a path on this server" in await response.text()


async def test_the_page_keeps_a_same_origin_report_target_and_sends_a_csp():
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/?call=json&seconds=4&report=/test/report") as response:
            assert response.status == 200
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    # the page checks the target with the browser's parser too, and reads the token only from its field
    assert "new URL(target, location.href)" in script and "url.origin === location.origin" in script
    assert 'const token = $("token").value;' in script
