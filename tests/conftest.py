import pytest

from tests.helpers.net import ensure_second_loopback_address


@pytest.fixture(scope="session", autouse=True)
def _loopback_address() -> None:
    ensure_second_loopback_address()
