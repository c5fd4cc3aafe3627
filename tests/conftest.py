import os
import sys

import pytest

from tests.helpers.net import ensure_second_loopback_address

PACKAGING_MODULE = "tests/e2e/test_packaging.py"
GUI_TESTS = "tests/gui/"
_build_key = pytest.StashKey["object"]()
_run_key = pytest.StashKey[str]()

# The window's engine claims a CPU for its media and moves the rest of the window's process off
# it (voicedesk/cores.py). In pytest's process that would leave every later test, and all it
# starts, on the other CPUs; the tests of pinning turn it on in processes of their own.
os.environ["VOICEDESK_MEDIA_CPU"] = "off"


@pytest.fixture(scope="session", autouse=True)
def _loopback_address() -> None:
    ensure_second_loopback_address()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The window's tests go after every other: once they have made a QApplication, pytest-qt
    # processes Qt events around *every* test, and what the windows left in Qt then runs inside
    # unrelated call tests (CI's one segfault was a dangling timer firing there; the cause is
    # fixed in gui/gc_on_gui_thread.py, this keeps any other leftover away). The bundle builds in the
    # background while everything else runs (tests/helpers/bundle_build.py); its tests go last
    # so they find it built.
    items.sort(key=lambda item: (item.nodeid.startswith(PACKAGING_MODULE), item.nodeid.startswith(GUI_TESTS)))


def pytest_collection_finish(session: pytest.Session) -> None:
    # Locust patches the standard library with gevent when imported; in this process that makes
    # later tests fail or hang far from the cause. Locust belongs in its own processes only.
    if offender := _gevent_loaded():
        raise pytest.UsageError(f"a test module imported {offender} into pytest's process")
    if any(item.nodeid.startswith(PACKAGING_MODULE) for item in session.items):
        from tests.helpers.bundle_build import BackgroundBuild

        session.config.stash[_build_key] = BackgroundBuild(_run_id(session.config)).start_or_join()


def _gevent_loaded() -> str | None:
    """Locust, gevent or greenlet, if one is in this process. Locust patches the standard library
    at import; gevent and greenlet alone patch nothing, but have no business beside aiortc's threads."""
    return next((name for name in ("locust", "gevent", "greenlet") if name in sys.modules), None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if offender := _gevent_loaded():
        pytest.fail(f"{item.nodeid} imported {offender} into pytest's process (run Locust in a child process)")


def pytest_configure(config: pytest.Config) -> None:
    # one id for the whole run, handed to pytest-xdist's workers as theirs (its --testrunuid)
    if getattr(config, "workerinput", None) is None:
        import uuid

        uid = getattr(config.option, "testrunuid", None) or uuid.uuid4().hex
        if hasattr(config.option, "testrunuid"):
            config.option.testrunuid = uid
        config.stash[_run_key] = uid


def _run_id(config: pytest.Config) -> str:
    """The same for every process of one run (pytest-xdist's controller and workers)."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["testrunuid"]) if workerinput is not None else config.stash[_run_key]


def pytest_unconfigure(config: pytest.Config) -> None:
    # the run's last process removes the build: pytest alone, or xdist's controller (not a worker,
    # which may end while another still waits for the build)
    if getattr(config, "workerinput", None) is not None:
        return
    from tests.helpers.bundle_build import BackgroundBuild

    BackgroundBuild(_run_id(config)).remove()


@pytest.fixture(scope="session")
def background_bundle_build(request: pytest.FixtureRequest):
    """The bundle build started at collection (None when the packaging tests were not collected)."""
    return request.config.stash.get(_build_key, None)
