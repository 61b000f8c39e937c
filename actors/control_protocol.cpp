// The control socket's wire protocol: line splitting, request parsing and reply building.
#include "actors/control_protocol.hpp"

#include "config/names.hpp"

#include <algorithm>
#include <string>

namespace tenantrt::control {

using nlohmann::ordered_json;

namespace {

// Deeper documents are refused before parsing: nlohmann's dump() and copies
// recurse, and MongoDB itself stops at 100 levels of BSON nesting.
constexpr size_t max_nesting_depth = 128;


/// Deepest nesting of objects and arrays, counted outside string literals.
size_t nesting_depth(std::string_view line) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        deepest = std::max(deepest, ++depth);
        break;
      case '}':
      case ']':
        if (depth > 0)
          --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

std::string known_commands_list() {
  std::string out;
  for (auto cmd : all_commands) {
    if (!out.empty())
      out += ", ";
    out += to_string(cmd);
  }
  return out;
}

const char* type_name_of(const ordered_json& value) { return value.type_name(); }

parse_result fail(const std::optional<ordered_json>& id, protocol_errc code, std::string message) {
  return {std::nullopt, error_reply(id, code, message)};
}

/// Reads a required string field; the error names the field and the command.
std::optional<std::string> required_string(const ordered_json& object, const char* field,
                                           command cmd, std::string& problem) {
  auto i = object.find(field);
  if (i == object.end()) {
    problem = std::string{"missing field '"} + field + "' (a string) for command '"
              + std::string{to_string(cmd)} + "'";
    return std::nullopt;
  }
  if (!i->is_string()) {
    problem = std::string{"field '"} + field + "' must be a string, not " + type_name_of(*i);
    return std::nullopt;
  }
  return i->get<std::string>();
}

} // namespace

std::string_view to_string(protocol_errc code) noexcept {
  // A switch without default: -Wswitch flags a value left out.
  switch (code) {
    case protocol_errc::bad_json: return "bad_json";
    case protocol_errc::bad_request: return "bad_request";
    case protocol_errc::unknown_command: return "unknown_command";
    case protocol_errc::unauthorized: return "unauthorized";
    case protocol_errc::line_too_long: return "line_too_long";
    case protocol_errc::too_many_clients: return "too_many_clients";
    case protocol_errc::reload_failed: return "reload_failed";
    case protocol_errc::exec_disabled: return "exec_disabled";
    case protocol_errc::idle_timeout: return "idle_timeout";
  }
  return "bad_request";
}

std::string_view to_string(command cmd) noexcept {
  switch (cmd) {
    case command::stats: return "stats";
    case command::details: return "details";
    case command::cleanup: return "cleanup";
    case command::history: return "history";
    case command::health: return "health";
    case command::evict: return "evict";
    case command::exec: return "exec";
    case command::config: return "config";
    case command::reload: return "reload";
    case command::metrics: return "metrics";
  }
  return "stats";
}

std::optional<command> command_from_string(std::string_view name) noexcept {
  for (auto cmd : all_commands)
    if (to_string(cmd) == name)
      return cmd;
  return std::nullopt;
}

bool constant_time_equals(std::string_view secret, std::string_view candidate) noexcept {
  // Walk the candidate (the attacker's length, not the secret's), comparing
  // against the secret cyclically; every byte is visited, nothing branches on
  // content. The length check is folded into the same accumulator.
  if (secret.empty())
    return candidate.empty();
  volatile unsigned char diff = secret.size() == candidate.size() ? 0 : 1;
  for (size_t i = 0; i < candidate.size(); ++i)
    diff = static_cast<unsigned char>(
      diff | (static_cast<unsigned char>(candidate[i])
              ^ static_cast<unsigned char>(secret[i % secret.size()])));
  return diff == 0;
}

bool is_blank(std::string_view line) noexcept {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  });
}

parse_result parse_request(std::string_view line, std::string_view expected_token) {
  if (nesting_depth(line) > max_nesting_depth)
    return fail(std::nullopt, protocol_errc::bad_json,
                "the request nests objects or arrays deeper than "
                  + std::to_string(max_nesting_depth) + " levels");
  // nlohmann's lexer takes a NUL byte for the end of its input and would
  // accept `{"cmd":"stats"}\0anything`; JSON has no raw NUL anywhere.
  if (auto nul = line.find('\0'); nul != std::string_view::npos)
    return fail(std::nullopt, protocol_errc::bad_json,
                "the request contains a NUL byte at offset " + std::to_string(nul)
                  + "; it is not valid JSON");
  auto parsed = ordered_json::parse(line.begin(), line.end(), nullptr, false);
  if (parsed.is_discarded())
    return fail(std::nullopt, protocol_errc::bad_json, "the request is not valid JSON");
  if (!parsed.is_object())
    return fail(std::nullopt, protocol_errc::bad_json,
                std::string{"the request must be a JSON object, not "} + type_name_of(parsed));
  std::optional<ordered_json> id;
  if (auto i = parsed.find("id"); i != parsed.end())
    id = std::move(*i);
  if (!expected_token.empty()) {
    auto i = parsed.find("token");
    // Compare something even when the token is missing or mistyped, so those
    // cases cost about what a wrong token costs.
    std::string_view given;
    if (i != parsed.end() && i->is_string())
      given = i->get_ref<const std::string&>();
    bool ok = constant_time_equals(expected_token, given);
    if (!ok || i == parsed.end() || !i->is_string())
      return fail(id, protocol_errc::unauthorized,
                  i == parsed.end() ? "this control socket requires a \"token\""
                                    : "the \"token\" is wrong");
  }
  auto cmd_field = parsed.find("cmd");
  if (cmd_field == parsed.end())
    return fail(id, protocol_errc::bad_request, "missing field 'cmd' (a string naming the command)");
  if (!cmd_field->is_string())
    return fail(id, protocol_errc::bad_request,
                std::string{"field 'cmd' must be a string, not "} + type_name_of(*cmd_field));
  auto& name = cmd_field->get_ref<const std::string&>();
  auto cmd = command_from_string(name);
  if (!cmd)
    return fail(id, protocol_errc::unknown_command,
                "unknown command " + printable_quoted(name) + "; known commands: " + known_commands_list());
  request req;
  req.id = std::move(id);
  req.cmd = *cmd;
  std::string problem;
  switch (*cmd) {
    case command::stats:
    case command::details:
    case command::cleanup:
    case command::health:
    case command::config:
    case command::reload:
    case command::metrics:
      break; // No fields; unknown ones are ignored (forward compatibility).
    case command::history: {
      auto i = parsed.find("limit");
      if (i == parsed.end() || i->is_null())
        break;
      // number_unsigned for every non-negative integer literal; a negative
      // one is number_integer, a fraction number_float: both refused.
      if (!i->is_number_unsigned())
        return fail(req.id, protocol_errc::bad_request,
                    std::string{"field 'limit' must be a non-negative integer, not "}
                      + (i->is_number() ? i->dump() : type_name_of(*i)));
      auto value = i->get<uint64_t>();
      if (value > UINT32_MAX)
        return fail(req.id, protocol_errc::bad_request,
                    "field 'limit' must be at most " + std::to_string(UINT32_MAX));
      req.limit = static_cast<uint32_t>(value);
      break;
    }
    case command::evict: {
      auto tenant = required_string(parsed, "tenant", *cmd, problem);
      if (!tenant)
        return fail(req.id, protocol_errc::bad_request, problem);
      req.tenant = std::move(*tenant);
      break;
    }
    case command::exec: {
      auto tenant = required_string(parsed, "tenant", *cmd, problem);
      if (!tenant)
        return fail(req.id, protocol_errc::bad_request, problem);
      req.tenant = std::move(*tenant);
      auto i = parsed.find("command");
      if (i == parsed.end())
        return fail(req.id, protocol_errc::bad_request,
                    "missing field 'command' (a MongoDB command document as a JSON object) "
                    "for command 'exec'");
      if (!i->is_object() || i->empty())
        return fail(req.id, protocol_errc::bad_request,
                    std::string{"field 'command' must be a non-empty JSON object whose first key "
                                "names the MongoDB command, not "}
                      + (i->is_object() ? "an empty object" : type_name_of(*i)));
      req.command_document = std::move(*i);
      break;
    }
  }
  return {std::move(req), {}};
}

ordered_json ok_reply(const std::optional<ordered_json>& id) {
  ordered_json reply = ordered_json::object();
  if (id)
    reply["id"] = *id;
  reply["ok"] = true;
  return reply;
}

ordered_json ok_reply(const std::optional<ordered_json>& id, const ordered_json& fields) {
  auto reply = ok_reply(id);
  if (fields.is_object())
    for (auto& [key, value] : fields.items())
      if (key != "id" && key != "ok")
        reply[key] = value;
  return reply;
}

ordered_json error_reply(const std::optional<ordered_json>& id, std::string_view code,
                         std::string_view message) {
  ordered_json reply = ordered_json::object();
  if (id)
    reply["id"] = *id;
  reply["ok"] = false;
  reply["error"] = ordered_json{{"code", code}, {"message", message}};
  return reply;
}

ordered_json error_reply(const std::optional<ordered_json>& id, protocol_errc code,
                         std::string_view message) {
  return error_reply(id, to_string(code), message);
}

ordered_json error_reply(const std::optional<ordered_json>& id, errc code,
                         std::string_view message) {
  return error_reply(id, to_string(code), message);
}

ordered_json line_too_long_reply(size_t max_line_bytes) {
  return error_reply(std::nullopt, protocol_errc::line_too_long,
                     "a request line is longer than " + std::to_string(max_line_bytes)
                       + " bytes (control.max_line_bytes); it was discarded up to its end");
}

ordered_json exec_disabled_reply(const std::optional<ordered_json>& id, bool explicit_setting) {
  return error_reply(id, protocol_errc::exec_disabled,
                     explicit_setting
                       ? "exec is disabled on this control socket (control.allow_exec is false)"
                       : "exec is disabled on this control socket: a control.listen address is "
                         "not loopback and control.allow_exec is not set to true");
}

ordered_json too_many_clients_reply(size_t max_clients) {
  return error_reply(std::nullopt, protocol_errc::too_many_clients,
                     "the control socket already serves " + std::to_string(max_clients)
                       + " clients (control.max_clients); closing this connection");
}

ordered_json idle_timeout_reply(uint64_t client_idle_timeout_ms) {
  return error_reply(std::nullopt, protocol_errc::idle_timeout,
                     "no request for " + std::to_string(client_idle_timeout_ms)
                       + " ms (control.client_idle_timeout_ms); closing");
}

std::string to_line(const ordered_json& reply) {
  auto line = reply.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  line += '\n';
  return line;
}

// --- line_splitter

line_splitter::line_splitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

void line_splitter::append(std::string_view segment) {
  auto needed = partial_.size() + segment.size();
  if (needed > partial_.capacity())
    partial_.reserve(std::min(max_line_bytes_, std::max(needed, partial_.capacity() * 2)));
  partial_.insert(partial_.end(), segment.begin(), segment.end());
}

void line_splitter::release() noexcept {
  // Give the memory back: an oversized line must not leave a big buffer.
  std::vector<char>{}.swap(partial_);
}

std::vector<line_item> line_splitter::feed(std::string_view bytes) {
  std::vector<line_item> items;
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    auto segment = bytes.substr(0, newline);
    auto rest = newline == std::string_view::npos ? std::string_view{}
                                                  : bytes.substr(newline + 1);
    if (discarding_) {
      // Skipping the tail of an oversized line: nothing is kept.
      if (newline == std::string_view::npos)
        return items;
      discarding_ = false;
      bytes = rest;
      continue;
    }
    if (partial_.size() + segment.size() > max_line_bytes_) {
      items.push_back({line_item::kind::too_long, {}});
      release();
      discarding_ = newline == std::string_view::npos;
      bytes = rest;
      continue;
    }
    if (newline == std::string_view::npos) {
      append(segment);
      return items;
    }
    if (partial_.empty()) {
      items.push_back({line_item::kind::line, std::string{segment}});
    } else {
      std::string line{partial_.begin(), partial_.end()};
      line.append(segment);
      items.push_back({line_item::kind::line, std::move(line)});
      partial_.clear();
    }
    bytes = rest;
  }
  return items;
}

} // namespace tenantrt::control
