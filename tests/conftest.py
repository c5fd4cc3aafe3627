import pytest

from tests.helpers.net import ensure_second_loopback_address

PACKAGING_MODULE = "tests/e2e/test_packaging.py"
_build_key = pytest.StashKey["object"]()


@pytest.fixture(scope="session", autouse=True)
def _loopback_address() -> None:
    ensure_second_loopback_address()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The bundle builds in the background while everything else runs (tests/helpers/bundle_build.py);
    # its tests go last so they find it built.
    items.sort(key=lambda item: item.nodeid.startswith(PACKAGING_MODULE))


def pytest_collection_finish(session: pytest.Session) -> None:
    # Locust patches the standard library with gevent when imported; in this process that makes
    # later tests fail or hang far from the cause. Locust belongs in its own processes only.
    import sys

    if "locust" in sys.modules or "gevent.monkey" in sys.modules:
        raise pytest.UsageError("a test module imported locust or gevent.monkey into pytest's process")
    if any(item.nodeid.startswith(PACKAGING_MODULE) for item in session.items):
        from tests.helpers.bundle_build import BackgroundBuild

        session.config.stash[_build_key] = BackgroundBuild()


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(_build_key, None)
    if build is not None:
        build.close()


@pytest.fixture(scope="session")
def background_bundle_build(request: pytest.FixtureRequest):
    """The bundle build started at collection (None when the packaging tests were not collected)."""
    return request.config.stash.get(_build_key, None)
