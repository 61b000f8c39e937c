#!/usr/bin/python3
"""Drives a running tenantrtd through raw sockets (TCP and Unix): every
command, every protocol error code, and 200 garbage lines in a row followed
by a valid stats, on the same connection.

usage: control_socket_e2e.py HOST:PORT /path/to/unix.sock MAX_CLIENTS
"""
import json
import random
import socket
import sys


def connect(address):
    if address.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address)
    else:
        host, port = address.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(30)
    return s, s.makefile("rb")


def reply(reader):
    line = reader.readline()
    assert line.endswith(b"\n"), "connection closed or reply not newline-terminated: %r" % line
    return json.loads(line)


def ask(sock, reader, request):
    sock.sendall((json.dumps(request) + "\n").encode())
    return reply(reader)


def expect_error(r, code):
    assert r["ok"] is False and r["error"]["code"] == code, "expected %s, got %s" % (code, r)
    assert r["error"]["message"], r


def drive(address):
    sock, reader = connect(address)
    # every command, with its id echoed
    for n, request in enumerate([
            {"cmd": "stats"}, {"cmd": "details"}, {"cmd": "health"},
            {"cmd": "history", "limit": 3}, {"cmd": "cleanup"}, {"cmd": "config"},
            {"cmd": "metrics"}, {"cmd": "reload"},
            {"cmd": "exec", "tenant": "e2e", "command": {"insert": "t", "documents": [{"x": 1}]}},
            {"cmd": "exec", "tenant": "e2e", "command": {"find": "t", "filter": {"x": 1}}},
            {"cmd": "evict", "tenant": "e2e"}]):
        request["id"] = n
        r = ask(sock, reader, request)
        assert r["id"] == n and r["ok"] is True, r
    r = ask(sock, reader, {"id": "s", "cmd": "stats"})
    assert r["stats"]["tenantDbs"]["maxConnections"] >= 1 and "totalConnections" in r["stats"]
    assert len(ask(sock, reader, {"cmd": "history", "limit": 1})["samples"]) <= 1
    assert "tenantrt_" in ask(sock, reader, {"cmd": "metrics"})["text"]
    # every protocol error code; the connection stays usable after each
    sock.sendall(b"{not json\n")
    expect_error(reply(reader), "bad_json")
    expect_error(ask(sock, reader, {"id": 1}), "bad_request")
    expect_error(ask(sock, reader, {"cmd": "evict"}), "bad_request")
    expect_error(ask(sock, reader, {"cmd": "history", "limit": "ten"}), "bad_request")
    expect_error(ask(sock, reader, {"cmd": "drop_everything"}), "unknown_command")
    expect_error(ask(sock, reader, {"cmd": "exec", "tenant": "../admin", "command": {"ping": 1}}),
                 "invalid_tenant_id")
    r = ask(sock, reader, {"cmd": "exec", "tenant": "e2e", "command": {"nosuchcmd": 1}})
    expect_error(r, "command_failed")
    sock.sendall(b"x" * 70000 + b"\n")
    expect_error(reply(reader), "line_too_long")
    # 200 garbage lines in a row, then a valid stats on the same connection
    rng = random.Random(42)
    # (Blank lines are skipped without a reply, so every garbage line has a
    # visible character: random bytes, JSON that is no object, bad objects.)
    for n in range(200):
        kind = n % 3
        if kind == 0:
            garbage = b"#" + bytes(rng.randrange(1, 256) for _ in range(rng.randint(0, 80)))
        elif kind == 1:
            garbage = rng.choice([b"[1,2]", b"42", b'"stats"', b"null", b"true"])
        else:
            garbage = json.dumps({"cmd": rng.choice([7, "", "statz", None]), "id": n}).encode()
        sock.sendall(garbage.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n")
    errors = [reply(reader) for _ in range(200)]
    assert all(not e["ok"] for e in errors), [e for e in errors if e["ok"]]
    codes = {e["error"]["code"] for e in errors}
    assert codes <= {"bad_json", "bad_request", "unknown_command"}, codes
    r = ask(sock, reader, {"id": "after-garbage", "cmd": "stats"})
    assert r["ok"] is True and r["id"] == "after-garbage", r
    sock.close()


def too_many_clients(address, max_clients):
    held = [connect(address) for _ in range(max_clients)]
    for sock, reader in held:  # make sure each is accepted and served
        assert ask(sock, reader, {"cmd": "health"})["ok"] is True
    sock, reader = connect(address)
    expect_error(reply(reader), "too_many_clients")
    assert reader.readline() == b"", "refused client not closed"
    for s, _ in held:
        s.close()


if __name__ == "__main__":
    tcp, unix_path, max_clients = sys.argv[1], sys.argv[2], int(sys.argv[3])
    drive(tcp)
    drive(unix_path)
    too_many_clients(tcp, max_clients)
    print("control socket e2e ok")
