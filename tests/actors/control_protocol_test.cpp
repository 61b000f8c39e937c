// The control socket's wire protocol without sockets or actors: request
// validation and its error codes, id echo, the token, reply builders, the
// line splitter's limits and listen address parsing.

#include "actors/control_protocol.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace tenantrt::control {
namespace {

using nlohmann::ordered_json;

/// The error code of a parse that must fail.
std::string error_code(const parse_result& result) {
  EXPECT_FALSE(result.valid.has_value());
  if (result.valid)
    return "<valid>";
  return result.error_reply.at("error").at("code").get<std::string>();
}

std::string error_message(const parse_result& result) {
  if (result.valid)
    return "<valid>";
  return result.error_reply.at("error").at("message").get<std::string>();
}

request parse_ok(std::string_view line, std::string_view token = {}) {
  auto result = parse_request(line, token);
  EXPECT_TRUE(result.valid.has_value()) << line << " -> " << result.error_reply.dump();
  return result.valid ? *result.valid : request{};
}

// --- error codes

TEST(ControlProtocolTest, ProtocolWireStringsAreDistinctAndDisjointFromErrc) {
  std::set<std::string> seen;
  for (auto code : all_protocol_errcs)
    EXPECT_TRUE(seen.emplace(to_string(code)).second) << to_string(code);
  for (auto code : all_errcs)
    EXPECT_EQ(seen.count(std::string{to_string(code)}), 0u)
      << "errc and protocol_errc share " << to_string(code);
}

TEST(ControlProtocolTest, CommandNamesRoundTrip) {
  for (auto cmd : all_commands)
    EXPECT_EQ(command_from_string(to_string(cmd)), cmd);
  EXPECT_FALSE(command_from_string("shutdown").has_value());
  EXPECT_FALSE(command_from_string("").has_value());
}

TEST(ControlProtocolTest, NotJsonIsBadJsonWithoutId) {
  for (auto line : {"not json", "{", "{\"cmd\":\"stats\"", "\"stats\"", "[1,2]", "42", "null",
                    "{\"id\":1,\"cmd\":\"stats\"}}"}) {
    auto result = parse_request(line, "");
    EXPECT_EQ(error_code(result), "bad_json") << line;
    EXPECT_FALSE(result.error_reply.contains("id")) << line;
    EXPECT_EQ(result.error_reply.at("ok"), false);
  }
}

TEST(ControlProtocolTest, NulByteAnywhereIsBadJson) {
  // nlohmann alone would stop at the NUL and accept the request before it.
  for (auto line : {std::string{"{\"cmd\":\"stats\"}\0", 16},
                    std::string{"{\"cmd\":\"stats\"}\0{\"x\":1}", 23},
                    std::string{"{\"cmd\":\"st\0ats\"}", 16}, std::string{"\0", 1}}) {
    auto result = parse_request(line, "");
    EXPECT_EQ(error_code(result), "bad_json");
    EXPECT_NE(error_message(result).find("NUL byte"), std::string::npos);
  }
}

TEST(ControlProtocolTest, NonObjectMessageNamesTheType) {
  EXPECT_NE(error_message(parse_request("[1]", "")).find("array"), std::string::npos);
}

TEST(ControlProtocolTest, DeepNestingIsRefusedBeforeParsing) {
  std::string deep = R"({"id":)" + std::string(200, '[') + std::string(200, ']')
                     + R"(,"cmd":"stats"})";
  EXPECT_EQ(error_code(parse_request(deep, "")), "bad_json");
  // Brackets inside strings do not count.
  std::string in_string = R"({"cmd":"stats","id":")" + std::string(500, '[') + "\"}";
  parse_ok(in_string);
  // 100 levels of command document (MongoDB's own limit) pass.
  std::string doc = R"({"cmd":"exec","tenant":"t","command":{"find":"c","filter":)";
  for (int i = 0; i < 98; ++i)
    doc += R"({"a":)";
  doc += "1" + std::string(98, '}') + "}}";
  parse_ok(doc);
}

TEST(ControlProtocolTest, MissingOrMistypedCmdIsBadRequestNamingCmd) {
  auto missing = parse_request(R"({"id":7})", "");
  EXPECT_EQ(error_code(missing), "bad_request");
  EXPECT_NE(error_message(missing).find("'cmd'"), std::string::npos);
  EXPECT_EQ(missing.error_reply.at("id"), 7);
  auto mistyped = parse_request(R"({"cmd":3})", "");
  EXPECT_EQ(error_code(mistyped), "bad_request");
  EXPECT_NE(error_message(mistyped).find("'cmd'"), std::string::npos);
  EXPECT_NE(error_message(mistyped).find("number"), std::string::npos);
}

TEST(ControlProtocolTest, UnknownCommandNamesItAndListsTheKnownOnes) {
  auto result = parse_request(R"({"id":"x","cmd":"shutdown"})", "");
  EXPECT_EQ(error_code(result), "unknown_command");
  auto message = error_message(result);
  EXPECT_NE(message.find("\"shutdown\""), std::string::npos);
  for (auto cmd : all_commands)
    EXPECT_NE(message.find(std::string{to_string(cmd)}), std::string::npos) << to_string(cmd);
  EXPECT_EQ(result.error_reply.at("id"), "x");
}

TEST(ControlProtocolTest, UnknownCommandMessageStaysShort) {
  auto result = parse_request(R"({"cmd":")" + std::string(5000, 'x') + "\"}", "");
  EXPECT_EQ(error_code(result), "unknown_command");
  EXPECT_LT(error_message(result).size(), 400u);
  EXPECT_NE(error_message(result).find("(5000 bytes)"), std::string::npos) << "the cut shows";
}

TEST(ControlProtocolTest, UnknownCommandIsQuotedPrintably) {
  auto result = parse_request("{\"cmd\":\"x\\u0001y\\u00e9\"}", "");
  EXPECT_EQ(error_code(result), "unknown_command");
  EXPECT_NE(error_message(result).find(R"("x\x01y\xC3\xA9")"), std::string::npos)
    << error_message(result);
}

// --- id echo

TEST(ControlProtocolTest, IdIsEchoedVerbatim) {
  EXPECT_EQ(parse_ok(R"({"id":42,"cmd":"stats"})").id, ordered_json(42));
  EXPECT_EQ(parse_ok(R"({"id":-1.5,"cmd":"stats"})").id, ordered_json(-1.5));
  EXPECT_EQ(parse_ok(R"({"id":"req-1","cmd":"stats"})").id, ordered_json("req-1"));
  auto object = parse_ok(R"({"id":{"z":1,"a":[true,null]},"cmd":"stats"})").id;
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ(object->dump(), R"({"z":1,"a":[true,null]})");
  // An explicit null is an id too.
  auto null_id = parse_ok(R"({"id":null,"cmd":"stats"})").id;
  ASSERT_TRUE(null_id.has_value());
  EXPECT_TRUE(null_id->is_null());
  EXPECT_FALSE(parse_ok(R"({"cmd":"stats"})").id.has_value());
}

TEST(ControlProtocolTest, RepliesCarryOrOmitTheId) {
  EXPECT_EQ(to_line(ok_reply(ordered_json(42))), "{\"id\":42,\"ok\":true}\n");
  EXPECT_EQ(to_line(ok_reply(std::nullopt)), "{\"ok\":true}\n");
  EXPECT_EQ(to_line(ok_reply(ordered_json(nullptr))), "{\"id\":null,\"ok\":true}\n");
  auto object_id = ordered_json::parse(R"({"b":1,"a":2})");
  EXPECT_EQ(to_line(error_reply(object_id, protocol_errc::bad_request, "m")),
            R"({"id":{"b":1,"a":2},"ok":false,"error":{"code":"bad_request","message":"m"}})"
            "\n");
  auto bad = parse_request(R"({"id":{"n":1},"cmd":"nope"})", "");
  EXPECT_EQ(bad.error_reply.at("id").dump(), R"({"n":1})");
}

TEST(ControlProtocolTest, OkReplyMergesFieldsButNotIdOrOk) {
  auto fields = ordered_json::parse(R"({"status":"ok","id":"evil","ok":false,"warnings":[]})");
  auto reply = ok_reply(ordered_json(1), fields);
  EXPECT_EQ(reply.dump(), R"({"id":1,"ok":true,"status":"ok","warnings":[]})");
}

TEST(ControlProtocolTest, RuntimeErrorsUseErrcWireStrings) {
  auto reply = error_reply(ordered_json(3), errc::tenant_limit_reached, "full");
  EXPECT_EQ(reply.at("error").at("code"), "tenant_limit_reached");
  EXPECT_EQ(error_reply(std::nullopt, errc::invalid_tenant_id, "x").at("error").at("code"),
            "invalid_tenant_id");
}

TEST(ControlProtocolTest, LineTooLongAndTooManyClientsBuilders) {
  auto too_long = line_too_long_reply(65536);
  EXPECT_EQ(too_long.at("error").at("code"), "line_too_long");
  EXPECT_NE(too_long.at("error").at("message").get<std::string>().find("65536"),
            std::string::npos);
  EXPECT_FALSE(too_long.contains("id"));
  auto busy = too_many_clients_reply(64);
  EXPECT_EQ(busy.at("error").at("code"), "too_many_clients");
  EXPECT_EQ(busy.at("ok"), false);
}

TEST(ControlProtocolTest, IdleTimeoutReplyNamesTheTimeoutAndTheKey) {
  auto idle = idle_timeout_reply(300000);
  EXPECT_EQ(idle.at("ok"), false);
  EXPECT_EQ(idle.at("error").at("code"), "idle_timeout");
  EXPECT_EQ(idle.at("error").at("message"),
            "no request for 300000 ms (control.client_idle_timeout_ms); closing");
  EXPECT_FALSE(idle.contains("id")); // it answers no request
  // Listed with the other protocol codes (documentation and the disjointness test).
  auto listed = std::find(std::begin(all_protocol_errcs), std::end(all_protocol_errcs),
                          protocol_errc::idle_timeout);
  EXPECT_NE(listed, std::end(all_protocol_errcs));
}

TEST(ControlProtocolTest, ExecDisabledSaysWhy) {
  auto explicit_off = exec_disabled_reply(ordered_json("e1"), true);
  EXPECT_EQ(explicit_off["id"], "e1");
  EXPECT_EQ(explicit_off["ok"], false);
  EXPECT_EQ(explicit_off["error"]["code"], "exec_disabled");
  EXPECT_NE(explicit_off["error"]["message"].get<std::string>().find("control.allow_exec is false"),
            std::string::npos);
  auto derived = exec_disabled_reply(std::nullopt, false);
  EXPECT_FALSE(derived.contains("id"));
  EXPECT_NE(derived["error"]["message"].get<std::string>().find("not loopback"), std::string::npos);
}

TEST(ControlProtocolTest, ToLineIsOneLineAndSurvivesInvalidUtf8) {
  auto reply = error_reply(std::nullopt, protocol_errc::reload_failed, "bad \xff byte\nnext");
  auto line = to_line(reply);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_FALSE(ordered_json::parse(line, nullptr, false).is_discarded());
}

// --- commands and their fields

TEST(ControlProtocolTest, CommandsWithoutFieldsParse) {
  for (auto name : {"stats", "details", "cleanup", "health", "config", "reload", "metrics"}) {
    auto req = parse_ok(std::string{R"({"cmd":")"} + name + R"(","extra":"ignored"})");
    EXPECT_EQ(to_string(req.cmd), name);
  }
}

TEST(ControlProtocolTest, HistoryLimitIsOptionalUnsigned) {
  EXPECT_EQ(parse_ok(R"({"cmd":"history"})").limit, 0u);
  EXPECT_EQ(parse_ok(R"({"cmd":"history","limit":null})").limit, 0u);
  EXPECT_EQ(parse_ok(R"({"cmd":"history","limit":10})").limit, 10u);
  EXPECT_EQ(parse_ok(R"({"cmd":"history","limit":4294967295})").limit, 4294967295u);
  for (auto bad : {R"({"cmd":"history","limit":-1})", R"({"cmd":"history","limit":1.5})",
                   R"({"cmd":"history","limit":"10"})", R"({"cmd":"history","limit":true})",
                   R"({"cmd":"history","limit":4294967296})"}) {
    auto result = parse_request(bad, "");
    EXPECT_EQ(error_code(result), "bad_request") << bad;
    EXPECT_NE(error_message(result).find("'limit'"), std::string::npos) << bad;
  }
}

TEST(ControlProtocolTest, EvictNeedsTenantString) {
  auto req = parse_ok(R"({"cmd":"evict","tenant":"org42"})");
  EXPECT_EQ(req.cmd, command::evict);
  EXPECT_EQ(req.tenant, "org42");
  for (auto bad : {R"({"cmd":"evict"})", R"({"cmd":"evict","tenant":42})",
                   R"({"cmd":"evict","tenant":null})"}) {
    auto result = parse_request(bad, "");
    EXPECT_EQ(error_code(result), "bad_request") << bad;
    EXPECT_NE(error_message(result).find("'tenant'"), std::string::npos) << bad;
  }
}

TEST(ControlProtocolTest, ExecNeedsTenantAndCommandObject) {
  auto req = parse_ok(R"({"cmd":"exec","tenant":"org42","command":{"ping":1}})");
  EXPECT_EQ(req.cmd, command::exec);
  EXPECT_EQ(req.tenant, "org42");
  EXPECT_EQ(req.command_document.dump(), R"({"ping":1})");
  struct bad_case {
    const char* line;
    const char* field;
  };
  for (auto bad : {bad_case{R"({"cmd":"exec","command":{"ping":1}})", "'tenant'"},
                   bad_case{R"({"cmd":"exec","tenant":1,"command":{"ping":1}})", "'tenant'"},
                   bad_case{R"({"cmd":"exec","tenant":"t"})", "'command'"},
                   bad_case{R"({"cmd":"exec","tenant":"t","command":"{\"ping\":1}"})",
                            "'command'"},
                   bad_case{R"({"cmd":"exec","tenant":"t","command":[1]})", "'command'"},
                   bad_case{R"({"cmd":"exec","tenant":"t","command":{}})", "'command'"}}) {
    auto result = parse_request(bad.line, "");
    EXPECT_EQ(error_code(result), "bad_request") << bad.line;
    EXPECT_NE(error_message(result).find(bad.field), std::string::npos) << bad.line;
  }
}

TEST(ControlProtocolTest, ExecKeepsExtendedJsonAndKeyOrder) {
  auto line = R"({"cmd":"exec","tenant":"t","command":{"insert":"orders","documents":[)"
              R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"at":{"$date":"2024-01-02T03:04:05Z"},)"
              R"("n":{"$numberLong":"9007199254740993"},"z":1,"a":2}],"ordered":true}})";
  auto req = parse_ok(line);
  EXPECT_EQ(req.command_document.begin().key(), "insert");
  EXPECT_EQ(req.command_document.dump(),
            R"({"insert":"orders","documents":[{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},)"
            R"("at":{"$date":"2024-01-02T03:04:05Z"},"n":{"$numberLong":"9007199254740993"},)"
            R"("z":1,"a":2}],"ordered":true})");
}

// --- token

TEST(ControlProtocolTest, TokenRightWrongMissing) {
  EXPECT_EQ(parse_ok(R"({"cmd":"stats","token":"s3cret"})", "s3cret").cmd, command::stats);
  for (auto bad : {R"({"id":1,"cmd":"stats","token":"s3cre"})",
                   R"({"id":1,"cmd":"stats","token":"s3cret!"})",
                   R"({"id":1,"cmd":"stats","token":"S3CRET"})", R"({"id":1,"cmd":"stats"})",
                   R"({"id":1,"cmd":"stats","token":42})", R"({"id":1,"cmd":"stats","token":""})"}) {
    auto result = parse_request(bad, "s3cret");
    EXPECT_EQ(error_code(result), "unauthorized") << bad;
    EXPECT_EQ(result.error_reply.at("id"), 1) << bad;
    EXPECT_EQ(to_line(result.error_reply).find("s3cret"), std::string::npos) << bad;
  }
}

TEST(ControlProtocolTest, TokenIsCheckedBeforeTheCommand) {
  // An unauthenticated client learns nothing about the commands.
  EXPECT_EQ(error_code(parse_request(R"({"cmd":"nope"})", "t")), "unauthorized");
  EXPECT_EQ(error_code(parse_request(R"({"cmd":"exec"})", "t")), "unauthorized");
  EXPECT_EQ(error_code(parse_request(R"({})", "t")), "unauthorized");
  // Syntax still comes first: there is no token to look at in garbage.
  EXPECT_EQ(error_code(parse_request("garbage", "t")), "bad_json");
}

TEST(ControlProtocolTest, TokenIgnoredWhenNoneConfigured) {
  EXPECT_EQ(parse_ok(R"({"cmd":"stats","token":"whatever"})").cmd, command::stats);
}

TEST(ControlProtocolTest, ConstantTimeEquals) {
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abc", "abd"));
  EXPECT_FALSE(constant_time_equals("abc", "ab"));
  EXPECT_FALSE(constant_time_equals("abc", "abcabc")); // Cyclic walk must not match.
  EXPECT_FALSE(constant_time_equals("abc", ""));
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_FALSE(constant_time_equals("", "x"));
}

TEST(ControlProtocolTest, BlankLines) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r"));
  EXPECT_FALSE(is_blank(" {}"));
}

// --- line splitter

TEST(ControlProtocolTest, SplitterCutsLinesAcrossFeeds) {
  line_splitter splitter{100};
  auto items = splitter.feed("{\"a\":1}\n{\"b\"");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].text, "{\"a\":1}");
  EXPECT_EQ(splitter.buffered_bytes(), 4u);
  items = splitter.feed(":2}\r\n\n");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].text, "{\"b\":2}\r"); // '\r' kept: JSON treats it as whitespace.
  EXPECT_EQ(items[1].text, "");
  EXPECT_EQ(splitter.buffered_bytes(), 0u);
}

TEST(ControlProtocolTest, SplitterLimitIsInclusive) {
  line_splitter splitter{5};
  auto items = splitter.feed("12345\n123456\nok\n");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].type, line_item::kind::line);
  EXPECT_EQ(items[0].text, "12345");
  EXPECT_EQ(items[1].type, line_item::kind::too_long);
  EXPECT_EQ(items[2].type, line_item::kind::line);
  EXPECT_EQ(items[2].text, "ok");
}

TEST(ControlProtocolTest, SplitterReportsLongLineOnceAndKeepsGoing) {
  line_splitter splitter{10};
  auto items = splitter.feed("0123456789A");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].type, line_item::kind::too_long);
  EXPECT_TRUE(splitter.discarding());
  EXPECT_TRUE(splitter.feed("more bytes of the same line").empty());
  items = splitter.feed("end\nnext\n");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].text, "next");
  EXPECT_FALSE(splitter.discarding());
}

TEST(ControlProtocolTest, SplitterTenMegabyteLineIsReportedOnceWithBoundedMemory) {
  constexpr size_t limit = 65536;
  line_splitter splitter{limit};
  std::string chunk(4096, 'x');
  size_t reports = 0;
  for (size_t sent = 0; sent < 10 * 1024 * 1024; sent += chunk.size()) {
    for (auto& item : splitter.feed(chunk)) {
      EXPECT_EQ(item.type, line_item::kind::too_long);
      ++reports;
    }
    ASSERT_LE(splitter.buffered_bytes(), limit);
    ASSERT_LE(splitter.buffer_capacity(), limit);
  }
  EXPECT_EQ(reports, 1u);
  EXPECT_EQ(splitter.buffered_bytes(), 0u);
  EXPECT_EQ(splitter.buffer_capacity(), 0u);
  auto items = splitter.feed("tail\n{\"cmd\":\"stats\"}\n");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].text, "{\"cmd\":\"stats\"}");
}

TEST(ControlProtocolTest, SplitterTenMegabyteLineInOneFeed) {
  line_splitter splitter{1000};
  std::string bytes = "a\n" + std::string(10 * 1024 * 1024, 'y') + "\nb\n";
  auto items = splitter.feed(bytes);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].text, "a");
  EXPECT_EQ(items[1].type, line_item::kind::too_long);
  EXPECT_EQ(items[2].text, "b");
  EXPECT_LE(splitter.buffer_capacity(), 1000u);
}

TEST(ControlProtocolTest, SplitterBufferNeverExceedsLimitWhileGrowing) {
  line_splitter splitter{1000};
  for (int i = 0; i < 999; ++i) {
    EXPECT_TRUE(splitter.feed("z").empty());
    ASSERT_LE(splitter.buffer_capacity(), 1000u);
  }
  auto items = splitter.feed("z\n");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].text.size(), 1000u);
}

TEST(ControlProtocolTest, SplitterLoweredLimitAppliesToTheLineBeingRead) {
  line_splitter splitter{100};
  EXPECT_TRUE(splitter.feed("0123456789").empty());
  splitter.set_max_line_bytes(5);
  auto items = splitter.feed("x\nshort\n");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].type, line_item::kind::too_long);
  EXPECT_EQ(items[1].text, "short");
}

// --- listen addresses

} // namespace
} // namespace tenantrt::control
