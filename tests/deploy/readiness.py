#!/usr/bin/env python3
"""readiness.py - brookd's sd_notify conversation, as systemd would see it.

  readiness.py [--health CMD] [--forbid TEXT] -- BROOKD [ARGS...]

Binds a datagram socket in a temp dir, starts BROOKD with NOTIFY_SOCKET
pointing at it and with `--override listeners=PLAINTEXT://127.0.0.1:PORT
--override log.dirs=TMP/data` appended (PORT is free), then checks:

  ready      READY=1 arrives within 30 s, while the process runs
  listening  when READY=1 arrives, PORT already accepts TCP connections
  health     CMD PORT exits 0 (with --health; e.g. the container healthcheck)
  stopping   after SIGTERM, STOPPING=1 arrives
  exit       the process then exits with status 0 within 60 s
  quiet      the broker's output never mentions TEXT, case-insensitively
             (with --forbid; e.g. "unknown" for an unknown-key warning)

Prints "ok NAME" or "FAIL NAME: why" per check (a check that cannot run
after an earlier failure is a FAIL too), then the broker's output on
failure. Exit status 0 when every check passed.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Run:
    def __init__(self):
        self.failed = 0

    def ok(self, name):
        print(f"ok {name}", flush=True)

    def fail(self, name, why):
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def wait_for(sock, proc, key, seconds, seen):
    """Collects datagrams until one has the line `key`; returns it or None
    (on timeout or when the process exits first and nothing is queued)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            msg = sock.recv(65536).decode("utf-8", "replace")
            seen.append(msg)
            if key in msg.split("\n"):
                return msg
            continue
        if proc.poll() is not None:
            return None
    return None


def main(argv):
    health = forbid = None
    while argv[:1] in (["--health"], ["--forbid"]):
        if argv[0] == "--health":
            health = argv[1]
        else:
            forbid = argv[1]
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2

    run = Run()
    tmp = tempfile.mkdtemp(prefix="brook-notify.")
    sock_path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    port = free_port()
    out_path = os.path.join(tmp, "broker.out")
    cmd = argv + ["--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                  "--override", f"log.dirs={tmp}/data"]
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    seen = []
    try:
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT)
    except OSError as e:
        run.fail("ready", f"cannot start {cmd[0]}: {e}")
        sock.close()
        return 1
    try:
        ready = wait_for(sock, proc, "READY=1", 30, seen)
        if ready is None:
            why = (f"exited with status {proc.returncode} first" if proc.poll() is not None
                   else "none within 30 s")
            run.fail("ready", f"no READY=1 datagram ({why}; datagrams: {seen!r}); brookd must "
                     "call bk_notify(\"READY=1...\") once its listeners accept connections")
            run.fail("listening", "not checked: no READY=1")
        else:
            run.ok("ready")
            if port_open(port):
                run.ok("listening")
            else:
                run.fail("listening", f"READY=1 sent but 127.0.0.1:{port} refuses connections")
        if health:
            if proc.poll() is not None:
                run.fail("health", "not checked: brookd is not running")
            else:
                r = subprocess.run([health, "healthcheck", str(port)], capture_output=True,
                                   text=True, timeout=30)
                if r.returncode == 0:
                    run.ok("health")
                else:
                    run.fail("health", f"{health} healthcheck {port}: exit {r.returncode} "
                             f"{(r.stdout + r.stderr).strip()}")

        if proc.poll() is not None:
            run.fail("stopping", f"not checked: brookd already exited ({proc.returncode})")
            run.fail("exit", "not checked: brookd already exited before SIGTERM")
        else:
            proc.send_signal(signal.SIGTERM)
            if wait_for(sock, proc, "STOPPING=1", 60, seen) is not None:
                run.ok("stopping")
            else:
                run.fail("stopping", f"no STOPPING=1 after SIGTERM (datagrams: {seen!r}); "
                         "brookd must call bk_notify(\"STOPPING=1\") when shutdown starts")
            try:
                rc = proc.wait(timeout=60)
                if rc == 0:
                    run.ok("exit")
                else:
                    run.fail("exit", f"exit status {rc} after SIGTERM, expected 0")
            except subprocess.TimeoutExpired:
                run.fail("exit", "still running 60 s after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    if forbid and ready is not None:
        with open(out_path, "rb") as f:
            hits = [l for l in f.read().decode("utf-8", "replace").splitlines()
                    if forbid.lower() in l.lower()]
        if hits:
            run.fail("quiet", f"broker output mentions '{forbid}': {hits[0].strip()}")
        else:
            run.ok("quiet")
    if run.failed:
        print(f"broker output ({out_path}):")
        with open(out_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines()[-30:]:
                print(f"  {line}")
    else:
        subprocess.run(["rm", "-rf", tmp])
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
