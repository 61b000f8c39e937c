"""Random and mutated request lines, and the reply each one must get.

expected_outcome() mirrors actors/control_protocol.cpp's parse_request (and
nlohmann::json's grammar where Python's json module differs: lone
surrogates, numbers that overflow a double, "-0" being signed), so the test
knows for every line which protocol error code must come back, or that the
line is a valid request that the runtime answers.
"""
import json
import math
import random

PROTOCOL_CODES = {"bad_json", "bad_request", "unknown_command", "unauthorized",
                  "line_too_long", "too_many_clients", "reload_failed", "exec_disabled",
                  "idle_timeout"}
COMMANDS = ["stats", "details", "cleanup", "history", "health", "evict", "exec", "config",
            "reload", "metrics"]
MAX_DEPTH = 128


class _Reject(ValueError):
    pass


class IntLit(int):
    """An integer as nlohmann sees it: unsigned unless written with '-'."""

    def __new__(cls, text):
        value = int(text)
        if math.isinf(float(text)) if len(text) > 300 else False:
            raise _Reject("integer overflows a double")
        obj = super().__new__(cls, value)
        obj.signed = text.startswith("-")
        return obj


def _float(text):
    value = float(text)
    if math.isinf(value):
        raise _Reject("number overflow")
    return value


def _constant(name):
    raise _Reject(name)


def _has_surrogate(value):
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def nesting_depth(line):
    depth = deepest = 0
    in_string = escaped = False
    for b in line:
        c = chr(b)
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
            continue
        if c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "}]" and depth > 0:
            depth -= 1
    return deepest


def is_blank(line):
    return all(b in b" \t\r\n\f\v" for b in line)


def expected_outcome(line, token=None, max_line_bytes=65536):
    """("blank", None): no reply; ("protocol", code); ("valid", cmd)."""
    if len(line) > max_line_bytes:
        return "protocol", "line_too_long"
    if is_blank(line):
        return "blank", None
    if nesting_depth(line) > MAX_DEPTH:
        return "protocol", "bad_json"
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]  # nlohmann skips a byte order mark at the start
    try:
        text = line.decode("utf-8")
        doc = json.loads(text, parse_int=IntLit, parse_float=_float, parse_constant=_constant)
    except (ValueError, RecursionError):
        return "protocol", "bad_json"
    if _has_surrogate(doc) or not isinstance(doc, dict):
        return "protocol", "bad_json"
    if token is not None:
        given = doc.get("token")
        if not isinstance(given, str) or given != token:
            return "protocol", "unauthorized"
    cmd = doc.get("cmd")
    if not isinstance(cmd, str):
        return "protocol", "bad_request"
    if cmd not in COMMANDS:
        return "protocol", "unknown_command"
    if cmd == "history" and "limit" in doc and doc["limit"] is not None:
        limit = doc["limit"]
        if not isinstance(limit, IntLit) or limit.signed or limit > 0xFFFFFFFF:
            return "protocol", "bad_request"
    if cmd in ("evict", "exec") and not isinstance(doc.get("tenant"), str):
        return "protocol", "bad_request"
    if cmd == "exec":
        command = doc.get("command")
        if not isinstance(command, dict) or not command:
            return "protocol", "bad_request"
    return "valid", cmd


# --- generating lines

UNICODE = ["\u00e9", "\uff53\uff54\uff41\uff54\uff53", "\U0001F600", "\u202e", "\u0000",
           "\ud800", "\udfff", "\u2028", "\ufffd", "\u0301", "\U0010FFFF"]
RAW_BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80",
                b"\xe2\x82"]
HUGE = ["1e400", "-1e400", "123456789012345678901234567890", "18446744073709551616",
        "18446744073709551615", "4294967296", "4294967295", "-0", "-1", "1.5", "1e2", "0.0",
        "1" + "0" * 400, "-9223372036854775809", "2.2250738585072014e-308", "5e-324"]


def base_requests(rng, tag):
    """Valid requests of every command (no reload: it would re-read the file
    thousands of times) to be mutated into garbage."""
    n = rng.randrange(1 << 30)
    return [
        {"id": "%s-%d" % (tag, n), "cmd": "stats"},
        {"id": n, "cmd": "health"},
        {"id": [n, "x"], "cmd": "history", "limit": rng.randint(0, 5)},
        {"id": None, "cmd": "cleanup"},
        {"id": {"n": n}, "cmd": "evict", "tenant": "fz%d" % rng.randint(0, 9)},
        {"cmd": "exec", "tenant": "fz%d" % rng.randint(0, 9), "command": {"ping": 1}},
        {"id": n, "cmd": "exec", "tenant": "fz%d" % rng.randint(0, 9),
         "command": {"find": "t", "filter": {"k": n}, "limit": 1}},
        {"id": n, "cmd": "metrics"},
        {"id": n, "cmd": "details"},
    ]


def _clean(line):
    # A newline would split the line in two; that is another test.
    return line.replace(b"\n", b" ")


def garbage_line(rng, tag):
    """(category, line): one hostile line."""
    base = json.dumps(rng.choice(base_requests(rng, tag))).encode()
    kind = rng.choice(["random_bytes", "flip", "flip", "truncate", "truncate", "huge_number",
                       "deep_nesting", "wrong_type", "unicode", "raw_bad_utf8", "nul_bytes",
                       "unknown_command", "not_object", "splice", "blank"])
    if kind == "random_bytes":
        line = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    elif kind == "flip":
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            data[i] = rng.choice([rng.randrange(256), data[i] ^ (1 << rng.randrange(8))])
        line = bytes(data)
    elif kind == "truncate":
        line = base[:rng.randrange(1, len(base))]
    elif kind == "huge_number":
        number = rng.choice(HUGE)
        field = rng.choice(["id", "limit", "cmd", "tenant"])
        cmd = "history" if field == "limit" else rng.choice(["stats", "exec", "evict"])
        text = '{"cmd":"%s","%s":%s' % (cmd, field, number)
        if cmd == "exec" and field != "cmd":
            text += ',"tenant":"fz1","command":{"ping":%s}' % number
        line = (text + "}").encode()
    elif kind == "deep_nesting":
        depth = rng.choice([100, 127, 128, 129, 200, 5000, 100000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        inner = opener * depth + "1" + closer * depth
        if rng.random() < 0.5:
            line = ('{"cmd":"stats","pad":%s}' % inner).encode()
        else:
            line = inner.encode()
    elif kind == "wrong_type":
        value = rng.choice([7, -1, 1.5, True, None, [], {}, "", "x" * 100, [1, 2], {"a": 1}])
        request = rng.choice([
            {"cmd": value},
            {"cmd": "history", "limit": value},
            {"cmd": "evict", "tenant": value},
            {"cmd": "exec", "tenant": value, "command": {"ping": 1}},
            {"cmd": "exec", "tenant": "fz1", "command": value},
            {"cmd": "exec", "tenant": "fz1"},
            {"cmd": "evict"},
            {"id": value},
        ])
        line = json.dumps(request).encode()
    elif kind == "unicode":
        u = rng.choice(UNICODE)
        request = rng.choice([
            {"cmd": "stats" + u}, {"cmd": u}, {"id": u, "cmd": "health"},
            {"cmd": "exec", "tenant": "fz" + u, "command": {"ping": 1}},
            {"cmd": "evict", "tenant": u},
            {"cmd": "exec", "tenant": "fz2", "command": {"ping": 1, "comment": u}},
        ])
        # ensure_ascii=False sends raw UTF-8 (surrogates as \u escapes).
        text = json.dumps(request, ensure_ascii=rng.random() < 0.5)
        line = text.encode("utf-8", "surrogatepass") if not any(
            0xD800 <= ord(c) <= 0xDFFF for c in text) else json.dumps(request).encode()
    elif kind == "raw_bad_utf8":
        i = rng.randrange(1, len(base))
        line = base[:i] + rng.choice(RAW_BAD_UTF8) + base[i:]
    elif kind == "nul_bytes":
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            data.insert(rng.randrange(len(data) + 1), 0)
        line = bytes(data)
    elif kind == "unknown_command":
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_$.") for _ in range(rng.randint(1, 40)))
        line = json.dumps({"id": rng.randrange(100), "cmd": rng.choice([name, "STATS", "shutdown",
                                                                        "exec ", "drop"])}).encode()
    elif kind == "not_object":
        line = rng.choice([b"[1,2]", b"42", b'"stats"', b"null", b"true", b"[]", b"-0", b"1e5",
                           b'["cmd","stats"]', b"{}{}", b'{"cmd":"stats"} x', b"{", b"}"])
    elif kind == "splice":
        other = json.dumps(rng.choice(base_requests(rng, tag))).encode()
        line = base[:rng.randrange(len(base))] + other[rng.randrange(len(other)):]
    else:  # blank: whitespace only, answered with nothing
        line = bytes(rng.choice(b" \t\r\f\v") for _ in range(rng.randint(0, 8)))
    return kind, _clean(line)
