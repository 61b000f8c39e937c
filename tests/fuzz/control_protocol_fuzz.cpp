// Fuzzes the control socket's wire protocol (actors/control_protocol.hpp):
// the bytes a client sends go through line_splitter in fuzzer-chosen chunks
// and every line through parse_request, with and without a token.
//
// Invariants checked (a violation aborts, which libFuzzer reports):
// - the splitter agrees with a one-line reference model of its contract
//   (split at '\n', a line over the limit is one too_long report), whatever
//   the chunking, and never buffers more than the limit;
// - parse_request gives a request or an error reply, never both or neither;
//   an error reply is {"ok": false, "error": {"code", "message"}} with a
//   protocol error code, and its line is one line of valid JSON;
// - a rejected token never reappears in the reply (apart from the echoed id);
// - a parsed request re-serialises: writing it back as a request line and
//   parsing that again gives the same request.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>

#include "actors/control_protocol.hpp"

namespace {

using nlohmann::ordered_json;
using namespace tenantrt::control;

constexpr std::string_view secret_token = "fuzz-secret-token-7f3a";

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// The splitter's documented contract, written the obvious way.
std::vector<line_item> reference_split(std::string_view bytes, size_t limit) {
  std::vector<line_item> out;
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    auto line = bytes.substr(0, newline);
    if (line.size() > limit)
      out.push_back({line_item::kind::too_long, {}});
    else if (newline != std::string_view::npos)
      out.push_back({line_item::kind::line, std::string{line}});
    if (newline == std::string_view::npos)
      break;
    bytes.remove_prefix(newline + 1);
  }
  return out;
}

bool is_protocol_code(const ordered_json& code) {
  if (!code.is_string())
    return false;
  for (auto c : all_protocol_errcs)
    if (code.get_ref<const std::string&>() == to_string(c))
      return true;
  return false;
}

/// The request written back as a line that parse_request reads.
std::string to_request_line(const request& req, std::string_view token) {
  ordered_json line = ordered_json::object();
  if (req.id)
    line["id"] = *req.id;
  line["cmd"] = to_string(req.cmd);
  if (!token.empty())
    line["token"] = token;
  if (req.cmd == command::history && req.limit != 0)
    line["limit"] = req.limit;
  if (req.cmd == command::evict || req.cmd == command::exec)
    line["tenant"] = req.tenant;
  if (req.cmd == command::exec)
    line["command"] = req.command_document;
  return line.dump();
}

/// JSON equality that also holds for what a JSON text cannot carry: a
/// number too large for a double parses as infinity and is written as null.
bool same_json(const ordered_json& a, const ordered_json& b) {
  return a == b || a.dump() == b.dump();
}

void check_line(std::string_view line, std::string_view token) {
  auto result = parse_request(line, token);
  require(result.valid.has_value() != !result.error_reply.is_null(),
          "exactly one of request and error reply");
  if (!result.valid) {
    const auto& reply = result.error_reply;
    require(reply.is_object(), "error reply is an object");
    require(reply.value("ok", true) == false, "error reply has ok=false");
    require(reply.contains("error") && reply["error"].is_object(), "error reply has error");
    require(is_protocol_code(reply["error"]["code"]), "error code is a protocol code");
    require(reply["error"]["message"].is_string()
              && !reply["error"]["message"].get_ref<const std::string&>().empty(),
            "error message is a non-empty string");
    auto wire = to_line(reply);
    require(!wire.empty() && wire.back() == '\n', "reply line ends with newline");
    require(wire.find('\n') == wire.size() - 1, "reply is one line");
    auto reparsed = ordered_json::parse(wire, nullptr, false);
    require(!reparsed.is_discarded(), "reply line is valid JSON");
    if (!token.empty()) {
      auto without_id = reply;
      without_id.erase("id");
      require(without_id.dump().find(token) == std::string::npos, "token not in the reply");
    }
    return;
  }
  const auto& req = *result.valid;
  if (!token.empty()) {
    // Only a request carrying the right token gets through.
    auto parsed = ordered_json::parse(line.begin(), line.end(), nullptr, false);
    require(parsed.is_object() && parsed.contains("token") && parsed["token"] == token,
            "accepted request carried the token");
  }
  if (req.cmd == command::exec)
    require(req.command_document.is_object() && !req.command_document.empty(),
            "exec carries a non-empty command document");
  auto again = parse_request(to_request_line(req, token), token);
  require(again.valid.has_value(), "re-serialised request parses");
  const auto& back = *again.valid;
  require(back.cmd == req.cmd, "round trip keeps cmd");
  require(back.limit == req.limit, "round trip keeps limit");
  require(back.tenant == req.tenant, "round trip keeps tenant");
  require(same_json(back.command_document, req.command_document), "round trip keeps command");
  require(back.id.has_value() == req.id.has_value(), "round trip keeps whether id is set");
  if (req.id)
    require(same_json(*back.id, *req.id), "round trip keeps id");
  // The success reply echoes the id in a valid line.
  auto ok = to_line(ok_reply(req.id, ordered_json{{"ok", false}, {"n", 1}}));
  auto ok_parsed = ordered_json::parse(ok, nullptr, false);
  require(!ok_parsed.is_discarded() && ok_parsed["ok"] == true, "ok reply says ok");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input{data, size};
  auto limit = input.ConsumeIntegralInRange<size_t>(1, 512);
  bool with_token = input.ConsumeBool();
  auto chunking = input.ConsumeIntegral<uint32_t>();
  auto bytes = input.ConsumeRemainingBytesAsString();
  std::string_view token = with_token ? secret_token : std::string_view{};

  line_splitter splitter{limit};
  std::vector<line_item> items;
  std::string_view rest = bytes;
  // Chunk sizes from the chunking seed: 1..16 bytes, or the whole rest.
  while (!rest.empty()) {
    size_t step = chunking == 0 ? rest.size() : 1 + (chunking & 0xf);
    chunking = chunking >> 4 | chunking << 28;
    step = std::min(step, rest.size());
    for (auto& item : splitter.feed(rest.substr(0, step)))
      items.push_back(std::move(item));
    rest.remove_prefix(step);
    require(splitter.buffered_bytes() <= limit, "buffered bytes within the limit");
    require(splitter.buffer_capacity() <= limit, "buffer capacity within the limit");
  }
  auto expected = reference_split(bytes, limit);
  require(items.size() == expected.size(), "splitter yields the reference's item count");
  for (size_t i = 0; i < items.size(); ++i) {
    require(items[i].type == expected[i].type, "splitter item kind matches the reference");
    if (items[i].type == line_item::kind::line)
      require(items[i].text == expected[i].text, "splitter line matches the reference");
  }

  for (const auto& item : items)
    if (item.type == line_item::kind::line && !is_blank(item.text))
      check_line(item.text, token);
  // The whole input as one line too, so long JSON reaches the parser.
  if (!is_blank(bytes) && bytes.find('\n') == std::string::npos)
    check_line(bytes, token);
  return 0;
}
