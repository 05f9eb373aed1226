#!/usr/bin/env python3
"""cio's torture runner (curl's `runtests -t`): make every error path run.

For each test case of one test binary (tests/cio_test.h), it runs the case once
with CIO_FAULT=count to learn how many allocation and operation fault points it
passes, then once per chosen point with that point failing (CIO_FAULT=alloc:N,
then CIO_FAULT=op:N), in-process (CIO_TEST_NOFORK=1, CIO_TEST_ONLY=case), under
a timeout. Meant for the ASan+UBSan build, where LeakSanitizer checks at exit.

The verdict of one run:
  defect  a sanitizer report (AddressSanitizer, LeakSanitizer, UBSan "runtime
          error"), a crash (any signal but SIGABRT), a hang (the timeout), or
          an exit status the runner does not know;
  fine    the case passed (the error was handled, or the point was not reached
          this time), was skipped, or stopped on a test assertion (SIGABRT
          after the runner's "file:line: ... failed" line): the test saw the
          error, which is what an error path should give it.
Leaks and aborted tests: a failed assertion calls abort(), which runs no
exit-time leak check, so a case that stops on an assertion is never charged
with the memory it left behind. Leaks are checked only when the case ran to
its end (LeakSanitizer at exit), where every allocation must be released, error
or not. A sanitizer report always wins over an assertion.

Sampling: by default about --budget runs per binary (plus one count run and
at least one fault run per case), spread over its cases and over alloc and op
points in proportion to their counts, each kind on a
deterministic stride (points 1, 1+s, 1+2s, ...), so a run is reproducible.
--full (or CIO_TORTURE_FULL=1) fails every point.

Usage: torture.py [--budget N] [--full] [--timeout S] [--jobs J] [--case NAME] BINARY
Exit status: 0 when no defect was found, 1 otherwise (each is printed with the
command that reproduces it), 77 when every case was skipped.
"""

import argparse
import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

SANITIZER = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer")
ASSERTION = re.compile(r"^\S+\.[ch]:\d+: ", re.M)


def base_env(case):
    env = dict(os.environ)
    env["CIO_TEST_NOFORK"] = "1"
    env["CIO_TEST_ONLY"] = case
    # LeakSanitizer at exit; errors exit with status 86 instead of aborting,
    # so an abort always means the test's own assertion.
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86:detect_stack_use_after_return=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
    env.pop("CIO_FAULT", None)
    env.pop("CIO_FAULT_REPORT", None)
    return env


def run(binary, case, spec, timeout, report=None):
    env = base_env(case)
    env["CIO_FAULT"] = spec
    if report:
        env["CIO_FAULT_REPORT"] = report
    # Output to a file, not a pipe: a server the test started may keep a pipe
    # open after the test itself ended. The whole session is killed after
    # each run, so nothing a test started outlives it.
    with tempfile.TemporaryFile() as f:
        p = subprocess.Popen([binary], env=env, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        f.seek(0)
        return rc, f.read().decode(errors="replace")


def verdict(rc, out):
    """Returns None when the run is fine, else a short reason."""
    if rc is None:
        return "hang (timed out)"
    if SANITIZER.search(out):
        return "sanitizer report"
    if rc in (0, 77):
        return None
    if rc == -signal.SIGABRT:
        return None if ASSERTION.search(out) else "abort without a test assertion"
    if rc < 0:
        return "crash (signal %d)" % -rc
    return "exit status %d" % rc


def count(binary, case, timeout):
    with tempfile.NamedTemporaryFile(prefix="cio-torture-", delete=False) as f:
        path = f.name
    rc, out = run(binary, case, "count", timeout, report=path)
    try:
        points = {}
        with open(path) as f:
            for line in f:
                kind, seen, _ = line.split()
                points[kind] = int(seen)
        return rc, out, points
    except (OSError, ValueError):
        return rc, out, None
    finally:
        os.unlink(path)


def sample(total, runs):
    """Points 1..total, at most `runs` of them on a deterministic stride."""
    if total <= 0 or runs <= 0:
        return []
    if runs >= total:
        return list(range(1, total + 1))
    stride = -(-total // runs)
    return list(range(1, total + 1, stride))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--budget", type=int, default=300, help="runs per binary when sampling")
    ap.add_argument("--full", action="store_true", default=os.environ.get("CIO_TORTURE_FULL") == "1")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop starting fault runs after this long (0: no limit; not with --full)")
    ap.add_argument("--case", action="append", help="only this case (repeatable)")
    ap.add_argument("--skip", action="append", default=[], help="not this case (repeatable)")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    name = os.path.basename(binary)

    started = time.monotonic()
    listing = subprocess.run([binary], env=dict(os.environ, CIO_TEST_LIST="1"),
                             stdout=subprocess.PIPE, check=True).stdout.decode().split()
    cases = [c for c in listing if (not args.case or c in args.case) and c not in args.skip]

    # Learn each case's points.
    counted = []
    defects = []
    skipped = 0
    for case in cases:
        rc, out, points = count(binary, case, args.timeout * 2)
        if rc == 77:
            skipped += 1
            continue
        if rc != 0 or points is None:
            print("torture %s: %s does not pass without faults (status %s); not tortured" %
                  (name, case, rc))
            print("\n".join(out.splitlines()[-15:]))
            defects.append((case, "count", "fails without faults"))
            continue
        counted.append((case, points.get("alloc", 0), points.get("op", 0)))

    total_points = sum(a + o for _, a, o in counted) or 1
    jobs = []
    for case, a, o in counted:
        if args.full:
            ra, ro = a, o
        else:
            share = max(1, args.budget * (a + o) // total_points)
            ra = min(a, max(1 if a else 0, share * a // max(1, a + o)))
            ro = min(o, max(1 if o else 0, share - ra))
        jobs += [(case, "alloc:%d" % n) for n in sample(a, ra)]
        jobs += [(case, "op:%d" % n) for n in sample(o, ro)]

    ran = {"alloc": 0, "op": 0}
    # Interleave the cases (round robin), so that a time limit cuts a little
    # from each rather than whole cases.
    by_case = {}
    for case, spec in jobs:
        by_case.setdefault(case, []).append(spec)
    order = []
    while any(by_case.values()):
        for case in list(by_case):
            if by_case[case]:
                order.append((case, by_case[case].pop(0)))
    limit = 0 if args.full else args.max_seconds
    cut = 0

    def guarded(case, spec):
        if limit and time.monotonic() - started > limit:
            return "cut", ""
        return run(binary, case, spec, args.timeout)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(guarded, case, spec): (case, spec) for case, spec in order}
        for fut in concurrent.futures.as_completed(futures):
            case, spec = futures[fut]
            rc, out = fut.result()
            if rc == "cut":
                cut += 1
                continue
            ran[spec.split(":")[0]] += 1
            why = verdict(rc, out)
            if why:
                defects.append((case, spec, why))
                print("DEFECT %s: %s with CIO_FAULT=%s: %s" % (name, case, spec, why))
                print("  reproduce: CIO_TEST_NOFORK=1 CIO_TEST_ONLY=%s CIO_FAULT=%s CIO_BACKEND=%s %s"
                      % (case, spec, os.environ.get("CIO_BACKEND", ""), binary))
                lines = out.splitlines()
                keep = [l for l in lines if SANITIZER.search(l) or ASSERTION.search(l)]
                for l in (lines[-40:] if len(lines) <= 40 else keep[:5] + lines[-35:]):
                    print("    " + l)

    alloc_pts = sum(a for _, a, _ in counted)
    op_pts = sum(o for _, _, o in counted)
    print("torture %s (%s): %d cases, alloc points %d (failed %d of them), op points %d "
          "(failed %d), %d defects" % (name, "full" if args.full else "sampled", len(counted),
                                      alloc_pts, ran["alloc"], op_pts, ran["op"], len(defects)))
    if cut:
        print("torture %s: time limit (%g s) reached, %d planned runs not started" %
              (name, limit, cut))
    if defects:
        return 1
    return 77 if not counted and skipped else 0


if __name__ == "__main__":
    sys.exit(main())
