#!/usr/bin/python3
"""Protocol test of tools/dev-mongo/dev_mongo.py through a real driver.

Starts the server as a subprocess (``--port 0``), talks to it with Debian's
pymongo and checks CRUD round trips, connection accounting, the connection
limit, the failCommand fail point and error replies.

Run: /usr/bin/python3 tests/tools/dev-mongo/dev_mongo_test.py   (exit status 0 = pass)
Needs: python3-mockupdb python3-mongomock python3-pymongo (Debian).
"""

import os
import re
import select
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import bson
import pymongo
from pymongo.errors import (AutoReconnect, DuplicateKeyError,
                            OperationFailure, ServerSelectionTimeoutError)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEV_MONGO = os.path.join(REPO, "tools", "dev-mongo", "dev_mongo.py")
PYTHON = "/usr/bin/python3"  # Debian's, with mockupdb and mongomock


class DevMongoProcess:
    """dev_mongo.py in a subprocess; stderr goes to a temp file."""

    def __init__(self, *args):
        self.log = tempfile.NamedTemporaryFile(
            prefix="dev-mongo-test-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [PYTHON, DEV_MONGO, "--port", "0"] + list(args),
            stdout=subprocess.PIPE, stderr=self.log)
        self.log.close()  # the child has its own descriptor
        line = self._read_line(timeout=20)
        match = re.fullmatch(
            rb"dev-mongo listening on 127\.0\.0\.1:(\d+)\n", line)
        if not match:
            self.proc.kill()
            raise RuntimeError("unexpected first line %r; log: %s"
                               % (line, self.stderr()))
        self.port = int(match.group(1))

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line += chunk
        return line

    def stderr(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def client(self, **kwargs):
        kwargs.setdefault("serverSelectionTimeoutMS", 3000)
        kwargs.setdefault("connectTimeoutMS", 3000)
        return pymongo.MongoClient("127.0.0.1", self.port, **kwargs)

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        finally:
            self.proc.stdout.close()
            os.unlink(self.log.name)


def raw_command(sock, doc):
    """Sends one OP_MSG command on a raw socket and returns the reply."""
    body = struct.pack("<I", 0) + b"\x00" + bson.encode(doc)
    sock.sendall(struct.pack("<iiii", 16 + len(body), 7, 0, 2013) + body)
    header = recv_exactly(sock, 16)
    length = struct.unpack("<i", header[:4])[0]
    payload = recv_exactly(sock, length - 16)
    return bson.decode(payload[5:])


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by server")
        data += chunk
    return data


def wait_until(predicate, timeout=5.0):
    """Polls an external condition (the server sees closes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)


class DevMongoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = DevMongoProcess()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        status = cls.server.stop()
        assert status == 0, "dev-mongo exited with %r" % status

    def tearDown(self):
        self.client.admin.command("configureFailPoint", "failCommand",
                                  mode="off")

    def connections(self):
        return self.client.admin.command("serverStatus")["connections"]

    def settled_connections(self):
        """serverStatus.connections once only self.client is connected.

        self.client holds two sockets (monitor and pool); other tests' closed
        clients may still be on their way out.
        """
        self.assertTrue(wait_until(
            lambda: self.connections()["current"] == 2), self.connections())
        return self.connections()

    def test_ping_build_info_hello(self):
        self.assertEqual(self.client.admin.command("ping")["ok"], 1.0)
        info = self.client.server_info()
        self.assertTrue(info["version"].startswith("5."))
        hello = self.client.admin.command("isMaster")
        self.assertTrue(hello["ismaster"])
        self.assertGreaterEqual(hello["maxWireVersion"], 6)
        self.assertNotIn("topologyVersion", hello)
        self.assertTrue(self.client.admin.command("hello")["isWritablePrimary"])

    def test_crud_round_trip(self):
        coll = self.client.crud_db.items
        coll.drop()
        docs = [{"_id": i, "name": "item%02d" % i, "qty": i * 10,
                 "tags": ["even" if i % 2 == 0 else "odd"]} for i in range(25)]
        self.assertEqual(coll.insert_many(docs).inserted_ids, list(range(25)))

        found = list(coll.find({"tags": "even", "qty": {"$gte": 40}},
                               {"name": 1, "_id": 0})
                     .sort("qty", pymongo.DESCENDING).skip(1).limit(3))
        self.assertEqual(found, [{"name": "item22"}, {"name": "item20"},
                                 {"name": "item18"}])
        # Small batches go through getMore.
        batched = list(coll.find({}, {"_id": 1}).sort("_id", 1).batch_size(4))
        self.assertEqual([d["_id"] for d in batched], list(range(25)))

        count = self.client.crud_db.command("count", "items",
                                            query={"qty": {"$lt": 100}})
        self.assertEqual(count["n"], 10)
        self.assertEqual(coll.count_documents({"tags": "odd"}), 12)

        result = coll.update_many({"qty": {"$gte": 200}},
                                  {"$inc": {"qty": 1}, "$set": {"big": True}})
        self.assertEqual((result.matched_count, result.modified_count),
                         (5, 5))
        self.assertEqual(coll.find_one({"_id": 24})["qty"], 241)
        result = coll.update_one({"_id": 100}, {"$set": {"qty": 7}},
                                 upsert=True)
        self.assertEqual(result.upserted_id, 100)
        result = coll.replace_one({"_id": 3}, {"name": "three"})
        self.assertEqual(result.modified_count, 1)
        self.assertEqual(coll.find_one({"_id": 3}), {"_id": 3,
                                                     "name": "three"})
        raw = self.client.crud_db.command(
            "update", "items",
            updates=[{"q": {"big": True}, "u": {"$set": {"big": False}},
                      "multi": True},
                     {"q": {"_id": 101}, "u": {"$set": {"qty": 1}},
                      "upsert": True}])
        self.assertEqual(raw["n"], 6)
        self.assertEqual(raw["nModified"], 5)
        self.assertEqual(raw["upserted"], [{"index": 1, "_id": 101}])

        with self.assertRaises(DuplicateKeyError) as ctx:
            coll.insert_one({"_id": 5})
        self.assertEqual(ctx.exception.code, 11000)
        # Sparse: the upserted documents have no name (two nulls collide).
        coll.create_index("name", unique=True, sparse=True)
        with self.assertRaises(DuplicateKeyError):
            coll.insert_one({"_id": 500, "name": "item07"})

        self.assertEqual(coll.delete_one({"tags": "odd"}).deleted_count, 1)
        # qty < 50: _id 0, 2, 4 and the upserted 100 (qty 7) and 101 (qty 1).
        self.assertEqual(coll.delete_many({"qty": {"$lt": 50}}).deleted_count,
                         5)
        self.assertEqual(coll.count_documents({}), 27 - 1 - 5)
        self.assertIn("crud_db", self.client.list_database_names())
        self.client.drop_database("crud_db")
        self.assertEqual(coll.count_documents({}), 0)

    def test_connections_current_goes_up_and_down(self):
        before = self.settled_connections()
        clients = [self.server.client() for _ in range(4)]
        for c in clients:
            c.admin.command("ping")
        # Each pymongo client holds a monitor socket and a pooled socket; the
        # monitors connect on their own threads, so wait for the server to see them.
        self.assertTrue(wait_until(
            lambda: self.connections()["current"] == before["current"] + 8),
            self.connections())
        during = self.connections()
        self.assertEqual(during["current"], before["current"] + 8)
        self.assertGreaterEqual(during["totalCreated"],
                                before["totalCreated"] + 8)
        for c in clients:
            c.close()
        self.assertTrue(wait_until(
            lambda: self.connections()["current"] == before["current"]),
            self.connections())

    def test_hundreds_of_raw_connections(self):
        base = self.settled_connections()["current"]
        socks = [socket.create_connection(("127.0.0.1", self.server.port))
                 for _ in range(300)]
        try:
            self.assertTrue(wait_until(
                lambda: self.connections()["current"] == base + 300))
            self.assertEqual(raw_command(socks[-1], {"ping": 1,
                                                     "$db": "admin"})["ok"],
                             1.0)
        finally:
            for s in socks:
                s.close()
        self.assertTrue(wait_until(
            lambda: self.connections()["current"] == base))

    def test_unknown_command(self):
        with self.assertRaises(OperationFailure) as ctx:
            self.client.admin.command("frobnicate")
        self.assertEqual(ctx.exception.code, 59)
        self.assertIn("frobnicate", ctx.exception.details["errmsg"])
        self.assertEqual(ctx.exception.details["codeName"], "CommandNotFound")

    def test_fail_command_error_code(self):
        coll = self.client.fp_db.c
        coll.insert_one({"_id": 1})
        self.client.admin.command(
            "configureFailPoint", "failCommand", mode={"times": 2},
            data={"failCommands": ["find"], "errorCode": 2})
        for _ in range(2):
            with self.assertRaises(OperationFailure) as ctx:
                coll.find_one({"_id": 1})
            self.assertEqual(ctx.exception.code, 2)
        self.assertEqual(coll.find_one({"_id": 1}), {"_id": 1})  # used up

        self.client.admin.command(
            "configureFailPoint", "failCommand", mode="alwaysOn",
            data={"failCommands": ["insert"], "errorCode": 2})
        for i in range(3):
            with self.assertRaises(OperationFailure):
                coll.insert_one({"_id": 10 + i})
        self.client.admin.command("configureFailPoint", "failCommand",
                                  mode="off")
        coll.insert_one({"_id": 10})
        self.assertEqual(coll.count_documents({}), 2)

    def test_fail_command_close_connection(self):
        client = self.server.client(retryReads=False, retryWrites=False)
        try:
            client.admin.command("ping")
            created = self.connections()["totalCreated"]
            self.client.admin.command(
                "configureFailPoint", "failCommand", mode={"times": 1},
                data={"failCommands": ["ping"], "closeConnection": True})
            with self.assertRaises(AutoReconnect):
                client.admin.command("ping")
            self.assertEqual(client.admin.command("ping")["ok"], 1.0)
            # The driver had to open a new connection.
            self.assertGreater(self.connections()["totalCreated"], created)
        finally:
            client.close()

    def test_fail_command_block_connection(self):
        client = self.server.client()
        try:
            client.admin.command("ping")
            self.client.admin.command(
                "configureFailPoint", "failCommand", mode={"times": 1},
                data={"failCommands": ["dbStats"], "blockConnection": True,
                      "blockTimeMS": 400})
            start = time.monotonic()
            client.blk.command("dbStats")
            self.assertGreaterEqual(time.monotonic() - start, 0.35)
        finally:
            client.close()

    def test_fail_command_app_name(self):
        other = self.server.client(appName="victim")
        try:
            self.client.admin.command(
                "configureFailPoint", "failCommand", mode="alwaysOn",
                data={"failCommands": ["ping"], "errorCode": 2,
                      "appName": "victim"})
            self.assertEqual(self.client.admin.command("ping")["ok"], 1.0)
            with self.assertRaises(OperationFailure):
                other.admin.command("ping")
        finally:
            other.close()


class MaxConnectionsTest(unittest.TestCase):
    def test_third_connection_refused_and_counted(self):
        server = DevMongoProcess("--max-connections", "2")
        try:
            first = socket.create_connection(("127.0.0.1", server.port))
            second = socket.create_connection(("127.0.0.1", server.port))
            # connect() returns once the kernel queued the connection; the
            # server counts it when it accepts, a moment later.
            self.assertTrue(wait_until(lambda: raw_command(
                first, {"serverStatus": 1, "$db": "admin"})[
                    "connections"]["current"] == 2))

            third = socket.create_connection(("127.0.0.1", server.port))
            third.settimeout(5)
            with self.assertRaises((ConnectionError, OSError)):
                raw_command(third, {"ping": 1, "$db": "admin"})
            third.close()
            status = raw_command(second, {"serverStatus": 1, "$db": "admin"})
            self.assertEqual(status["connections"]["current"], 2)
            self.assertEqual(status["connections"]["refused"], 1)

            # A driver cannot get in either while both slots are taken.
            client = server.client(serverSelectionTimeoutMS=600)
            with self.assertRaises(ServerSelectionTimeoutError):
                client.admin.command("ping")
            client.close()

            # A freed slot is usable again (once the server saw the close).
            first.close()
            fourth = None

            def connect_and_ask():
                nonlocal fourth
                sock = socket.create_connection(("127.0.0.1", server.port))
                try:
                    reply = raw_command(sock, {"serverStatus": 1,
                                               "$db": "admin"})
                except OSError:
                    sock.close()
                    return None
                fourth = sock
                return reply

            status = wait_until(connect_and_ask)
            self.assertIsNotNone(status)
            self.assertEqual(status["connections"]["current"], 2)
            self.assertGreaterEqual(status["connections"]["refused"], 2)
            fourth.close()
            second.close()
            self.assertIn("too many open connections", server.stderr())
        finally:
            self.assertEqual(server.stop(), 0)


class LatencyTest(unittest.TestCase):
    """--latency-ms and devMongoSetLatency: a slow server, hello stays fast."""

    def test_start_option_slows_commands_not_hello(self):
        server = DevMongoProcess("--latency-ms", "300")
        try:
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                start = time.monotonic()
                raw_command(s, {"hello": 1, "$db": "admin"})
                hello_s = time.monotonic() - start
                start = time.monotonic()
                self.assertEqual(raw_command(s, {"ping": 1, "$db": "admin"})
                                 ["ok"], 1.0)
                ping_s = time.monotonic() - start
                status = raw_command(s, {"serverStatus": 1, "$db": "admin"})
            self.assertGreaterEqual(ping_s, 0.28)
            # Generous: hello has no delay, only a loaded machine's.
            self.assertLess(hello_s, ping_s)
            self.assertEqual(status["devMongo"]["latencyMs"], 300)
            self.assertIn("latency: 300 ms", server.stderr())
        finally:
            self.assertEqual(server.stop(), 0)

    def test_set_latency_at_run_time(self):
        server = DevMongoProcess()
        try:
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                reply = raw_command(s, {"devMongoSetLatency": 250,
                                        "$db": "admin"})
                self.assertEqual(reply["ok"], 1.0)
                self.assertEqual(reply["was"], 0)
                start = time.monotonic()
                raw_command(s, {"ping": 1, "$db": "admin"})
                self.assertGreaterEqual(time.monotonic() - start, 0.23)
                # Setting it back is not delayed itself.
                reply = raw_command(s, {"devMongoSetLatency": 0,
                                        "$db": "admin"})
                self.assertEqual(reply["was"], 250)
                status = raw_command(s, {"serverStatus": 1, "$db": "admin"})
                self.assertEqual(status["devMongo"]["latencyMs"], 0)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_bad_latency_values_are_named(self):
        server = DevMongoProcess()
        try:
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                for bad in (-1, "fast", True, 10 ** 9):
                    reply = raw_command(s, {"devMongoSetLatency": bad,
                                            "$db": "admin"})
                    self.assertEqual(reply["ok"], 0.0)
                    self.assertIn("devMongoSetLatency must be", reply["errmsg"])
                reply = raw_command(s, {"devMongoSetLatency": 5,
                                        "$db": "app"})
                self.assertEqual(reply["code"], 13)
        finally:
            self.assertEqual(server.stop(), 0)
        bad = subprocess.run([PYTHON, DEV_MONGO, "--latency-ms", "-5"],
                             capture_output=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn(b"--latency-ms must be in 0..600000", bad.stderr)

def session_text(session):
    """How mongod prints a session in its errors (no authenticated user)."""
    return "%s -  - " % session_prefix(session)


def session_prefix(session):
    value = session.session_id["id"]
    as_uuid = value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=bytes(value))
    return "%s - 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" % as_uuid


def op_msg_with_body(body_bytes):
    """An OP_MSG carrying body_bytes (a BSON document as given) as kind 0."""
    body = struct.pack("<I", 0) + b"\x00" + body_bytes
    return struct.pack("<iiii", 16 + len(body), 9, 0, 2013) + body


def read_reply(sock):
    header = recv_exactly(sock, 16)
    length = struct.unpack("<i", header[:4])[0]
    return bson.decode(recv_exactly(sock, length - 16)[5:])


class SessionRulesTest(unittest.TestCase):
    """dev-mongo refuses what mongod refuses (getmore_cmd.cpp validateLSID,
    checkCursorSessionPrivilege, idl_parser.cpp, initializeOperationSessionInfo),
    as pymongo sees it."""

    @classmethod
    def setUpClass(cls):
        cls.server = DevMongoProcess()
        cls.client = cls.server.client()
        cls.coll = cls.client.sessions_db.items
        cls.coll.insert_many([{"_id": i} for i in range(10)])

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        status = cls.server.stop()
        assert status == 0, "dev-mongo exited with %r" % status

    def open_cursor(self, session):
        reply = self.client.sessions_db.command(
            "find", "items", batchSize=2, session=session)
        cursor_id = reply["cursor"]["id"]
        self.assertNotEqual(cursor_id, 0)
        return cursor_id

    def get_more(self, cursor_id, session):
        return self.client.sessions_db.command(
            "getMore", bson.int64.Int64(cursor_id), collection="items",
            batchSize=2, session=session)

    def test_get_more_in_the_same_session_continues(self):
        with self.client.start_session() as session:
            cursor_id = self.open_cursor(session)
            reply = self.get_more(cursor_id, session)
            self.assertEqual([d["_id"] for d in reply["cursor"]["nextBatch"]], [2, 3])

    def test_get_more_from_another_session_is_50738_and_keeps_the_cursor(self):
        with self.client.start_session() as first, self.client.start_session() as other:
            cursor_id = self.open_cursor(first)
            with self.assertRaises(OperationFailure) as caught:
                self.get_more(cursor_id, other)
            self.assertEqual(caught.exception.code, 50738)
            self.assertEqual(caught.exception.details["codeName"], "Location50738")
            self.assertEqual(
                caught.exception.details["errmsg"],
                "Cannot run getMore on cursor %d, which was created in session %s, in session %s"
                % (cursor_id, session_text(first), session_text(other)))
            # The refusal does not kill the cursor: its own session goes on.
            reply = self.get_more(cursor_id, first)
            self.assertEqual([d["_id"] for d in reply["cursor"]["nextBatch"]], [2, 3])

    def test_get_more_without_lsid_is_50737_and_with_one_for_a_sessionless_cursor_50736(self):
        with self.client.start_session() as session, socket.create_connection(
                ("127.0.0.1", self.server.port), timeout=5) as sock:
            cursor_id = self.open_cursor(session)
            reply = raw_command(sock, {"getMore": bson.int64.Int64(cursor_id),
                                       "collection": "items", "$db": "sessions_db"})
            self.assertEqual(reply["code"], 50737, reply)
            self.assertEqual(reply["errmsg"],
                             "Cannot run getMore on cursor %d, which was created in session "
                             "%s, without an lsid" % (cursor_id, session_text(session)))
            # A cursor opened without a session (a raw find) refuses a session's getMore.
            opened = raw_command(sock, {"find": "items", "batchSize": 2, "$db": "sessions_db"})
            sessionless = opened["cursor"]["id"]
            with self.assertRaises(OperationFailure) as caught:
                self.get_more(sessionless, session)
            self.assertEqual(caught.exception.code, 50736)
            self.assertEqual(caught.exception.details["errmsg"],
                             "Cannot run getMore on cursor %d, which was not created in a "
                             "session, in session %s" % (sessionless, session_text(session)))
            # Without a session on both sides it continues.
            reply = raw_command(sock, {"getMore": sessionless, "collection": "items",
                                       "$db": "sessions_db"})
            self.assertEqual(reply["ok"], 1.0, reply)

    def test_get_more_on_another_namespace_is_unauthorized(self):
        with self.client.start_session() as session:
            cursor_id = self.open_cursor(session)
            with self.assertRaises(OperationFailure) as caught:
                self.client.other_db.command("getMore", bson.int64.Int64(cursor_id),
                                             collection="items", session=session)
            self.assertEqual(caught.exception.code, 13)
            self.assertIn("cursor belongs to a different namespace sessions_db.items",
                          caught.exception.details["errmsg"])

    def test_kill_cursors_from_another_session_is_unauthorized(self):
        with self.client.start_session() as first, self.client.start_session() as other:
            cursor_id = self.open_cursor(first)
            with self.assertRaises(OperationFailure) as caught:
                self.client.sessions_db.command("killCursors", "items",
                                                cursors=[bson.int64.Int64(cursor_id)],
                                                session=other)
            self.assertEqual(caught.exception.code, 13)
            self.assertEqual(caught.exception.details["codeName"], "Unauthorized")
            self.assertEqual(
                caught.exception.details["errmsg"],
                "Cursor session id (%s) is not the same as the operation context's session id "
                "(%s)" % (session_text(first), session_text(other)))
            reply = self.client.sessions_db.command(
                "killCursors", "items", cursors=[bson.int64.Int64(cursor_id)], session=first)
            self.assertEqual(reply["cursorsKilled"], [cursor_id])

    def test_duplicate_top_level_field_is_40413(self):
        # Two lsid keys, as mongo-c-driver 1.23 sends a body that has its own.
        lsid = bson.encode({"lsid": {"id": bson.binary.Binary(b"\x01" * 16, 4)}})[4:-1]
        body = bson.encode({"find": "items"})[4:-1] + lsid + lsid + \
            bson.encode({"$db": "sessions_db"})[4:-1]
        doc = struct.pack("<i", len(body) + 5) + body + b"\x00"
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            sock.sendall(op_msg_with_body(doc))
            reply = read_reply(sock)
            self.assertEqual(reply["code"], 40413, reply)
            self.assertEqual(reply["errmsg"], "BSON field 'find.lsid' is a duplicate field")
            # The connection stays usable; one lsid is fine.
            body = bson.encode({"find": "items"})[4:-1] + lsid + \
                bson.encode({"$db": "sessions_db"})[4:-1]
            sock.sendall(op_msg_with_body(struct.pack("<i", len(body) + 5) + body + b"\x00"))
            self.assertEqual(read_reply(sock)["ok"], 1.0)

    def test_txn_number_on_a_standalone_is_20(self):
        with self.client.start_session() as session:
            with self.assertRaises(OperationFailure) as caught:
                self.client.sessions_db.command(
                    "insert", "items", documents=[{"_id": 100}],
                    txnNumber=bson.int64.Int64(1), session=session)
            self.assertEqual(caught.exception.code, 20)
            self.assertEqual(caught.exception.details["errmsg"],
                             "Transaction numbers are only allowed on a replica set member "
                             "or mongos")
            self.assertEqual(self.coll.count_documents({"_id": 100}), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
