"""itcheck.py - how the Python test programs report to the shell suites.

Each check prints one line, "ok NAME", "FAIL NAME: reason" (followed by
indented detail lines) or "SKIP NAME: reason" (it cannot run here), which tests/integration/lib_py.sh turns into
it_pass / it_fail. A program exits 1 if any check failed.
"""
import sys
import time
import traceback


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def run(self, name, fn, *args):
        """Run fn(*args); any exception is a failure of check NAME. Returns
        fn's result, or None when it failed."""
        t0 = time.time()
        try:
            result = fn(*args)
        except Exception as e:  # noqa: BLE001 - every error is a failed check
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e)[:500]), flush=True)
            for line in traceback.format_exc().splitlines()[-8:]:
                print("   " + line, flush=True)
            return None
        self.passed += 1
        print("ok %s (%.1f s)" % (name, time.time() - t0), flush=True)
        return result if result is not None else True

    def skip(self, name, reason):
        print("SKIP %s: %s" % (name, reason), flush=True)

    def exit(self):
        sys.exit(1 if self.failed else 0)


def expect(cond, msg, *args):
    if not cond:
        raise AssertionError(msg % args if args else msg)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))
