#!/usr/bin/python3
"""Fault: SIGTERM to tenantrtd while clients run commands through its control
socket. Counts every request: each gets at most one reply; every request sent
before the SIGTERM (SEND_MARGIN_S, below) gets exactly one, and only a request
sent after it may end with the connection (EOF), never before the SIGTERM;
replies are ok or shutting_down; every client had ok replies before the
SIGTERM; every acknowledged insert is in the database; the daemon exits
0 once the drain deadline passed and the one command stuck at the server
(blocked beyond the deadline) reached its socket timeout: a driver call in
progress cannot be interrupted, so the exit is bounded by drain_timeout_ms +
socket_timeout_ms, not by drain_timeout_ms alone; no socket to the server is
left.

usage: shutdown_under_load_test.py TENANTRTD SOURCE_DIR
Needs Debian's python3-pymongo (as dev-mongo's own test does).
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pymongo

PYTHON = "/usr/bin/python3"
CLIENTS = 6
PIPELINE = 4          # requests in flight per client connection
DRAIN_MS = 2000
BLOCK_MS = 8000       # one command stays at the server past the drain deadline
SOCKET_TIMEOUT_MS = 3000  # ... and past its socket timeout
LATENCY_MS = 20       # every command is in flight a little while
# Load before the SIGTERM: every client has this many ok replies (polled).
MIN_OK_PER_CLIENT = 20
# A request whose send time is at least this long before the SIGTERM must be
# answered. The time is read just before sendall(), so a writer thread
# descheduled between the two (GIL hand-off, a loaded machine) may put its
# bytes on the wire a little after the SIGTERM; 50 ms covers that. The daemon
# keeps reading and answering (shutting_down) through the whole drain, which
# the blocked command holds open for DRAIN_MS, so a request on the wire by
# the SIGTERM has seconds to be read: only one sent after the drain ended may
# go unanswered.
SEND_MARGIN_S = 0.05


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def established_to(port):
    """Client ends of established connections to port (/proc/net/tcp*)."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


def control_call(address, request, timeout=10):
    """One request on a fresh control connection; its reply (a dict)."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall((json.dumps(request) + "\n").encode())
        line = s.makefile("rb").readline()
    if not line.endswith(b"\n"):
        raise RuntimeError("no reply to %r" % (request,))
    return json.loads(line)


def poll(predicate, timeout_s):
    """Polls predicate every 20 ms until it holds; False when timeout_s passed first."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def tenant_inflight(address, tenant):
    """The tenant's operations in flight in tenantrtd (stats), 0 if it has no row."""
    reply = control_call(address, {"cmd": "stats"})
    for row in reply["stats"]["tenantDbs"]["connections"]:
        if row["tenant"] == tenant:
            return row["inflight"]
    return 0


def start_dev_mongo(source_dir, log):
    proc = subprocess.Popen(
        [PYTHON, os.path.join(source_dir, "tools", "dev-mongo", "dev_mongo.py"),
         "--port", "0", "--latency-ms", str(LATENCY_MS)],
        stdout=subprocess.PIPE, stderr=log)
    fd = proc.stdout.fileno()
    line = b""
    deadline = time.monotonic() + 20
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line += chunk
    match = re.fullmatch(rb"dev-mongo listening on 127\.0\.0\.1:(\d+)\n", line)
    if not match:
        proc.kill()
        raise RuntimeError("dev-mongo did not start: %r" % line)
    return proc, int(match.group(1))


class Client:
    """One control connection with PIPELINE requests in flight: a writer and
    a reader thread, every request and reply recorded by id."""

    def __init__(self, address, index):
        self.index = index
        self.sock = socket.create_connection(address)
        self.sock.settimeout(60)
        self.reader = self.sock.makefile("rb")
        self.sent = {}        # id -> (time, request)
        self.replies = {}     # id -> list of replies
        self.unknown = []     # replies whose id was never sent
        self.eof_at = None
        self.eof_kind = None
        self.slots = threading.Semaphore(PIPELINE)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write_loop, daemon=True),
                        threading.Thread(target=self.read_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def request(self, n):
        rid = "c%d-%d" % (self.index, n)
        tenant = "load%d" % self.index
        if n % 2 == 0:
            command = {"insert": "events", "documents": [{"_id": rid}]}
        else:
            command = {"find": "events", "filter": {"_id": "c%d-%d" % (self.index, n - 1)}}
        return rid, {"id": rid, "cmd": "exec", "tenant": tenant, "command": command}

    def write_loop(self):
        n = 0
        while not self.stop.is_set() and self.eof_at is None:
            if not self.slots.acquire(timeout=0.2):
                continue
            rid, req = self.request(n)
            n += 1
            with self.lock:
                self.sent[rid] = (time.monotonic(), req)
            try:
                self.sock.sendall((json.dumps(req) + "\n").encode())
            except OSError:
                with self.lock:
                    del self.sent[rid]   # never left this process
                break

    def read_loop(self):
        while True:
            try:
                line = self.reader.readline()
            except OSError as exc:  # reset: the daemon closed with unread input
                line, kind = b"", "reset (%s)" % exc.__class__.__name__
            else:
                kind = "eof"
            if not line.endswith(b"\n"):
                self.eof_at = time.monotonic()
                self.eof_kind = kind
                self.slots.release()
                return
            reply = json.loads(line)
            with self.lock:
                if reply.get("id") in self.sent:
                    self.replies.setdefault(reply["id"], []).append(reply)
                else:
                    self.unknown.append(reply)
            self.slots.release()

    def ok_replies(self):
        with self.lock:
            return sum(1 for got in self.replies.values() if got and got[0].get("ok") is True)

    def join(self, timeout):
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self.threads)


def main():
    daemon_bin, source_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="fault-shutdown-")
    mongo_log = open(os.path.join(work, "dev-mongo.log"), "wb")
    daemon_log_path = os.path.join(work, "tenantrtd.log")
    server, port = start_dev_mongo(source_dir, mongo_log)
    daemon = None
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL: " + what)

    try:
        control_port = free_port()
        config = {
            "clusters": {"default": {"uri": "mongodb://127.0.0.1:%d/" % port,
                                     "min_pool_size": 1, "max_pool_size": 4,
                                     "socket_timeout_ms": SOCKET_TIMEOUT_MS}},
            "control": {"listen": ["127.0.0.1:%d" % control_port]},
            "shutdown": {"drain_timeout_ms": DRAIN_MS},
            "logging": {"level": "info"},
        }
        config_path = os.path.join(work, "tenantrt.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        daemon_log = open(daemon_log_path, "wb")
        daemon = subprocess.Popen([daemon_bin, "--config", config_path],
                                  stdout=daemon_log, stderr=subprocess.STDOUT)
        address = ("127.0.0.1", control_port)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(address, timeout=2) as s:
                    s.sendall(b'{"cmd": "health"}\n')
                    if s.makefile("rb").readline().endswith(b"\n"):
                        break
            except OSError:
                pass
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tenantrtd did not answer on %s" % (address,))
            time.sleep(0.1)

        mongo = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=5000)
        mongo.admin.command("configureFailPoint", "failCommand", mode="alwaysOn",
                            data={"failCommands": ["find"],
                                  "namespace": "tenant_slowpoke.blocked",
                                  "blockConnection": True, "blockTimeMS": BLOCK_MS})

        clients = [Client(address, i) for i in range(CLIENTS)]
        # Steady load: every client served a while (a client never served is
        # reported below, after the SIGTERM, with the rest).
        poll(lambda: all(c.ok_replies() >= MIN_OK_PER_CLIENT for c in clients), 30)
        # One request that outlives the drain deadline.
        slow_sock = socket.create_connection(address)
        slow_sock.settimeout(60)
        slow_sent_at = time.monotonic()
        slow_sock.sendall((json.dumps({"id": "slow", "cmd": "exec", "tenant": "slowpoke",
                                       "command": {"find": "blocked", "filter": {}}})
                           + "\n").encode())
        # In flight in the daemon: the drain below must wait for it.
        check(poll(lambda: tenant_inflight(address, "slowpoke") >= 1, 20),
              "the blocked find never showed in flight in stats")

        term_at = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=60)
        exit_ms = (time.monotonic() - term_at) * 1000
        slow_line = slow_sock.makefile("rb").readline()
        slow_sock.close()
        for c in clients:
            check(c.join(30), "client %d did not finish" % c.index)

        log_text = open(daemon_log_path, "rb").read().decode(errors="replace")
        check(rc == 0, "tenantrtd exited with %r" % rc)
        check("SIGTERM: stopping" in log_text, "no 'SIGTERM: stopping' in the log")
        check("drain deadline passed" in log_text, "the blocked command did not outlive the drain")
        check(exit_ms <= DRAIN_MS + SOCKET_TIMEOUT_MS + 2000,
              "stopped %d ms after SIGTERM (drain_timeout_ms %d, socket_timeout_ms %d)"
              % (exit_ms, DRAIN_MS, SOCKET_TIMEOUT_MS))

        sent = ok = 0
        errors = {}
        in_doubt = []
        unanswered_before_term = []
        for c in clients:
            check(not c.unknown, "client %d: replies with unknown ids: %r" % (c.index, c.unknown[:3]))
            check(c.eof_at is not None and c.eof_at >= term_at,
                  "client %d: connection ended before SIGTERM" % c.index)
            client_ok = 0
            for rid, (sent_at, req) in c.sent.items():
                sent += 1
                got = c.replies.get(rid, [])
                check(len(got) <= 1, "%s answered %d times" % (rid, len(got)))
                if not got:
                    if sent_at <= term_at - SEND_MARGIN_S:
                        unanswered_before_term.append((rid, term_at - sent_at))
                    in_doubt.append((rid, req))
                    continue
                r = got[0]
                if r.get("ok") is True:
                    ok += 1
                    client_ok += 1
                else:
                    code = r.get("error", {}).get("code")
                    errors[code] = errors.get(code, 0) + 1
                    check(code == "shutting_down", "%s failed with %r" % (rid, r))
            check(client_ok >= 1, "client %d: no ok reply among %d requests" % (c.index, len(c.sent)))
        check(not unanswered_before_term,
              "%d requests sent at least %d ms before SIGTERM got no reply, e.g. %s"
              % (len(unanswered_before_term), SEND_MARGIN_S * 1000,
                 ", ".join("%s (%.0f ms before)" % (rid, ago * 1000)
                           for rid, ago in unanswered_before_term[:5])))
        # Every acknowledged insert is stored; the unanswered ones are either
        # stored (finished by the drain) or never ran.
        stored = {d["_id"] for db in mongo.list_database_names() if db.startswith("tenant_load")
                  for d in mongo[db]["events"].find({}, {"_id": 1})}
        for c in clients:
            for rid, replies in c.replies.items():
                req = c.sent[rid][1]
                if "insert" in req["command"] and replies and replies[0].get("ok") is True:
                    check(rid in stored, "acknowledged insert %s is not stored" % rid)
        doubt_inserts = [rid for rid, req in in_doubt if "insert" in req["command"]]
        doubt_stored = sum(1 for rid in doubt_inserts if rid in stored)

        # In flight in the daemon before the SIGTERM (stats showed it), so it is
        # answered, however close to the SIGTERM it was sent: shutting_down at
        # the drain deadline.
        if slow_line.endswith(b"\n"):
            slow_reply = json.loads(slow_line)
            check(slow_reply.get("error", {}).get("code") == "shutting_down",
                  "blocked command: %r" % slow_reply)
            slow_outcome = slow_reply.get("error", {}).get("code")
        else:
            check(False, "blocked command, sent %.0f ms before SIGTERM: no reply"
                  % ((term_at - slow_sent_at) * 1000))
            slow_outcome = "EOF"

        mongo.admin.command("configureFailPoint", "failCommand", mode="off")
        mongo.close()
        deadline = time.monotonic() + 10
        while established_to(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = established_to(port)
        check(left == 0, "%d sockets to the server left after tenantrtd exited" % left)

        print("[figures] shutdown under load: %d clients x %d pipelined, %d requests sent, "
              "%d ok (fewest for one client %d), errors %s, %d unanswered at EOF, none sent "
              "%d ms or more before SIGTERM (%d inserts, %d of them stored by the "
              "drain); blocked command: %s; exit %d after %d ms (drain_timeout_ms %d, "
              "socket_timeout_ms %d); sockets left %d"
              % (CLIENTS, PIPELINE, sent, ok, min(c.ok_replies() for c in clients), errors,
                 len(in_doubt), SEND_MARGIN_S * 1000, len(doubt_inserts),
                 doubt_stored, slow_outcome, rc, exit_ms, DRAIN_MS, SOCKET_TIMEOUT_MS, left))
        eofs = sorted({c.eof_kind for c in clients})
        print("[figures] connections ended by: %s" % ", ".join(eofs))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        server.terminate()
        server.wait(10)
        mongo_log.close()
        if failures:
            for name in (daemon_log_path, os.path.join(work, "dev-mongo.log")):
                if os.path.exists(name):
                    print("--- %s" % name)
                    print(open(name, "rb").read().decode(errors="replace")[-3000:])
    if failures:
        print("%d failed" % len(failures))
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
