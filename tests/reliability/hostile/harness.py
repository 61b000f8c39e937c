"""Shared pieces of the hostile-input tests: a dev-mongo and a tenantrtd
started for one scenario, raw line clients, and what the daemon looks like
from outside (/proc: VmRSS, open descriptors; dev-mongo: opcounters).

Nothing here sleeps in place of a condition: every wait polls something
observable until a deadline.
"""
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"  # Debian's, with pymongo (python3-mockupdb depends on it)


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def poll_until(predicate, timeout, what):
    """Polls predicate (every 20 ms) until it holds; fails naming what."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


# --- clients


class LineClient:
    """A raw control socket client: bytes out, reply lines in."""

    def __init__(self, address, timeout=30.0, rcvbuf=None):
        self.address = address
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address[len("unix:"):]
        else:
            host, port = address.rsplit(":", 1)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, int(port))
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(target)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def request(self, obj):
        self.send(json.dumps(obj).encode() + b"\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], left)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout=None):
        """The next line (bytes, without newline); None on EOF or timeout."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self, timeout=None):
        line = self.read_line(timeout)
        check(line is not None, "%s: no reply (%s)" % (self.address, "eof" if self.eof else "timeout"))
        return json.loads(line)

    def call(self, obj, timeout=None):
        self.request(obj)
        return self.reply(timeout)

    def read_to_eof(self, timeout):
        """Reads and counts bytes until the server closes; None on timeout."""
        deadline = time.monotonic() + timeout
        total = len(self.buf)
        self.buf = b""
        while True:
            if self._fill(deadline):
                total += len(self.buf)
                self.buf = b""
                continue
            return total if self.eof else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def error_code(reply):
    return reply.get("error", {}).get("code") if reply.get("ok") is False else None


# --- the daemon and its server


class Stack:
    """dev-mongo on a free port plus tenantrtd with a scenario's config."""

    def __init__(self, build_dir, source_dir, name):
        self.build_dir = build_dir
        self.source_dir = source_dir
        self.work = tempfile.mkdtemp(prefix="hostile-%s." % name, dir="/tmp")
        self.mongo = None
        self.daemon = None
        self.mongo_port = None
        self.log_path = os.path.join(self.work, "tenantrtd.log")
        self.config_path = os.path.join(self.work, "tenantrt.json")
        self.control_port = None
        self.unix_path = os.path.join(self.work, "control.sock")
        self.token = None

    # dev-mongo

    def start_mongo(self):
        self.mongo_log = open(os.path.join(self.work, "dev-mongo.log"), "wb")
        self.mongo = subprocess.Popen(
            [os.path.join(self.source_dir, "tools/dev-mongo/dev-mongo"), "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.mongo_log)
        line = b""
        deadline = time.monotonic() + 30
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            check(left > 0, "dev-mongo did not start")
            ready, _, _ = select.select([self.mongo.stdout], [], [], left)
            if ready:
                # os.read: a buffered read would hide bytes from select().
                byte = os.read(self.mongo.stdout.fileno(), 1)
                check(byte, "dev-mongo exited at start")
                line += byte
        self.mongo_port = int(line.decode().rsplit(":", 1)[1])
        return self.mongo_port

    def mongo_client(self):
        import pymongo  # only the scenarios that count server operations need it
        return pymongo.MongoClient("127.0.0.1", self.mongo_port, serverSelectionTimeoutMS=10000,
                                   connect=True)

    # tenantrtd

    def base_config(self, **control):
        self.control_port = free_port()
        ctl = {"listen": ["127.0.0.1:%d" % self.control_port, "unix:" + self.unix_path]}
        ctl.update(control)
        self.token = ctl.get("token") or None
        return {
            "clusters": {"default": {"uri": "mongodb://127.0.0.1:%d/" % self.mongo_port,
                                     "min_pool_size": 1, "max_pool_size": 4}},
            "registry": {"max_tenant_connections": 50, "main_ping_interval_ms": 3600000,
                         "cleanup_interval_ms": 3600000, "idle_timeout_ms": 3600000},
            "control": ctl,
            "metrics": {"sample_interval_ms": 1000},
            "shutdown": {"drain_timeout_ms": 5000},
        }

    def write_config(self, config):
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)

    @property
    def tcp(self):
        return "127.0.0.1:%d" % self.control_port

    @property
    def unix(self):
        return "unix:" + self.unix_path

    def with_token(self, obj):
        if self.token:
            obj = dict(obj, token=self.token)
        return obj

    def start_daemon(self, config, log_level="debug"):
        self.write_config(config)
        self.log_file = open(self.log_path, "ab")
        self.daemon = subprocess.Popen(
            [os.path.join(self.build_dir, "tenantrtd"), "--config", self.config_path,
             "--log-level", log_level], stdout=self.log_file, stderr=subprocess.STDOUT)
        address = config["control"]["listen"][0]
        if address.startswith("0.0.0.0:"):
            address = "127.0.0.1:" + address.split(":")[1]

        def answers():
            check(self.daemon.poll() is None, "tenantrtd exited at start:\n" + self.log_tail())
            try:
                c = LineClient(address, timeout=5)
            except OSError:
                return False
            try:
                return c.call(self.with_token({"cmd": "health"})).get("ok") is True
            except (OSError, Failure, ValueError):
                return False
            finally:
                c.close()
        poll_until(answers, 30, "tenantrtd to answer on " + address)

    def pid(self):
        return self.daemon.pid

    def alive(self):
        return self.daemon.poll() is None

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid()) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise Failure("no VmRSS")

    def fd_count(self):
        """Open descriptors of the daemon, except its pool's connections to
        dev-mongo (the pool opens and closes those on its own schedule)."""
        to_mongo = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for row in f:
                        fields = row.split()
                        if int(fields[2].rsplit(":", 1)[1], 16) == self.mongo_port:
                            to_mongo.add(fields[9])
            except FileNotFoundError:
                pass
        count = 0
        fd_dir = "/proc/%d/fd" % self.pid()
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:[") and target[8:-1] in to_mongo:
                continue
            count += 1
        return count

    def settled_fd_count(self, timeout=20):
        """The descriptor count once it stopped moving (10 equal reads in a row)."""
        same = [0, None]

        def stable():
            n = self.fd_count()
            same[0] = same[0] + 1 if n == same[1] else 0
            same[1] = n
            return same[0] >= 10
        poll_until(stable, timeout, "the daemon's descriptor count to settle")
        return same[1]

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self):
        """SIGTERM, then the exit status must be 0 (drained)."""
        if self.daemon is None:
            return None
        self.daemon.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.wait(60)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            raise Failure("tenantrtd did not stop within 60 s of SIGTERM")
        self.daemon = None
        return rc

    def cleanup(self):
        for proc in (self.daemon, self.mongo):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.call(["rm", "-rf", self.work])


def run_scenarios(scenarios, argv):
    """usage: SCRIPT BUILD_DIR SOURCE_DIR SCENARIO"""
    build_dir, source_dir, name = argv[1], argv[2], argv[3]
    scenario = scenarios.get(name)
    if scenario is None:
        print("unknown scenario %r; known: %s" % (name, ", ".join(sorted(scenarios))))
        return 2
    stack = Stack(build_dir, source_dir, name)
    started = time.monotonic()
    try:
        stack.start_mongo()
        report = scenario(stack)
        check(stack.daemon is None or stack.alive(), "tenantrtd died:\n" + stack.log_tail())
        rc = stack.stop()
        check(rc in (0, None), "tenantrtd exited with %s after SIGTERM" % rc)
        report = dict(report or {}, seconds=round(time.monotonic() - started, 1))
        print("%s ok: %s" % (name, json.dumps(report, sort_keys=True)))
        return 0
    except Failure as failure:
        print("FAIL %s: %s" % (name, failure))
        if os.path.exists(stack.log_path):
            print("--- tenantrtd log (tail)\n" + stack.log_tail())
        return 1
    finally:
        stack.cleanup()
