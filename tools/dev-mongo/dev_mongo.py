#!/usr/bin/python3
"""dev-mongo: a local MongoDB wire-protocol server for development and tests.

MockupDB (MongoDB's own wire-protocol test server) speaks the protocol and
mongomock keeps the data in memory: one store for the whole process, per
database and collection, lost on exit. It answers what tenantrt, its tests and
the MongoDB drivers send (hello, CRUD, cursors, indexes, serverStatus) and
MongoDB's ``configureFailPoint: "failCommand"`` for server-side fault
injection.

Run it with Debian's interpreter, which has python3-mockupdb and
python3-mongomock:

    /usr/bin/python3 tools/dev-mongo/dev_mongo.py --port 0 [--max-connections N]
        [--latency-ms N]

``--latency-ms N`` delays every command's reply by N ms (a slow server),
except the handshake and monitoring (hello / isMaster) and
``devMongoSetLatency`` itself. A test changes it while the server runs with
the admin command ``{devMongoSetLatency: N}`` (reply ``{was: previous}``);
serverStatus shows it as ``devMongo.latencyMs``. Connection attempts seen
(served + refused at --max-connections) are ``connections.totalCreated`` +
``connections.refused``.

It prints one line ``dev-mongo listening on HOST:PORT`` on stdout, logs to
stderr, and serves until SIGTERM/SIGINT (exit status 0).

Sessions are checked as mongod checks them, so a client or proxy that a real
server would refuse is refused here too (codes and texts from mongod's
sources, see docs/testing.md "dev-mongo's session rules"):

- a cursor remembers the ``lsid`` of the command that opened it; a
  ``getMore`` from another session gets 50738, one without an ``lsid`` for a
  cursor opened in a session 50737, one in a session for a cursor opened
  without one 50736 (``getmore_cmd.cpp`` validateLSID; the cursor stays
  open), and one naming another namespace 13;
- a ``killCursors`` from another session than the cursor's gets 13
  (Unauthorized, "Cursor session id (...) is not the same as the operation
  context's session id (...)"), as from an authenticated mongod (Atlas); a
  mongod without authentication would kill it;
- a command whose body repeats a top-level field (two ``lsid`` keys, as
  mongo-c-driver 1.23 sends when the body has its own) gets 40413 "BSON
  field '<command>.<field>' is a duplicate field" (``idl_parser.cpp``);
- ``txnNumber`` gets 20 (IllegalOperation): this is a standalone.

Not a database: no auth, no transactions, no replication, no durability; a
global lock serialises every command (a few thousand operations per second).
"""

import argparse
import datetime
import functools
import operator
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid

import bson
from bson.int64 import Int64
import mockupdb
import mongomock
from mongomock import filtering
from mongomock.collection import ReturnDocument

VERSION = "5.0.0"
# 13 = MongoDB 5.0: OP_MSG everywhere, fine for mongo-c-driver 1.23 and
# pymongo 3.11. No topologyVersion is announced, so drivers poll (no exhaust).
MAX_WIRE_VERSION = 13
MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48000000
MAX_WRITE_BATCH_SIZE = 100000
# mockupdb listens with a backlog of 128; connect storms of hundreds of
# clients then wait for SYN retries. The kernel caps this at somaxconn.
LISTEN_BACKLOG = 4096
# Idle cursors are dropped after this long, like mongod's cursorTimeoutMillis.
CURSOR_TIMEOUT_S = 600.0

# mockupdb 1.8.0 defines exhaustAllowed as 16 instead of 1 << 16, so a request
# carrying the real bit is rejected as "reserved bits set" and the connection
# dies. Fix the table before any request is parsed.
mockupdb.OP_MSG_FLAGS["exhaustAllowed"] = 1 << 16
mockupdb._ALL_OP_MSG_FLAGS = functools.reduce(
    operator.or_, mockupdb.OP_MSG_FLAGS.values())
_MORE_TO_COME = mockupdb.OP_MSG_FLAGS["moreToCome"]
_OP_MSG = 2013

# The size of a BSON value of each fixed-size type, for scanning a document's
# top-level keys without decoding it.
_FIXED_SIZE = {1: 8, 6: 0, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8,
               19: 16, 127: 0, 255: 0}
# Types whose value starts with its own int32 size (documents, arrays, code
# with scope) and types that are an int32 length plus that many bytes.
_SIZED = {3, 4, 15}
_STRING_LIKE = {2, 13, 14}

CODE_NAMES = {
    1: "InternalError", 2: "BadValue", 6: "HostUnreachable",
    7: "HostNotFound", 9: "FailedToParse", 11: "UserNotFound",
    13: "Unauthorized", 14: "TypeMismatch", 18: "AuthenticationFailed",
    20: "IllegalOperation", 26: "NamespaceNotFound", 27: "IndexNotFound",
    40: "ConflictingUpdateOperators", 43: "CursorNotFound",
    48: "NamespaceExists", 50: "MaxTimeMSExpired", 59: "CommandNotFound",
    66: "ImmutableField", 72: "InvalidOptions", 85: "IndexOptionsConflict",
    86: "IndexKeySpecsConflict", 89: "NetworkTimeout",
    91: "ShutdownInProgress", 112: "WriteConflict", 189: "PrimarySteppedDown",
    238: "NotImplemented", 262: "ExceededTimeLimit",
    10107: "NotWritablePrimary", 11000: "DuplicateKey",
    11600: "InterruptedAtShutdown", 11602: "InterruptedDueToReplStateChange",
    13435: "NotPrimaryNoSecondaryOk", 13436: "NotPrimaryOrSecondary",
}

# Commands a failCommand fail point never applies to (as in mongod).
_NEVER_FAILED = {"configureFailPoint"}

# Lower-case spellings MongoDB accepts as aliases.
_ALIASES = {
    "ismaster": "isMaster", "findandmodify": "findAndModify",
    "buildinfo": "buildInfo",
}


class CommandError(Exception):
    """A command failure to report as {ok: 0, code, codeName, errmsg}."""

    def __init__(self, code, errmsg, **extra):
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra


class _Hangup(Exception):
    """Close this connection without replying."""


def top_level_duplicates(data, start=0):
    """Keys that occur more than once at the top level of the BSON document
    starting at data[start] (first occurrence order). Values are skipped,
    not decoded; a malformed document gives what was read so far (the
    decoder reports it)."""
    seen, dups = set(), []
    try:
        end = start + int.from_bytes(data[start:start + 4], "little") - 1
        pos = start + 4
        while pos < end:
            kind = data[pos]
            key_end = data.index(b"\x00", pos + 1)
            key = data[pos + 1:key_end]
            pos = key_end + 1
            if key in seen and key not in dups:
                dups.append(key)
            seen.add(key)
            if kind in _FIXED_SIZE:
                pos += _FIXED_SIZE[kind]
            elif kind in _SIZED:
                pos += int.from_bytes(data[pos:pos + 4], "little")
            elif kind in _STRING_LIKE:
                pos += 4 + int.from_bytes(data[pos:pos + 4], "little")
            elif kind == 5:  # binary: length, subtype, bytes
                pos += 5 + int.from_bytes(data[pos:pos + 4], "little")
            elif kind == 11:  # regex: two C strings
                pos = data.index(b"\x00", data.index(b"\x00", pos) + 1) + 1
            elif kind == 12:  # DBPointer: string, ObjectId
                pos += 4 + int.from_bytes(data[pos:pos + 4], "little") + 12
            else:
                break
    except (ValueError, IndexError):
        pass
    return [k.decode("utf-8", "replace") for k in dups]


def op_msg_body_duplicates(msg):
    """Duplicate top-level keys of an OP_MSG's body (kind-0 section); msg is
    the message without its 16-byte header."""
    pos = 4  # flagBits
    while pos < len(msg):
        kind = msg[pos]
        if kind == 0:
            return top_level_duplicates(msg, pos + 1)
        if kind != 1:
            return []
        pos += 1 + int.from_bytes(msg[pos + 1:pos + 5], "little")
    return []


def receive_request(sock, server):
    """mockupdb.mock_server_receive_request, keeping what the decoded
    request loses: the body's duplicate top-level keys (a dict holds one)."""
    header = mockupdb.mock_server_receive(sock, 16)
    length = int.from_bytes(header[:4], "little", signed=True)
    request_id = int.from_bytes(header[4:8], "little", signed=True)
    opcode = int.from_bytes(header[12:16], "little", signed=True)
    if length < 16 or length > MAX_MESSAGE_SIZE:
        raise ValueError("message length %d out of range" % length)
    msg = mockupdb.mock_server_receive(sock, length - 16)
    if opcode not in mockupdb.OPCODES:
        raise NotImplementedError("opcode %d" % opcode)
    request = mockupdb.OPCODES[opcode].unpack(msg, sock, server, request_id)
    request.duplicate_fields = (op_msg_body_duplicates(msg)
                                if opcode == _OP_MSG else [])
    return request


def session_text(lsid):
    """A session id as mongod prints one in errors: "<uuid> - <uid> -  - "
    (uid: SHA-256 of the user names, here of none), or "none"."""
    raw = session_id(lsid)
    if raw is None:
        return "none"
    try:
        text = str(uuid.UUID(bytes=raw))
    except ValueError:
        text = raw.hex()
    return "%s - %s -  - " % (text, _NO_USER_DIGEST)


# base64 of SHA-256(""), the uid of a session without an authenticated user.
_NO_USER_DIGEST = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def session_id(lsid):
    """The comparable part of an lsid (its id's 16 bytes), or None. The
    decoder gives a UUID for binary subtype 4 and bytes otherwise."""
    if not isinstance(lsid, dict) or "id" not in lsid:
        return None
    value = lsid["id"]
    return value.bytes if isinstance(value, uuid.UUID) else bytes(value)


def error_doc(code, errmsg, **extra):
    doc = {"ok": 0.0, "errmsg": errmsg, "code": code,
           "codeName": CODE_NAMES.get(code, "Location%d" % code)}
    doc.update(extra)
    return doc


def error_from_exception(exc, ns=None):
    """Maps an exception raised while executing a command to (code, errmsg)."""
    if isinstance(exc, CommandError):
        return exc.code, exc.errmsg
    if isinstance(exc, mongomock.DuplicateKeyError):
        where = " collection: %s" % ns if ns else ""
        return 11000, "E11000 duplicate key error%s (%s)" % (where, exc)
    if isinstance(exc, mongomock.OperationFailure):
        return (exc.code or 2), str(exc)
    if isinstance(exc, NotImplementedError):
        return 238, "not supported by dev-mongo (mongomock): %s" % (exc,)
    if isinstance(exc, (TypeError, ValueError, bson.errors.InvalidDocument,
                        mongomock.PyMongoError)):
        return 2, "%s: %s" % (type(exc).__name__, exc)
    return 1, "dev-mongo internal error: %s: %s" % (type(exc).__name__, exc)


def _sort_list(sort):
    """{a: 1, b: -1} -> [("a", 1), ("b", -1)] (mongomock's form) or None."""
    if not sort:
        return None
    if not isinstance(sort, dict):
        raise CommandError(14, "sort must be a document")
    return [(k, v) for k, v in sort.items()]


def _is_update_document(u):
    return isinstance(u, dict) and bool(u) and all(
        k.startswith("$") for k in u)


def _int_arg(cmd, name, default=0):
    value = cmd.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError(14, "'%s' must be a number" % name)
    return int(value)


class _Connection:
    """One accepted client connection."""

    __slots__ = ("conn_id", "sock", "peer", "thread", "app_name")

    def __init__(self, conn_id, sock, peer):
        self.conn_id = conn_id
        self.sock = sock
        self.peer = peer
        self.thread = None
        self.app_name = None


class _Cursor:
    __slots__ = ("ns", "docs", "pos", "last_used", "lsid")

    def __init__(self, ns, docs, pos, lsid):
        self.ns = ns
        self.docs = docs
        self.pos = pos
        self.last_used = time.monotonic()
        # The opening command's lsid (None without one): getMore and
        # killCursors must come from the same session.
        self.lsid = lsid


class _FailPoint:
    """State of MongoDB's failCommand fail point (one per process)."""

    def __init__(self):
        self.mode = "off"
        self.remaining = 0   # mode {times: n}
        self.skip = 0        # mode {skip: n}
        self.data = {}
        self.entered = 0

    def configure(self, mode, data):
        if mode == "off":
            self.mode = "off"
        elif mode == "alwaysOn":
            self.mode = "alwaysOn"
        elif isinstance(mode, dict) and "times" in mode:
            times = _int_arg(mode, "times")
            self.mode, self.remaining = ("times", times) if times > 0 else (
                "off", 0)
        elif isinstance(mode, dict) and "skip" in mode:
            self.mode, self.skip = "skip", _int_arg(mode, "skip")
        else:
            raise CommandError(
                2, "mode must be 'alwaysOn', 'off', {times: n} or {skip: n}")
        if data is not None:
            if not isinstance(data, dict):
                raise CommandError(14, "data must be a document")
            commands = data.get("failCommands")
            if self.mode != "off" and not (
                    isinstance(commands, list) and commands):
                raise CommandError(
                    2, "failCommand requires data.failCommands (a list)")
            self.data = dict(data)
        previous, self.entered = self.entered, 0
        return previous

    def check(self, command, ns, app_name):
        """The fail point's data if it fires for this command, else None."""
        if self.mode == "off" or command in _NEVER_FAILED:
            return None
        data = self.data
        if command not in (data.get("failCommands") or ()):
            return None
        if "appName" in data and data["appName"] != app_name:
            return None
        if "namespace" in data and data["namespace"] != ns:
            return None
        if self.mode == "skip":
            if self.skip > 0:
                self.skip -= 1
                return None
        elif self.mode == "times":
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode = "off"
        self.entered += 1
        return data


class DevMongo(mockupdb.MockupDB):
    """MockupDB with a mongomock store, connection accounting and a limit.

    MockupDB's accept loop and per-connection loop are replaced: they hold
    the server lock while handling a request (a blocked fail point would stall
    every client), log eagerly, and lose track of a connection when a thread
    dies on an unexpected error. The wire-protocol parsing, the Request/Reply
    classes and the autoresponder chain are MockupDB's.
    """

    def __init__(self, host="127.0.0.1", port=0, max_connections=0,
                 verbose=False, latency_ms=0):
        super().__init__(port=port, verbose=verbose,
                         request_timeout=int(1e6))
        self._address = (host, port)
        self._max_connections = max_connections
        # Delay before every command reply except hello (--latency-ms,
        # devMongoSetLatency): a slow server without a slow handshake.
        self._latency_ms = latency_ms
        self._stats_lock = threading.Lock()
        self._connections = {}
        self._current = 0
        self._total_created = 0
        self._refused = 0
        self._requests = 0
        self._opcounters = dict.fromkeys(
            ("insert", "query", "update", "delete", "getmore", "command"), 0)
        self._started = time.monotonic()
        self._tls = threading.local()
        # mongomock is not thread-safe: every store access holds this lock.
        self._store_lock = threading.RLock()
        self._store = mongomock.MongoClient()
        self._cursors = {}
        self._next_cursor_id = 1000
        self._fail_point = _FailPoint()
        self._stop_event = threading.Event()
        self._commands = {
            "ping": self._cmd_ping,
            "buildInfo": self._cmd_build_info,
            "serverStatus": self._cmd_server_status,
            "endSessions": self._cmd_ping,
            "killSessions": self._cmd_ping,
            "refreshSessions": self._cmd_ping,
            "killAllSessions": self._cmd_ping,
            "getLastError": self._cmd_get_last_error,
            "whatsmyuri": self._cmd_whatsmyuri,
            "connectionStatus": self._cmd_connection_status,
            "hostInfo": self._cmd_host_info,
            "saslStart": self._cmd_auth,
            "authenticate": self._cmd_auth,
            "insert": self._cmd_insert,
            "find": self._cmd_find,
            "getMore": self._cmd_get_more,
            "killCursors": self._cmd_kill_cursors,
            "count": self._cmd_count,
            "update": self._cmd_update,
            "delete": self._cmd_delete,
            "findAndModify": self._cmd_find_and_modify,
            "aggregate": self._cmd_aggregate,
            "distinct": self._cmd_distinct,
            "createIndexes": self._cmd_create_indexes,
            "listIndexes": self._cmd_list_indexes,
            "dropIndexes": self._cmd_drop_indexes,
            "create": self._cmd_create,
            "drop": self._cmd_drop,
            "listCollections": self._cmd_list_collections,
            "listDatabases": self._cmd_list_databases,
            "dropDatabase": self._cmd_drop_database,
            "dbStats": self._cmd_db_stats,
            "configureFailPoint": self._cmd_configure_fail_point,
            "devMongoSetLatency": self._cmd_set_latency,
        }
        # Later responders take precedence: hello first, then everything else.
        # Both match any request; calling them directly skips MockupDB's
        # Matcher, which walks every attribute of the request (getpeername
        # included) and cost half the server's time per request.
        self._direct = {}
        for handler in (self._answer_command, self._answer_hello):
            self._direct[self.autoresponds(handler)] = handler

    # -- listening and connections ----------------------------------------

    @property
    def host(self):
        return self._address[0]

    def run(self):
        """Binds, starts the accept thread and returns the bound port."""
        host, port = self._address
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC,
                                   socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        family, socktype, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, socktype, proto)
        # A restarted server must get its old port back while the previous
        # process's connections are still in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(LISTEN_BACKLOG)
        # A timeout lets the accept loop notice stop() without extra fds.
        sock.settimeout(0.2)
        self._listening_sock = sock
        self._address = (host, sock.getsockname()[1])
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="dev-mongo-accept", daemon=True)
        self._accept_thread.start()
        return self.port

    def stop(self, timeout=3.0):
        """Closes the listener and every connection; True if all threads ended."""
        self._stopped = True
        self._stop_event.set()
        if self._accept_thread:
            self._accept_thread.join(timeout)
        try:
            self._listening_sock.close()
        except OSError:
            pass
        with self._stats_lock:
            conns = list(self._connections.values())
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for conn in conns:
            if conn.thread:
                conn.thread.join(max(0.0, deadline - time.monotonic()))
        return not any(c.thread and c.thread.is_alive() for c in conns)

    def _accept_loop(self):
        while not self._stopped:
            try:
                client, peer = self._listening_sock.accept()
            except socket.timeout:
                continue
            except OSError as exc:
                if self._stopped:
                    break
                # EMFILE and friends: back off instead of spinning.
                self._warn("accept failed: %s" % exc)
                time.sleep(0.1)
                continue
            self._admit(client, peer)

    def _admit(self, client, peer):
        with self._stats_lock:
            limit = self._max_connections
            refuse = limit > 0 and self._current >= limit
            if refuse:
                self._refused += 1
                open_now = self._current
            else:
                self._current += 1
                self._total_created += 1
                conn = _Connection(self._total_created, client, peer)
                self._connections[conn.conn_id] = conn
        if refuse:
            # What mongod does at its limit: accept, then close at once.
            client.close()
            self._warn("connection refused because too many open connections:"
                       " %d (--max-connections %d), from %s"
                       % (open_now, limit, mockupdb.format_addr(peer)))
            return
        client.settimeout(None)
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._log("connection #%d from %s"
                  % (conn.conn_id, mockupdb.format_addr(peer)))
        conn.thread = threading.Thread(
            target=self._server_loop, args=(conn,),
            name="dev-mongo-conn-%d" % conn.conn_id, daemon=True)
        try:
            conn.thread.start()
        except RuntimeError as exc:  # can't start new thread
            self._warn("cannot serve connection: %s" % exc)
            self._forget(conn)

    def _forget(self, conn):
        try:
            conn.sock.close()
        except OSError:
            pass
        with self._stats_lock:
            if self._connections.pop(conn.conn_id, None) is not None:
                self._current -= 1

    def _server_loop(self, conn):
        """Reads and answers requests from one connection until it closes."""
        self._tls.conn = conn
        try:
            while not self._stopped:
                try:
                    request = receive_request(conn.sock, self)
                except OSError:
                    break  # closed by the client, by stop() or by a hangup
                except Exception as exc:
                    self._warn("connection #%d: unreadable message (%s: %s),"
                               " closing" % (conn.conn_id,
                                             type(exc).__name__, exc))
                    break
                with self._stats_lock:
                    self._requests += 1
                if self._verbose:
                    self._log("#%d\t%r" % (conn.conn_id, request))
                try:
                    for responder in reversed(self._autoresponders):
                        direct = self._direct.get(responder)
                        if (direct(request) if direct
                                else responder.handle(request)):
                            break
                    else:
                        self._warn("connection #%d: unsupported %s, closing"
                                   % (conn.conn_id, type(request).__name__))
                        break
                except (_Hangup, OSError):
                    break
                except Exception:
                    self._warn("connection #%d: handler failed, closing\n%s"
                               % (conn.conn_id, traceback.format_exc()))
                    break
        finally:
            self._forget(conn)
            self._log("connection #%d closed" % conn.conn_id)

    # -- logging ----------------------------------------------------------

    def _log(self, msg):
        if self._verbose:
            self._warn(msg)

    @staticmethod
    def _warn(msg):
        sys.stderr.write("dev-mongo: %s\n" % msg)
        sys.stderr.flush()

    # -- replies ----------------------------------------------------------

    def _send(self, request, doc):
        """Replies with one document in the request's protocol.

        Like Request.ok() but without MockupDB's eager repr of every reply.
        """
        if isinstance(request, mockupdb.OpMsg):
            if request.flags & _MORE_TO_COME:
                return True  # unacknowledged write (w:0): no reply expected
            reply = mockupdb.OpMsgReply(doc)
        else:
            reply = mockupdb.OpReply(doc)
        reply.doc.setdefault("ok", 1.0)
        if self._verbose:
            self._log("#%d\t<-- %r" % (self._tls.conn.conn_id, reply))
        request._client.sendall(reply.reply_bytes(request))
        return True

    @staticmethod
    def _command_of(request):
        """(name, document) of a command request, or (None, None)."""
        if not isinstance(request, mockupdb.CommandBase) or not request.docs:
            return None, None
        doc = request.doc
        if "$query" in doc:  # OP_QUERY command wrapped with a read preference
            doc = doc["$query"]
        if not doc:
            return None, None
        name = next(iter(doc))
        return _ALIASES.get(name, name), doc

    def _apply_latency(self, name):
        """Sleeps --latency-ms / devMongoSetLatency before answering name."""
        with self._stats_lock:
            latency_ms = self._latency_ms
        if latency_ms <= 0 or name == "devMongoSetLatency":
            return
        # Interruptible, so stop() need not wait for a long delay.
        self._stop_event.wait(latency_ms / 1000.0)
        if self._stopped:
            raise _Hangup()

    def _apply_fail_point(self, request, name, doc):
        """Blocks, hangs up or returns an error document as failCommand says.

        Returns (error_doc or None, writeConcernError or None).
        """
        conn = self._tls.conn
        coll = doc.get(name)
        ns = "%s.%s" % (request.namespace, coll) if isinstance(
            coll, str) else request.namespace
        with self._store_lock:
            data = self._fail_point.check(name, ns, conn.app_name)
        if data is None:
            return None, None
        self._log("#%d\tfailCommand fires for %s" % (conn.conn_id, name))
        if data.get("blockConnection"):
            # Interruptible, so stop() need not wait for a long block.
            self._stop_event.wait(
                max(0, _int_arg(data, "blockTimeMS")) / 1000.0)
            if self._stopped:
                raise _Hangup()
        if data.get("closeConnection"):
            try:
                request._client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise _Hangup()
        if "errorCode" in data:
            code = _int_arg(data, "errorCode")
            extra = {}
            if "errorLabels" in data:
                extra["errorLabels"] = list(data["errorLabels"])
            return error_doc(code, "Failing command %s via 'failCommand'"
                             " failpoint" % name, **extra), None
        return None, data.get("writeConcernError")

    # -- autoresponders ---------------------------------------------------

    def _answer_hello(self, request):
        name, doc = self._command_of(request)
        if name not in ("hello", "isMaster"):
            return False
        conn = self._tls.conn
        client_meta = doc.get("client")
        if isinstance(client_meta, dict):
            app = client_meta.get("application")
            if isinstance(app, dict) and "name" in app:
                conn.app_name = app["name"]
        failure, _ = self._apply_fail_point(request, name, doc)
        if failure:
            return self._send(request, failure)
        reply = {
            "helloOk": True,
            "isWritablePrimary": True,
            "ismaster": True,
            "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
            "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": MAX_WRITE_BATCH_SIZE,
            "localTime": datetime.datetime.utcnow(),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": conn.conn_id,
            "minWireVersion": 0,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
            "ok": 1.0,
        }
        return self._send(request, reply)

    def _answer_command(self, request):
        name, doc = self._command_of(request)
        if name is None:
            return False
        self._apply_latency(name)
        failure, write_concern_error = self._apply_fail_point(
            request, name, doc)
        if failure:
            return self._send(request, failure)
        handler = self._commands.get(name)
        if handler is None:
            self._count_op("command")
            return self._send(request, error_doc(
                59, "no such command: '%s'" % name))
        refusal = self._session_refusal(request, name, doc)
        if refusal:
            self._count_op("command")
            return self._send(request, refusal)
        try:
            reply = handler(request.namespace, doc)
        except Exception as exc:
            target = doc.get(name)
            ns = request.namespace + (
                "." + target if isinstance(target, str) else "")
            code, errmsg = error_from_exception(exc, ns)
            extra = exc.extra if isinstance(exc, CommandError) else {}
            if code == 1:
                self._warn("%s failed:\n%s" % (name, traceback.format_exc()))
            reply = error_doc(code, errmsg, **extra)
        if write_concern_error is not None and reply.get("ok"):
            reply["writeConcernError"] = write_concern_error
        return self._send(request, reply)

    @staticmethod
    def _session_refusal(request, name, doc):
        """What mongod refuses before it runs a command: a repeated
        top-level field, a transaction number on a standalone."""
        duplicates = getattr(request, "duplicate_fields", None)
        if duplicates:
            return error_doc(40413, "BSON field '%s.%s' is a duplicate field"
                             % (name, duplicates[0]))
        if "txnNumber" in doc:
            return error_doc(20, "Transaction numbers are only allowed on a"
                             " replica set member or mongos")
        return None

    # -- helpers ----------------------------------------------------------

    def _count_op(self, kind, n=1):
        with self._stats_lock:
            self._opcounters[kind] += n

    def _collection(self, db, doc, name):
        coll = doc.get(name)
        if not isinstance(coll, str) or not coll:
            raise CommandError(
                73, "collection name must be a non-empty string")
        return self._store[db][coll], "%s.%s" % (db, coll)

    def _collection_exists(self, db, coll):
        return coll in self._store[db].list_collection_names()

    def _open_cursor(self, ns, docs, batch_size, lsid, single_batch=False):
        """Cursor reply; id 0 unless documents remain beyond the batch."""
        if batch_size is None or batch_size < 0 or single_batch:
            first, cursor_id = docs, 0
        else:
            first = docs[:batch_size]
            cursor_id = 0
            if len(docs) > batch_size:
                with self._store_lock:
                    self._reap_cursors()
                    self._next_cursor_id += 1
                    cursor_id = self._next_cursor_id
                    self._cursors[cursor_id] = _Cursor(
                        ns, docs, batch_size, session_id(lsid))
        return {"cursor": {"firstBatch": first, "id": Int64(cursor_id),
                           "ns": ns}, "ok": 1.0}

    def _reap_cursors(self):
        now = time.monotonic()
        for cid in [cid for cid, c in self._cursors.items()
                    if now - c.last_used > CURSOR_TIMEOUT_S]:
            del self._cursors[cid]

    # -- commands: server -------------------------------------------------

    def _cmd_ping(self, db, doc):
        self._count_op("command")
        return {"ok": 1.0}

    def _cmd_build_info(self, db, doc):
        self._count_op("command")
        return {
            "version": VERSION,
            "gitVersion": "dev-mongo",
            "versionArray": [5, 0, 0, 0],
            "modules": [],
            "allocator": "system",
            "javascriptEngine": "none",
            "sysInfo": "deprecated",
            "bits": 64,
            "debug": False,
            "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
            "storageEngines": ["mongomock"],
            "ok": 1.0,
        }

    def stats(self):
        """serverStatus.connections (also used by tests in-process)."""
        with self._stats_lock:
            limit = self._max_connections
            return {
                "current": self._current,
                "available": (max(0, limit - self._current) if limit
                              else 838860),
                "totalCreated": self._total_created,
                "refused": self._refused,
                # mongod's name for the same counter (6.0+).
                "rejected": self._refused,
                "active": self._current,
            }

    def _cmd_server_status(self, db, doc):
        self._count_op("command")
        uptime = time.monotonic() - self._started
        with self._stats_lock:
            opcounters = dict(self._opcounters)
            requests = self._requests
            latency_ms = self._latency_ms
        with self._store_lock:
            open_cursors = len(self._cursors)
        return {
            "host": "%s:%d" % (socket.gethostname(), self.port),
            "version": VERSION,
            "process": "dev-mongo",
            "pid": Int64(os.getpid()),
            "uptime": float(int(uptime)),
            "uptimeMillis": Int64(int(uptime * 1000)),
            "localTime": datetime.datetime.utcnow(),
            "connections": self.stats(),
            "opcounters": opcounters,
            "metrics": {"cursor": {"open": {"total": open_cursors}}},
            "devMongo": {"maxConnections": self._max_connections,
                         "latencyMs": latency_ms,
                         "requests": requests},
            "ok": 1.0,
        }

    def _cmd_set_latency(self, db, doc):
        """{devMongoSetLatency: N} on admin: N ms before every later reply."""
        self._count_op("command")
        if db != "admin":
            raise CommandError(13, "devMongoSetLatency may only be run against"
                                   " the admin database")
        value = doc.get("devMongoSetLatency")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= 600000:
            raise CommandError(2, "devMongoSetLatency must be a number of"
                                  " milliseconds in 0..600000, got %r"
                                  % (value,))
        with self._stats_lock:
            previous, self._latency_ms = self._latency_ms, int(value)
        self._warn("latency set to %d ms (was %d ms)" % (int(value), previous))
        return {"was": previous, "latencyMs": int(value), "ok": 1.0}

    def _cmd_get_last_error(self, db, doc):
        self._count_op("command")
        return {"err": None, "n": 0, "ok": 1.0}

    def _cmd_whatsmyuri(self, db, doc):
        self._count_op("command")
        return {"you": mockupdb.format_addr(self._tls.conn.peer), "ok": 1.0}

    def _cmd_connection_status(self, db, doc):
        self._count_op("command")
        return {"authInfo": {"authenticatedUsers": [],
                             "authenticatedUserRoles": []}, "ok": 1.0}

    def _cmd_host_info(self, db, doc):
        self._count_op("command")
        return {"system": {"hostname": socket.gethostname(),
                           "numCores": os.cpu_count() or 1},
                "os": {"type": sys.platform}, "ok": 1.0}

    def _cmd_auth(self, db, doc):
        raise CommandError(18, "dev-mongo has no users: connect without"
                           " credentials")

    def _cmd_configure_fail_point(self, db, doc):
        self._count_op("command")
        name = doc.get("configureFailPoint")
        if name != "failCommand":
            raise CommandError(
                2, "dev-mongo supports only the failCommand fail point,"
                " not %r" % (name,))
        if "mode" not in doc:
            raise CommandError(9, "configureFailPoint requires 'mode'")
        with self._store_lock:
            previous = self._fail_point.configure(doc["mode"],
                                                  doc.get("data"))
        self._log("failCommand: mode=%r data=%r" % (doc["mode"],
                                                    doc.get("data")))
        return {"count": previous, "ok": 1.0}

    # -- commands: CRUD ---------------------------------------------------

    def _cmd_insert(self, db, doc):
        documents = doc.get("documents")
        if not isinstance(documents, list):
            raise CommandError(9, "insert requires a 'documents' array")
        ordered = doc.get("ordered", True)
        n, write_errors = 0, []
        with self._store_lock:
            coll, ns = self._collection(db, doc, "insert")
            for index, item in enumerate(documents):
                try:
                    coll.insert_one(item)
                    n += 1
                except Exception as exc:
                    code, errmsg = error_from_exception(exc, ns)
                    write_errors.append(
                        {"index": index, "code": code, "errmsg": errmsg})
                    if ordered:
                        break
        self._count_op("insert", n)
        reply = {"n": n, "ok": 1.0}
        if write_errors:
            reply["writeErrors"] = write_errors
        return reply

    def _cmd_find(self, db, doc):
        self._count_op("query")
        filter_ = doc.get("filter") or {}
        projection = doc.get("projection") or None
        skip = _int_arg(doc, "skip")
        limit = _int_arg(doc, "limit")
        single_batch = bool(doc.get("singleBatch", False))
        if limit < 0:
            limit, single_batch = -limit, True
        batch_size = doc.get("batchSize")
        batch_size = None if batch_size is None else _int_arg(doc,
                                                              "batchSize")
        with self._store_lock:
            coll, ns = self._collection(db, doc, "find")
            kwargs = {}
            if doc.get("collation"):
                kwargs["collation"] = doc["collation"]
            docs = list(coll.find(filter_, projection, skip=skip, limit=limit,
                                  sort=_sort_list(doc.get("sort")), **kwargs))
        return self._open_cursor(ns, docs, batch_size, doc.get("lsid"),
                                 single_batch)

    def _cmd_get_more(self, db, doc):
        self._count_op("getmore")
        cursor_id = doc.get("getMore")
        batch_size = doc.get("batchSize")
        batch_size = None if batch_size is None else _int_arg(doc,
                                                              "batchSize")
        with self._store_lock:
            cursor = self._cursors.get(cursor_id)
            if cursor is None:
                raise CommandError(43, "cursor id %s not found" % cursor_id)
            self._check_get_more_session(cursor_id, cursor, doc.get("lsid"))
            ns = "%s.%s" % (db, doc.get("collection"))
            if ns != cursor.ns:
                raise CommandError(13, "Requested getMore on namespace '%s',"
                                   " but cursor belongs to a different"
                                   " namespace %s" % (ns, cursor.ns))
            end = len(cursor.docs) if not batch_size else min(
                len(cursor.docs), cursor.pos + batch_size)
            batch = cursor.docs[cursor.pos:end]
            cursor.pos = end
            cursor.last_used = time.monotonic()
            ns = cursor.ns
            if end >= len(cursor.docs):
                del self._cursors[cursor_id]
                cursor_id = 0
        return {"cursor": {"nextBatch": batch, "id": Int64(cursor_id),
                           "ns": ns}, "ok": 1.0}

    @staticmethod
    def _check_get_more_session(cursor_id, cursor, lsid):
        """mongod's validateLSID (getmore_cmd.cpp), without authentication:
        the cursor stays open after a refusal."""
        mine = session_id(lsid)
        if mine is not None and cursor.lsid is None:
            raise CommandError(50736, "Cannot run getMore on cursor %d, which"
                               " was not created in a session, in session %s"
                               % (cursor_id, session_text(lsid)))
        if mine is None and cursor.lsid is not None:
            raise CommandError(50737, "Cannot run getMore on cursor %d, which"
                               " was created in session %s, without an lsid"
                               % (cursor_id, session_text({"id": cursor.lsid})))
        if mine != cursor.lsid:
            raise CommandError(50738, "Cannot run getMore on cursor %d, which"
                               " was created in session %s, in session %s"
                               % (cursor_id, session_text({"id": cursor.lsid}),
                                  session_text(lsid)))

    def _cmd_kill_cursors(self, db, doc):
        self._count_op("command")
        killed, not_found = [], []
        mine = session_id(doc.get("lsid"))
        with self._store_lock:
            for cid in doc.get("cursors") or []:
                cursor = self._cursors.get(cid)
                if cursor is not None and cursor.lsid != mine:
                    # As an authenticated mongod (checkCursorSessionPrivilege).
                    raise CommandError(
                        13, "Cursor session id (%s) is not the same as the"
                        " operation context's session id (%s)" % (
                            session_text(None if cursor.lsid is None
                                         else {"id": cursor.lsid}),
                            session_text(doc.get("lsid"))))
            for cid in doc.get("cursors") or []:
                if self._cursors.pop(cid, None) is not None:
                    killed.append(Int64(cid))
                else:
                    not_found.append(Int64(cid))
        return {"cursorsKilled": killed, "cursorsNotFound": not_found,
                "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0}

    def _cmd_count(self, db, doc):
        self._count_op("command")
        kwargs = {}
        limit = abs(_int_arg(doc, "limit"))
        if limit:
            kwargs["limit"] = limit
        skip = _int_arg(doc, "skip")
        if skip:
            kwargs["skip"] = skip
        with self._store_lock:
            coll, _ = self._collection(db, doc, "count")
            n = coll.count_documents(doc.get("query") or {}, **kwargs)
        return {"n": n, "ok": 1.0}

    def _update_one_statement(self, coll, stmt):
        if not isinstance(stmt, dict) or "u" not in stmt:
            raise CommandError(9, "each update needs 'q' and 'u'")
        q = stmt.get("q") or {}
        u = stmt["u"]
        upsert = bool(stmt.get("upsert", False))
        multi = bool(stmt.get("multi", False))
        kwargs = {}
        if stmt.get("arrayFilters"):
            kwargs["array_filters"] = stmt["arrayFilters"]
        if isinstance(u, list) or _is_update_document(u):
            fn = coll.update_many if multi else coll.update_one
            return fn(q, u, upsert=upsert, **kwargs).raw_result
        if multi:
            raise CommandError(
                9, "multi update is not supported for replacement-style"
                " update")
        return coll.replace_one(q, u, upsert=upsert).raw_result

    def _cmd_update(self, db, doc):
        updates = doc.get("updates")
        if not isinstance(updates, list):
            raise CommandError(9, "update requires an 'updates' array")
        ordered = doc.get("ordered", True)
        n = n_modified = 0
        upserted, write_errors = [], []
        with self._store_lock:
            coll, ns = self._collection(db, doc, "update")
            for index, stmt in enumerate(updates):
                try:
                    raw = self._update_one_statement(coll, stmt)
                except Exception as exc:
                    code, errmsg = error_from_exception(exc, ns)
                    write_errors.append(
                        {"index": index, "code": code, "errmsg": errmsg})
                    if ordered:
                        break
                    continue
                n += raw.get("n", 0)
                n_modified += raw.get("nModified", 0) or 0
                if raw.get("upserted") is not None:
                    upserted.append({"index": index, "_id": raw["upserted"]})
        self._count_op("update", len(updates))
        reply = {"n": n, "nModified": n_modified, "ok": 1.0}
        if upserted:
            reply["upserted"] = upserted
        if write_errors:
            reply["writeErrors"] = write_errors
        return reply

    def _cmd_delete(self, db, doc):
        deletes = doc.get("deletes")
        if not isinstance(deletes, list):
            raise CommandError(9, "delete requires a 'deletes' array")
        ordered = doc.get("ordered", True)
        n, write_errors = 0, []
        with self._store_lock:
            coll, ns = self._collection(db, doc, "delete")
            for index, stmt in enumerate(deletes):
                try:
                    if not isinstance(stmt, dict):
                        raise CommandError(9, "each delete needs 'q'")
                    q = stmt.get("q") or {}
                    if _int_arg(stmt, "limit") == 1:
                        n += coll.delete_one(q).deleted_count
                    else:
                        n += coll.delete_many(q).deleted_count
                except Exception as exc:
                    code, errmsg = error_from_exception(exc, ns)
                    write_errors.append(
                        {"index": index, "code": code, "errmsg": errmsg})
                    if ordered:
                        break
        self._count_op("delete", len(deletes))
        reply = {"n": n, "ok": 1.0}
        if write_errors:
            reply["writeErrors"] = write_errors
        return reply

    def _cmd_find_and_modify(self, db, doc):
        self._count_op("command")
        query = doc.get("query") or {}
        sort = _sort_list(doc.get("sort"))
        fields = doc.get("fields") or None
        upsert = bool(doc.get("upsert", False))
        with self._store_lock:
            coll, _ = self._collection(db, doc, "findAndModify")
            if doc.get("remove"):
                if doc.get("new"):
                    raise CommandError(
                        9, "Cannot specify both new=true and remove=true")
                value = coll.find_one_and_delete(query, projection=fields,
                                                 sort=sort)
                leo = {"n": 1 if value is not None else 0}
                return {"lastErrorObject": leo, "value": value, "ok": 1.0}
            update = doc.get("update")
            if update is None:
                raise CommandError(
                    9, "Either an update or remove=true must be specified")
            existed = coll.find_one(query) is not None
            return_document = (ReturnDocument.AFTER
                               if doc.get("new") else
                               ReturnDocument.BEFORE)
            if isinstance(update, list) or _is_update_document(update):
                fn = coll.find_one_and_update
            else:
                fn = coll.find_one_and_replace
            value = fn(query, update, projection=fields, sort=sort,
                       upsert=upsert, return_document=return_document)
        leo = {"n": 1 if existed or upsert else 0, "updatedExisting": existed}
        if not existed and upsert and isinstance(value, dict) and (
                "_id" in value):
            leo["upserted"] = value["_id"]
        return {"lastErrorObject": leo, "value": value, "ok": 1.0}

    def _cmd_aggregate(self, db, doc):
        self._count_op("command")
        pipeline = doc.get("pipeline")
        if not isinstance(pipeline, list):
            raise CommandError(14, "'pipeline' must be an array")
        if not isinstance(doc.get("aggregate"), str):
            raise CommandError(238, "database-level aggregate is not"
                               " supported by dev-mongo")
        cursor_opts = doc.get("cursor") or {}
        batch_size = cursor_opts.get("batchSize")
        with self._store_lock:
            coll, ns = self._collection(db, doc, "aggregate")
            docs = list(coll.aggregate(pipeline))
        return self._open_cursor(
            ns, docs, None if batch_size is None else int(batch_size),
            doc.get("lsid"))

    def _cmd_distinct(self, db, doc):
        self._count_op("command")
        key = doc.get("key")
        if not isinstance(key, str):
            raise CommandError(14, "'key' must be a string")
        with self._store_lock:
            coll, _ = self._collection(db, doc, "distinct")
            values = coll.distinct(key, filter=doc.get("query") or None)
        return {"values": list(values), "ok": 1.0}

    # -- commands: collections, indexes, databases ------------------------

    def _cmd_create_indexes(self, db, doc):
        self._count_op("command")
        indexes = doc.get("indexes")
        if not isinstance(indexes, list) or not indexes:
            raise CommandError(2, "'indexes' must be a non-empty array")
        with self._store_lock:
            coll, _ = self._collection(db, doc, "createIndexes")
            created = not self._collection_exists(db, doc["createIndexes"])
            before = len(coll.index_information()) if not created else 1
            for spec in indexes:
                if not isinstance(spec, dict) or not isinstance(
                        spec.get("key"), dict) or not spec["key"]:
                    raise CommandError(9, "each index needs a 'key' document")
                options = {k: v for k, v in spec.items()
                           if k not in ("key", "v", "ns")}
                coll.create_index(list(spec["key"].items()), **options)
            after = len(coll.index_information())
        return {"createdCollectionAutomatically": created,
                "numIndexesBefore": before, "numIndexesAfter": after,
                "ok": 1.0}

    def _cmd_list_indexes(self, db, doc):
        self._count_op("command")
        with self._store_lock:
            coll, ns = self._collection(db, doc, "listIndexes")
            if not self._collection_exists(db, doc["listIndexes"]):
                raise CommandError(26, "ns does not exist: %s" % ns)
            info = coll.index_information()
        docs = []
        for name, spec in info.items():
            entry = {"v": 2, "key": dict(spec.get("key", [])), "name": name}
            entry.update({k: v for k, v in spec.items()
                          if k not in ("key", "v")})
            docs.append(entry)
        batch = (doc.get("cursor") or {}).get("batchSize")
        return self._open_cursor(ns, docs,
                                 None if batch is None else int(batch),
                                 doc.get("lsid"))

    def _cmd_drop_indexes(self, db, doc):
        self._count_op("command")
        index = doc.get("index")
        with self._store_lock:
            coll, ns = self._collection(db, doc, "dropIndexes")
            if not self._collection_exists(db, doc["dropIndexes"]):
                raise CommandError(26, "ns not found %s" % ns)
            was = len(coll.index_information())
            if index == "*":
                coll.drop_indexes()
            elif isinstance(index, str):
                coll.drop_index(index)
            elif isinstance(index, dict):
                coll.drop_index(list(index.items()))
            elif isinstance(index, list):
                for name in index:
                    coll.drop_index(name)
            else:
                raise CommandError(14, "'index' must be a name, a key"
                                   " pattern or '*'")
        return {"nIndexesWas": was, "ok": 1.0}

    def _cmd_create(self, db, doc):
        self._count_op("command")
        name = doc.get("create")
        with self._store_lock:
            self._collection(db, doc, "create")
            if self._collection_exists(db, name):
                raise CommandError(48, "Collection %s.%s already exists."
                                   % (db, name))
            self._store[db].create_collection(name)
        return {"ok": 1.0}

    def _cmd_drop(self, db, doc):
        self._count_op("command")
        name = doc.get("drop")
        with self._store_lock:
            _, ns = self._collection(db, doc, "drop")
            was = 0
            if self._collection_exists(db, name):
                was = len(self._store[db][name].index_information())
                self._store[db].drop_collection(name)
        # Dropping a missing collection succeeds, as in MongoDB 7.0.
        return {"nIndexesWas": was, "ns": ns, "ok": 1.0}

    def _cmd_list_collections(self, db, doc):
        self._count_op("command")
        filter_ = doc.get("filter") or {}
        name_only = bool(doc.get("nameOnly", False))
        with self._store_lock:
            names = sorted(self._store[db].list_collection_names())
        docs = []
        for name in names:
            entry = {"name": name, "type": "collection"}
            if not name_only:
                entry.update({"options": {}, "info": {"readOnly": False},
                              "idIndex": {"v": 2, "key": {"_id": 1},
                                          "name": "_id_"}})
            if filtering.filter_applies(filter_, entry):
                docs.append(entry)
        batch = (doc.get("cursor") or {}).get("batchSize")
        return self._open_cursor("%s.$cmd.listCollections" % db, docs,
                                 None if batch is None else int(batch),
                                 doc.get("lsid"))

    def _cmd_list_databases(self, db, doc):
        self._count_op("command")
        filter_ = doc.get("filter") or {}
        name_only = bool(doc.get("nameOnly", False))
        with self._store_lock:
            names = sorted(self._store.list_database_names())
            sizes = {}
            for name in names:
                database = self._store[name]
                sizes[name] = sum(
                    database[c].estimated_document_count()
                    for c in database.list_collection_names())
        databases = []
        for name in names:
            entry = {"name": name} if name_only else {
                "name": name, "sizeOnDisk": float(1024 * sizes[name]),
                "empty": sizes[name] == 0}
            if filtering.filter_applies(filter_, entry):
                databases.append(entry)
        reply = {"databases": databases, "ok": 1.0}
        if not name_only:
            reply["totalSize"] = float(sum(
                d.get("sizeOnDisk", 0) for d in databases))
        return reply

    def _cmd_drop_database(self, db, doc):
        self._count_op("command")
        with self._store_lock:
            self._store.drop_database(db)
            self._cursors = {cid: c for cid, c in self._cursors.items()
                             if not c.ns.startswith(db + ".")}
        return {"dropped": db, "ok": 1.0}

    def _cmd_db_stats(self, db, doc):
        self._count_op("command")
        with self._store_lock:
            database = self._store[db]
            names = database.list_collection_names()
            objects = sum(database[c].estimated_document_count()
                          for c in names)
        return {"db": db, "collections": len(names), "views": 0,
                "objects": objects, "ok": 1.0}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="dev-mongo",
        description="Local MongoDB wire-protocol server (MockupDB +"
                    " mongomock) for development and tests.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=27017,
                        help="port to listen on; 0 picks a free port"
                             " (default 27017)")
    parser.add_argument("--max-connections", type=int, default=0,
                        metavar="N",
                        help="accept and immediately close connections beyond"
                             " N open ones, like mongod at its limit"
                             " (default 0 = unlimited)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="N",
                        help="delay every command reply by N ms, except"
                             " hello/isMaster (a slow server; change it at"
                             " run time with {devMongoSetLatency: N} on"
                             " admin; default 0)")
    parser.add_argument("--verbose", action="store_true",
                        help="log connections, requests and replies to"
                             " stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    if args.max_connections < 0:
        parser.error("--max-connections must be >= 0")
    if not 0 <= args.latency_ms <= 600000:
        parser.error("--latency-ms must be in 0..600000")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # One thread per connection: hundreds of them need no 8 MiB stacks.
    threading.stack_size(1 << 20)
    server = DevMongo(args.host, args.port, args.max_connections,
                      args.verbose, args.latency_ms)
    try:
        port = server.run()
    except OSError as exc:
        sys.stderr.write("dev-mongo: cannot listen on %s:%d: %s\n"
                         % (args.host, args.port, exc))
        return 1

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write("dev-mongo listening on %s:%d\n" % (args.host, port))
    sys.stdout.flush()
    if args.max_connections:
        server._warn("max connections: %d" % args.max_connections)
    if args.latency_ms:
        server._warn("latency: %d ms per command" % args.latency_ms)

    while not stop.wait(0.5):
        pass
    clean = server.stop()
    server._warn("stopped (%d connections served, %d refused)"
                 % (server.stats()["totalCreated"], server.stats()["refused"]))
    if not clean:
        # A connection thread is stuck (e.g. a long blockConnection): do not
        # let interpreter shutdown wait for or trip over it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
