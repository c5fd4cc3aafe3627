import pytest

from tests.helpers.net import ensure_second_loopback_address


@pytest.fixture(scope="session", autouse=True)
def _loopback_address() -> None:
    ensure_second_loopback_address()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Locust patches the standard library with gevent when imported; in this process that makes
    # later tests fail or hang far from the cause. Locust belongs in its own processes only.
    import sys

    if "locust" in sys.modules or "gevent.monkey" in sys.modules:
        raise pytest.UsageError("a test module imported locust or gevent.monkey into pytest's process")
