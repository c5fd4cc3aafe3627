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


# Modules that use one machine-wide thing (fixed addresses of the network-namespace pair) run
# on the same worker, one after the other.
SHARED_GROUPS = {"tests.e2e.test_netem_truth": "netns", "tests.e2e.test_offline_ice": "netns"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pytest-xdist's loadgroup: each module is a group, so its module-scoped servers, bots and
    # browsers start once, on one worker
    for item in items:
        module = item.module.__name__ if isinstance(item, pytest.Function) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(SHARED_GROUPS.get(module, module)))
