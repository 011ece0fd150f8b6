"""Session hooks of the command-line tests: a test file in which some test
skipped for the machine (helpers.require) exits with status 77, which
ctest shows as Skipped (SKIP_RETURN_CODE), and prints why; the tests of
the file that could run have run and passed."""
from helpers import ENVIRONMENT_SKIP

_reasons = []


def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
        if ENVIRONMENT_SKIP in message:
            reason = message.split(ENVIRONMENT_SKIP, 1)[1]
            if reason not in _reasons:
                _reasons.append(reason)


def pytest_sessionfinish(session, exitstatus):
    if _reasons and exitstatus == 0:
        for reason in _reasons:
            print(f"\ntradeabm-tests: skipped: {reason}")
        session.exitstatus = 77
