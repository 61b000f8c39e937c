#include "config/config_loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/listen_address.hpp"
#include "config/names.hpp"
#include "config/uri.hpp"

namespace tenantrt {

using nlohmann::ordered_json;
using problem_list = std::vector<config_problem>;

namespace {

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};

constexpr uint32_t max_threads = 1024;
constexpr uint32_t min_cleanup_interval_ms = 100;
constexpr std::size_t min_token_length = 16;
constexpr uint32_t min_request_line_bytes = 1024;
constexpr uint32_t max_request_line_bytes = 16 * 1024 * 1024;
constexpr uint32_t max_control_clients = 65536;
/// Shorter would close a script's connection between two of its requests.
constexpr uint32_t min_client_idle_timeout_ms = 1000;
/// One day: longer is no timeout at all in practice; 0 says so plainly.
constexpr uint32_t max_client_idle_timeout_ms = 86400000;
constexpr uint32_t min_sample_interval_ms = 100;
constexpr uint32_t max_history_size = 100000;
constexpr std::string_view unix_scheme = "unix:";

/// A configured port is fixed: 0 (the system picks) would leave clients
/// guessing where to connect.
constexpr const char* port_range = "needs a port from 1 to 65535 after the last ':'";

// -- paths and quoting --------------------------------------------------------

/// text as a JSON string literal, ASCII only (invalid UTF-8 replaced).
std::string json_quoted(std::string_view text) {
  return ordered_json(std::string{text})
    .dump(-1, ' ', true, ordered_json::error_handler_t::replace);
}

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
  });
}

/// "parent.key"; keys a dot would make ambiguous (e.g. "a.b") as parent["a.b"].
std::string join_path(const std::string& parent, std::string_view key) {
  if (!is_plain_key(key))
    return parent + "[" + json_quoted(key) + "]";
  return parent.empty() ? std::string{key} : parent + "." + std::string{key};
}

/// True when path is under (or is) an already reported path: a semantic
/// problem there is only the echo of a value that could not be read.
bool is_under(const std::string& path, const std::string& reported) {
  if (path.compare(0, reported.size(), reported) != 0)
    return false;
  return path.size() == reported.size() || path[reported.size()] == '.'
         || path[reported.size()] == '[';
}

std::string describe_type(const ordered_json& value) {
  switch (value.type()) {
    case ordered_json::value_t::number_unsigned:
      return "unsigned integer " + value.dump();
    case ordered_json::value_t::number_integer:
      return "integer " + value.dump();
    case ordered_json::value_t::number_float:
      return "floating-point number " + value.dump();
    default:
      return value.type_name();
  }
}

std::string expected(std::string_view what, const ordered_json& value) {
  return "expected " + std::string{what} + ", got " + describe_type(value);
}

// -- the key tables -------------------------------------------------------------

/// What a string field holds: URIs lose their password when written out,
/// secrets their whole value (and a problem never quotes either).
enum class text_kind { plain, uri, secret };

template <class>
[[maybe_unused]] inline constexpr bool unknown_section = false; // clang: used only in a static_assert

// One table of keys per struct, walked by the reader and by to_json(), so the
// two cannot drift apart. A visitor is called as v(key, field) and, for
// strings, v(key, field, kind); nested structs recurse through the visitor.
template <class Visitor, class Section>
void visit_fields(Visitor& v, Section& s) {
  using type = std::remove_const_t<Section>;
  if constexpr (std::is_same_v<type, runtime_config>) {
    v("clusters", s.clusters);
    v("default_cluster", s.default_cluster, text_kind::plain);
    v("routing", s.routing);
    v("database_template", s.database_template, text_kind::plain);
    v("main_database", s.main_database, text_kind::plain);
    v("main_cluster", s.main_cluster, text_kind::plain);
    v("pool_maintenance_interval_ms", s.pool_maintenance_interval_ms);
    v("registry", s.registry);
    v("executor", s.executor);
    v("scheduler", s.scheduler);
    v("logging", s.logging);
    v("control", s.control);
    v("metrics", s.metrics);
    v("shutdown", s.shutdown);
  } else if constexpr (std::is_same_v<type, cluster_config>) {
    // name is the cluster's key in "clusters"; pool settings sit flat beside uri.
    v("uri", s.uri, text_kind::uri);
    v("pool_per_tenant", s.pool_per_tenant);
    visit_fields(v, s.pool);
  } else if constexpr (std::is_same_v<type, pool_settings>) {
    v("max_pool_size", s.max_pool_size);
    v("min_pool_size", s.min_pool_size);
    v("max_idle_time_ms", s.max_idle_time_ms);
    v("wait_queue_timeout_ms", s.wait_queue_timeout_ms);
    v("socket_timeout_ms", s.socket_timeout_ms);
    v("server_selection_timeout_ms", s.server_selection_timeout_ms);
    v("connect_timeout_ms", s.connect_timeout_ms);
  } else if constexpr (std::is_same_v<type, routing_config>) {
    v("exact", s.exact);
    v("prefix", s.prefix);
  } else if constexpr (std::is_same_v<type, registry_config>) {
    v("max_tenant_connections", s.max_tenant_connections);
    v("idle_timeout_ms", s.idle_timeout_ms);
    v("cleanup_interval_ms", s.cleanup_interval_ms);
    v("evict_lru_when_full", s.evict_lru_when_full);
    v("wait_queue_timeout_ms", s.wait_queue_timeout_ms);
    v("max_waiters", s.max_waiters);
    v("main_ping_interval_ms", s.main_ping_interval_ms);
    v("quarantine", s.quarantine);
  } else if constexpr (std::is_same_v<type, quarantine_config>) {
    v("max_crashes", s.max_crashes);
    v("crash_window_ms", s.crash_window_ms);
    v("backoff_ms", s.backoff_ms);
    v("max_backoff_ms", s.max_backoff_ms);
  } else if constexpr (std::is_same_v<type, executor_config>) {
    v("threads", s.threads);
    v("max_queue", s.max_queue);
  } else if constexpr (std::is_same_v<type, scheduler_config>) {
    v("threads", s.threads);
  } else if constexpr (std::is_same_v<type, logging_config>) {
    v("level", s.level, text_kind::plain);
  } else if constexpr (std::is_same_v<type, control_config>) {
    v("listen", s.listen);
    v("token", s.token, text_kind::secret);
    v("max_line_bytes", s.max_line_bytes);
    v("max_clients", s.max_clients);
    v("client_idle_timeout_ms", s.client_idle_timeout_ms);
    v("allow_exec", s.allow_exec);
  } else if constexpr (std::is_same_v<type, metrics_config>) {
    v("sample_interval_ms", s.sample_interval_ms);
    v("history_size", s.history_size);
    v("warn_total_connections", s.warn_total_connections);
    v("warn_tenant_limit_percent", s.warn_tenant_limit_percent);
    v("prometheus_top_tenants", s.prometheus_top_tenants);
    v("http_listen", s.http_listen, text_kind::plain);
  } else if constexpr (std::is_same_v<type, shutdown_config>) {
    v("drain_timeout_ms", s.drain_timeout_ms);
  } else {
    static_assert(unknown_section<type>, "visit_fields: add the struct's key table");
  }
}

// -- reading --------------------------------------------------------------------

void read_value(const ordered_json& value, const std::string& path, uint32_t& field,
                problem_list& out);
void read_value(const ordered_json& value, const std::string& path, bool& field, problem_list& out);
void read_value(const ordered_json& value, const std::string& path, std::optional<bool>& field,
                problem_list& out);
void read_value(const ordered_json& value, const std::string& path, std::string& field,
                problem_list& out, text_kind kind = text_kind::plain);
void read_value(const ordered_json& value, const std::string& path,
                std::vector<std::string>& field, problem_list& out);
void read_value(const ordered_json& value, const std::string& path,
                std::map<std::string, std::string>& field, problem_list& out);
void read_value(const ordered_json& value, const std::string& path,
                std::map<std::string, cluster_config>& field, problem_list& out);
template <class Section>
void read_value(const ordered_json& value, const std::string& path, Section& section,
                problem_list& out);

/// Reads one JSON object into a struct: visit_fields() binds each key to its
/// field, then the object's keys are read in document order (so problems are
/// listed in the order a reader of the file meets them).
class json_reader {
public:
  json_reader(std::string path, problem_list& out) :
    path_(std::move(path)),
    out_(out) {}

  template <class Field>
  void operator()(const char* key, Field& field) {
    fields_.push_back(
      {key, [&field, &out = out_](const ordered_json& value, const std::string& path) {
         read_value(value, path, field, out);
       }});
  }

  void operator()(const char* key, std::string& field, text_kind kind) {
    fields_.push_back(
      {key, [&field, &out = out_, kind](const ordered_json& value, const std::string& path) {
         read_value(value, path, field, out, kind);
       }});
  }

  void read(const ordered_json& object) const {
    for (const auto& item : object.items()) {
      auto path = join_path(path_, item.key());
      auto field = std::find_if(fields_.begin(), fields_.end(),
                                [&](const bound_field& f) { return f.key == item.key(); });
      if (field != fields_.end())
        field->read(item.value(), path);
      else
        out_.push_back({path, "unknown key (expected one of: " + key_list() + ")"});
    }
  }

private:
  struct bound_field {
    std::string_view key;
    std::function<void(const ordered_json&, const std::string&)> read;
  };

  std::string key_list() const {
    std::string keys;
    for (const auto& field : fields_)
      keys += (keys.empty() ? "" : ", ") + std::string{field.key};
    return keys;
  }

  std::string path_;
  problem_list& out_;
  std::vector<bound_field> fields_;
};

void read_value(const ordered_json& value, const std::string& path, uint32_t& field,
                problem_list& out) {
  constexpr uint64_t max = std::numeric_limits<uint32_t>::max();
  if (value.is_number_unsigned()) {
    auto number = value.get<uint64_t>();
    if (number > max)
      out.push_back(
        {path, "out of range: " + std::to_string(number) + " is above " + std::to_string(max)});
    else
      field = static_cast<uint32_t>(number);
  } else if (value.is_number_integer()) {
    out.push_back({path, "must not be negative, got " + value.dump()});
  } else {
    out.push_back({path, expected("unsigned integer", value)});
  }
}

void read_value(const ordered_json& value, const std::string& path, bool& field,
                problem_list& out) {
  if (value.is_boolean())
    field = value.get<bool>();
  else
    out.push_back({path, expected("boolean", value)});
}

/// A boolean that may be left unset: null (or no key) means "derive the default".
void read_value(const ordered_json& value, const std::string& path, std::optional<bool>& field,
                problem_list& out) {
  if (value.is_null())
    field.reset();
  else if (value.is_boolean())
    field = value.get<bool>();
  else
    out.push_back({path, expected("boolean or null", value)});
}

void read_value(const ordered_json& value, const std::string& path, std::string& field,
                problem_list& out, text_kind kind) {
  if (value.is_string())
    field = value.get<std::string>();
  else if (kind == text_kind::secret)
    // A number given as a token is still the token: name the type only.
    out.push_back({path, "expected string, got " + std::string{value.type_name()}});
  else
    out.push_back({path, expected("string", value)});
}

/// An array of strings, or one string standing for a one-element array.
void read_value(const ordered_json& value, const std::string& path,
                std::vector<std::string>& field, problem_list& out) {
  if (value.is_string()) {
    field = {value.get<std::string>()};
    return;
  }
  if (!value.is_array()) {
    out.push_back({path, expected("array of strings or a string", value)});
    return;
  }
  field.clear();
  for (std::size_t i = 0; i < value.size(); ++i) {
    // An unreadable element keeps its slot (empty), so the paths of the
    // semantic checks still match the file's indices.
    auto& text = field.emplace_back();
    read_value(value[i], path + "[" + std::to_string(i) + "]", text, out);
  }
}

void read_value(const ordered_json& value, const std::string& path,
                std::map<std::string, std::string>& field, problem_list& out) {
  if (!value.is_object()) {
    out.push_back({path, expected("object", value)});
    return;
  }
  field.clear();
  for (const auto& item : value.items()) {
    std::string text;
    auto before = out.size();
    read_value(item.value(), join_path(path, item.key()), text, out);
    if (out.size() == before)
      field[item.key()] = std::move(text);
  }
}

void read_value(const ordered_json& value, const std::string& path,
                std::map<std::string, cluster_config>& field, problem_list& out) {
  if (!value.is_object()) {
    out.push_back({path, expected("object", value)});
    return;
  }
  // The file's clusters replace the built-in "default" entirely.
  field.clear();
  for (const auto& item : value.items()) {
    cluster_config cluster;
    cluster.name = item.key();
    read_value(item.value(), join_path(path, item.key()), cluster, out);
    field[item.key()] = std::move(cluster);
  }
}

template <class Section>
void read_value(const ordered_json& value, const std::string& path, Section& section,
                problem_list& out) {
  if (!value.is_object()) {
    out.push_back({path, expected("object", value)});
    return;
  }
  json_reader reader{path, out};
  visit_fields(reader, section);
  reader.read(value);
}

/// nlohmann's message without its exception prefix and without the "last
/// read" token, which may be the start of a URI with its password.
std::string parse_error_text(const char* what) {
  std::string text = what;
  if (auto prefix_end = text.find("] ");
      text.rfind("[json.exception", 0) == 0 && prefix_end != std::string::npos)
    text.erase(0, prefix_end + 2);
  if (auto token = text.find("; last read: '"); token != std::string::npos) {
    auto expected_part = text.rfind("'; expected ");
    text = text.substr(0, token)
           + (expected_part != std::string::npos && expected_part > token
                ? text.substr(expected_part + 1)
                : std::string{});
  }
  return text;
}

/// Parses text, reporting keys that occur twice in one object (the parser
/// would keep the last silently). nullopt after a syntax error.
std::optional<ordered_json> parse_document(const std::string& text, problem_list& out) {
  struct frame {
    std::string path;
    bool is_array;
    std::vector<std::string> keys{};
    std::string key{};
    std::size_t next_index = 0;
  };
  std::vector<frame> stack;
  auto child_path = [&stack] {
    if (stack.empty())
      return std::string{};
    auto& top = stack.back();
    if (top.is_array)
      return top.path + "[" + std::to_string(top.next_index++) + "]";
    return join_path(top.path, top.key);
  };
  ordered_json::parser_callback_t track
    = [&](int, ordered_json::parse_event_t event, ordered_json& parsed) {
        using event_t = ordered_json::parse_event_t;
        switch (event) {
          case event_t::object_start:
            stack.push_back({child_path(), false});
            break;
          case event_t::array_start:
            stack.push_back({child_path(), true});
            break;
          case event_t::key: {
            auto& top = stack.back();
            top.key = parsed.get<std::string>();
            if (std::find(top.keys.begin(), top.keys.end(), top.key) != top.keys.end())
              out.push_back(
                {join_path(top.path, top.key), "duplicate key (only one value may be given)"});
            else
              top.keys.push_back(top.key);
            break;
          }
          case event_t::value:
            if (!stack.empty() && stack.back().is_array)
              ++stack.back().next_index;
            break;
          case event_t::object_end:
          case event_t::array_end:
            stack.pop_back();
            break;
        }
        return true;
      };
  // nlohmann's lexer takes a NUL byte for the end of its input: whatever
  // follows one would be ignored instead of reported.
  if (auto nul = text.find('\0'); nul != std::string::npos) {
    out.push_back({"", "malformed JSON: a NUL byte at offset " + std::to_string(nul)});
    return std::nullopt;
  }
  try {
    return ordered_json::parse(text, track);
  } catch (const ordered_json::parse_error& error) {
    out.push_back({"", "malformed JSON: " + parse_error_text(error.what())});
    return std::nullopt;
  } catch (const ordered_json::out_of_range& error) {
    // A number beyond double's range (1e400) is out_of_range 406, not a parse_error.
    out.push_back({"", "malformed JSON: " + parse_error_text(error.what())});
    return std::nullopt;
  }
}

/// Applies the environment overrides; returns (JSON path, variable) of each.
std::vector<std::pair<std::string, std::string>> apply_environment(runtime_config& cfg,
                                                                   const environment_lookup& env) {
  std::vector<std::pair<std::string, std::string>> applied;
  if (!env)
    return applied;
  if (auto uri = env("MONGODB_URI"); uri && !uri->empty()) {
    // A missing default cluster is reported by validate(); nothing to override then.
    if (auto cluster = cfg.clusters.find(cfg.default_cluster); cluster != cfg.clusters.end()) {
      cluster->second.uri = *uri;
      applied.emplace_back(join_path(join_path("clusters", cluster->first), "uri"), "MONGODB_URI");
    }
  }
  if (auto level = env("TENANTRT_LOG_LEVEL"); level && !level->empty()) {
    cfg.logging.level = *level;
    applied.emplace_back("logging.level", "TENANTRT_LOG_LEVEL");
  }
  if (auto token = env("TENANTRT_CONTROL_TOKEN"); token && !token->empty()) {
    cfg.control.token = *token;
    applied.emplace_back("control.token", "TENANTRT_CONTROL_TOKEN");
  }
  return applied;
}

// -- writing --------------------------------------------------------------------

/// Writes a struct's keys into a JSON object through visit_fields().
class json_writer {
public:
  json_writer(ordered_json& object, redaction mode) :
    object_(object),
    mode_(mode) {}

  void operator()(const char* key, const uint32_t& field) { object_[key] = field; }
  void operator()(const char* key, const bool& field) { object_[key] = field; }
  void operator()(const char* key, const std::optional<bool>& field) {
    // null says "unset, derived": writing the derived value instead would
    // pin it, and a later change of listen would no longer move it.
    object_[key] = field ? ordered_json(*field) : ordered_json(nullptr);
  }
  void operator()(const char* key, const std::string& field, text_kind kind) {
    if (mode_ == redaction::reveal_secrets || kind == text_kind::plain)
      object_[key] = field;
    else if (kind == text_kind::uri)
      object_[key] = redact_uri(field);
    else
      object_[key] = field.empty() ? "" : "***"; // says whether one is set, nothing more
  }
  void operator()(const char* key, const std::vector<std::string>& field) {
    object_[key] = field;
  }
  void operator()(const char* key, const std::map<std::string, std::string>& field) {
    auto& map = object_[key] = ordered_json::object();
    for (const auto& [name, value] : field)
      map[name] = value;
  }
  void operator()(const char* key, const std::map<std::string, cluster_config>& field) {
    auto& map = object_[key] = ordered_json::object();
    for (const auto& [name, cluster] : field)
      write(map[name], cluster);
  }
  template <class Section>
  void operator()(const char* key, const Section& section) {
    write(object_[key], section);
  }

private:
  template <class Section>
  void write(ordered_json& target, const Section& section) {
    target = ordered_json::object();
    json_writer nested{target, mode_};
    visit_fields(nested, section);
  }

  ordered_json& object_;
  redaction mode_;
};

// -- semantic checks ----------------------------------------------------------------

/// Why template cannot name tenant databases, if it cannot.
std::optional<std::string> database_template_problem(const std::string& database_template) {
  constexpr std::string_view placeholder = "{id}";
  std::size_t count = 0;
  for (auto at = database_template.find(placeholder); at != std::string::npos;
       at = database_template.find(placeholder, at + placeholder.size()))
    ++count;
  if (count == 0)
    return "must contain {id} exactly once; " + json_quoted(database_template)
           + " has none, so every tenant would share one database";
  if (count > 1)
    return "must contain {id} exactly once; " + json_quoted(database_template) + " has it "
           + std::to_string(count) + " times";
  // Tenant ids add only [A-Za-z0-9_-]: a one-character id shows every problem of
  // the fixed part. Longer ids are refused at resolve time once the name would
  // pass 63 bytes (a 64-character id never fits beside any fixed text).
  auto name = database_name_for(database_template, "a");
  if (auto problem = database_name_problem(name))
    return json_quoted(database_template)
           + " yields unusable database names; for tenant id \"a\": " + *problem;
  return std::nullopt;
}

std::string cluster_list(const runtime_config& cfg) {
  std::string names;
  for (const auto& [name, cluster] : cfg.clusters)
    names += (names.empty() ? "" : ", ") + json_quoted(name);
  return names.empty() ? "none" : names;
}

class config_checker {
public:
  explicit config_checker(const runtime_config& cfg) :
    cfg_(cfg) {}

  problem_list run() {
    check_clusters();
    check_cluster_name(cfg_.default_cluster, "default_cluster");
    if (!cfg_.main_cluster.empty())
      check_cluster_name(cfg_.main_cluster, "main_cluster");
    check_routing();
    if (auto problem = database_template_problem(cfg_.database_template))
      add("database_template", *problem);
    if (auto problem = database_name_problem(cfg_.main_database))
      add("main_database", *problem);
    at_least(cfg_.pool_maintenance_interval_ms, 1, "pool_maintenance_interval_ms");
    check_registry();
    at_least(cfg_.executor.threads, 1, "executor.threads");
    at_most(cfg_.executor.threads, max_threads, "executor.threads");
    at_least(cfg_.executor.max_queue, 1, "executor.max_queue");
    at_most(cfg_.scheduler.threads, max_threads, "scheduler.threads");
    check_log_level();
    check_control();
    check_metrics();
    at_least(cfg_.shutdown.drain_timeout_ms, 1, "shutdown.drain_timeout_ms");
    return std::move(out_);
  }

private:
  void add(std::string path, std::string reason) {
    out_.push_back({std::move(path), std::move(reason)});
  }

  void at_least(uint32_t value, uint32_t min, std::string path) {
    if (value < min)
      add(std::move(path),
          "must be at least " + std::to_string(min) + ", got " + std::to_string(value));
  }

  void at_most(uint32_t value, uint32_t max, std::string path) {
    if (value > max)
      add(std::move(path),
          "must be at most " + std::to_string(max) + ", got " + std::to_string(value));
  }

  void check_clusters() {
    if (cfg_.clusters.empty())
      add("clusters", "at least one cluster is required");
    for (const auto& [name, cluster] : cfg_.clusters) {
      auto path = join_path("clusters", name);
      if (name.empty())
        add(path, "a cluster name must not be empty");
      if (cluster.name != name)
        add(path, "cluster_config::name " + json_quoted(cluster.name) + " differs from its key");
      if (auto problem = uri_problem(cluster.uri))
        add(join_path(path, "uri"), *problem);
      const auto& pool = cluster.pool;
      at_least(pool.max_pool_size, 1, join_path(path, "max_pool_size"));
      if (pool.min_pool_size > pool.max_pool_size)
        add(join_path(path, "min_pool_size"), "must not exceed max_pool_size ("
                                                + std::to_string(pool.max_pool_size) + "), got "
                                                + std::to_string(pool.min_pool_size));
      at_least(pool.max_idle_time_ms, 1, join_path(path, "max_idle_time_ms"));
      at_least(pool.wait_queue_timeout_ms, 1, join_path(path, "wait_queue_timeout_ms"));
      at_least(pool.socket_timeout_ms, 1, join_path(path, "socket_timeout_ms"));
      at_least(pool.server_selection_timeout_ms, 1, join_path(path, "server_selection_timeout_ms"));
      at_least(pool.connect_timeout_ms, 1, join_path(path, "connect_timeout_ms"));
    }
  }

  void check_cluster_name(const std::string& name, std::string path) {
    // With no cluster at all, "at least one cluster" says it all.
    if (!cfg_.clusters.empty() && cfg_.clusters.count(name) == 0)
      add(std::move(path), "names cluster " + json_quoted(name)
                             + ", which is not configured (clusters: " + cluster_list(cfg_) + ")");
  }

  void check_routing() {
    for (const auto& [tenant, cluster] : cfg_.routing.exact) {
      auto path = join_path("routing.exact", tenant);
      if (auto problem = tenant_id_problem(tenant))
        add(path, *problem);
      check_cluster_name(cluster, path);
    }
    for (const auto& [prefix, cluster] : cfg_.routing.prefix) {
      auto path = join_path("routing.prefix", prefix);
      if (prefix.empty())
        add(path, "an empty prefix would match every tenant; use default_cluster instead");
      else if (auto problem = tenant_id_problem(prefix))
        add(path, "no tenant id could match this prefix: " + *problem);
      check_cluster_name(cluster, path);
    }
  }

  void check_registry() {
    const auto& r = cfg_.registry;
    at_least(r.max_tenant_connections, 1, "registry.max_tenant_connections");
    at_least(r.idle_timeout_ms, 1, "registry.idle_timeout_ms");
    at_least(r.cleanup_interval_ms, min_cleanup_interval_ms, "registry.cleanup_interval_ms");
    at_least(r.wait_queue_timeout_ms, 1, "registry.wait_queue_timeout_ms");
    at_least(r.main_ping_interval_ms, 1, "registry.main_ping_interval_ms");
    const auto& q = r.quarantine;
    at_least(q.crash_window_ms, 1, "registry.quarantine.crash_window_ms");
    at_least(q.backoff_ms, 1, "registry.quarantine.backoff_ms");
    if (q.max_backoff_ms < q.backoff_ms)
      add("registry.quarantine.max_backoff_ms", "must be at least backoff_ms ("
                                                  + std::to_string(q.backoff_ms) + "), got "
                                                  + std::to_string(q.max_backoff_ms));
  }

  void check_log_level() {
    const auto& level = cfg_.logging.level;
    if (std::find(log_levels.begin(), log_levels.end(), level) != log_levels.end())
      return;
    std::string choices;
    for (auto name : log_levels)
      choices += (choices.empty() ? "" : ", ") + std::string{name};
    add("logging.level", json_quoted(level) + " is not a log level; use one of " + choices);
  }

  void check_control() {
    const auto& c = cfg_.control;
    if (c.listen.empty())
      add("control.listen", "at least one address is required");
    for (std::size_t i = 0; i < c.listen.size(); ++i) {
      const auto& address = c.listen[i];
      auto path = "control.listen[" + std::to_string(i) + "]";
      bool is_unix = std::string_view{address}.substr(0, unix_scheme.size()) == unix_scheme;
      auto parsed = parse_listen_address(address);
      if (!parsed.address)
        add(path, json_quoted(address) + " " + parsed.error
                    + (is_unix ? "" : "; or use unix:/absolute/path"));
      else if (!is_unix && parsed.address->port == 0)
        add(path, json_quoted(address) + " " + port_range + "; or use unix:/absolute/path");
      else if (!parsed.address->loopback && c.token.empty())
        // Other machines could drive (and stop) the runtime without a secret.
        add(path, json_quoted(address) + ": a non-loopback control address needs control.token");
    }
    // Length only: the value is a secret.
    if (!c.token.empty() && c.token.size() < min_token_length)
      add("control.token", "must be at least " + std::to_string(min_token_length)
                             + " characters when set, got " + std::to_string(c.token.size()));
    at_least(c.max_line_bytes, min_request_line_bytes, "control.max_line_bytes");
    at_most(c.max_line_bytes, max_request_line_bytes, "control.max_line_bytes");
    at_least(c.max_clients, 1, "control.max_clients");
    at_most(c.max_clients, max_control_clients, "control.max_clients");
    // 0 switches the timeout off; a small value would be a mistake, not a choice.
    if (c.client_idle_timeout_ms != 0 && c.client_idle_timeout_ms < min_client_idle_timeout_ms)
      add("control.client_idle_timeout_ms",
          "must be 0 (no idle timeout) or at least " + std::to_string(min_client_idle_timeout_ms)
            + " ms, got " + std::to_string(c.client_idle_timeout_ms));
    if (c.client_idle_timeout_ms > max_client_idle_timeout_ms)
      add("control.client_idle_timeout_ms",
          "must be at most " + std::to_string(max_client_idle_timeout_ms)
            + " ms (one day; use 0 for no idle timeout), got "
            + std::to_string(c.client_idle_timeout_ms));
  }

  void check_metrics() {
    const auto& m = cfg_.metrics;
    at_least(m.sample_interval_ms, min_sample_interval_ms, "metrics.sample_interval_ms");
    at_least(m.history_size, 1, "metrics.history_size");
    at_most(m.history_size, max_history_size, "metrics.history_size");
    at_least(m.warn_tenant_limit_percent, 1, "metrics.warn_tenant_limit_percent");
    at_most(m.warn_tenant_limit_percent, 100, "metrics.warn_tenant_limit_percent");
    if (m.http_listen.empty())
      return;
    if (std::string_view{m.http_listen}.substr(0, unix_scheme.size()) == unix_scheme) {
      add("metrics.http_listen", json_quoted(m.http_listen) + " is not HOST:PORT; /metrics is "
                                   "served over TCP only, e.g. 127.0.0.1:9464");
      return;
    }
    auto parsed = parse_listen_address(m.http_listen);
    if (!parsed.address)
      add("metrics.http_listen", json_quoted(m.http_listen) + " " + parsed.error);
    else if (parsed.address->port == 0)
      add("metrics.http_listen", json_quoted(m.http_listen) + " " + port_range);
    else if (!parsed.address->loopback)
      // GET /metrics has no authentication; tenant ids must not leave the host.
      add("metrics.http_listen", json_quoted(m.http_listen)
                                   + " must use a loopback host (127.x.x.x, localhost or [::1])");
  }

  const runtime_config& cfg_;
  problem_list out_;
};

std::string describe(const problem_list& problems, const std::string& source) {
  std::string text;
  for (const auto& problem : problems) {
    if (!text.empty())
      text += '\n';
    if (!source.empty())
      text += source + ": ";
    if (!problem.path.empty())
      text += problem.path + ": ";
    text += problem.reason;
  }
  return text.empty() ? "invalid configuration" : text;
}

} // namespace

config_error::config_error(std::vector<config_problem> problems, std::string source) :
  std::runtime_error(describe(problems, source)),
  problems_(std::move(problems)),
  source_(std::move(source)) {}

std::optional<std::string> process_environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr)
    return std::nullopt;
  return std::string{value};
}

runtime_config parse_config(const std::string& json_text, const environment_lookup& env) {
  problem_list problems;
  auto document = parse_document(json_text, problems);
  if (!document)
    throw config_error(std::move(problems));
  runtime_config cfg;
  if (document->is_object())
    read_value(*document, "", cfg, problems);
  else
    problems.push_back(
      {"", "the configuration must be a JSON object, got " + describe_type(*document)});
  auto overrides = apply_environment(cfg, env);
  auto unreadable = problems;
  for (auto& problem : validate(cfg)) {
    auto echoes = std::any_of(unreadable.begin(), unreadable.end(), [&](const config_problem& p) {
      return !p.path.empty() && is_under(problem.path, p.path);
    });
    if (echoes)
      continue;
    for (const auto& [path, variable] : overrides)
      if (problem.path == path)
        problem.reason += " (value from environment variable " + variable + ")";
    problems.push_back(std::move(problem));
  }
  if (!problems.empty())
    throw config_error(std::move(problems));
  return cfg;
}

runtime_config load_config(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored))
    throw config_error({{"", "cannot read the configuration file: it is a directory"}}, path);
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw config_error(
      {{"", "cannot read the configuration file: " + std::generic_category().message(errno)}},
      path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad())
    throw config_error({{"", "cannot read the configuration file: read error"}}, path);
  try {
    return parse_config(text.str(), process_environment);
  } catch (const config_error& error) {
    throw config_error(error.problems(), path);
  }
}

std::vector<config_problem> validate(const runtime_config& cfg) {
  return config_checker{cfg}.run();
}

namespace {

// -- reload -----------------------------------------------------------------------

enum class reload_effect { at_once, restart };

/// Keys of a JSON path matched against a pattern; "*" matches any one key
/// (a cluster's name). The longest matching pattern decides.
struct reload_rule {
  std::vector<std::string_view> pattern;
  reload_effect effect;
};

const std::vector<reload_rule>& reload_rules() {
  static const std::vector<reload_rule> rules = [] {
    using e = reload_effect;
    std::vector<reload_rule> out{
      // Pools, tenant actors and sockets are built at start from these.
      {{"clusters", "*"}, e::restart}, // a cluster added or removed
      {{"clusters", "*", "uri"}, e::restart},
      {{"clusters", "*", "pool_per_tenant"}, e::restart},
      {{"default_cluster"}, e::restart},
      {{"routing"}, e::restart}, // live tenant actors are bound to their cluster
      {{"database_template"}, e::restart},
      {{"main_database"}, e::restart},
      {{"main_cluster"}, e::restart},
      {{"pool_maintenance_interval_ms"}, e::at_once},
      {{"registry"}, e::at_once},
      {{"executor"}, e::restart},
      {{"scheduler"}, e::restart},
      {{"logging", "level"}, e::at_once},
      {{"control", "listen"}, e::restart},
      {{"control", "token"}, e::at_once},
      {{"control", "max_line_bytes"}, e::at_once},
      {{"control", "max_clients"}, e::at_once},
      {{"control", "client_idle_timeout_ms"}, e::at_once},
      {{"control", "allow_exec"}, e::at_once},
      {{"metrics"}, e::at_once},
      {{"metrics", "http_listen"}, e::restart},
      {{"shutdown"}, e::at_once},
    };
    // Every pool setting (sizes, timeouts) applies to the running pools.
    auto add_pool_key = [&out](const char* key, const auto&...) {
      out.push_back({{"clusters", "*", key}, e::at_once});
    };
    const pool_settings pool;
    visit_fields(add_pool_key, pool);
    return out;
  }();
  return rules;
}

/// How a change at keys takes effect; a key no rule names needs a restart
/// (claiming it applied when nothing reads it again would mislead).
reload_effect effect_of(const std::vector<std::string>& keys) {
  std::size_t best_length = 0;
  auto effect = reload_effect::restart;
  for (const auto& rule : reload_rules()) {
    const auto& pattern = rule.pattern;
    if (pattern.size() > keys.size() || pattern.size() <= best_length)
      continue;
    bool matches = std::equal(pattern.begin(), pattern.end(), keys.begin(),
                              [](std::string_view p, const std::string& k) {
                                return p == "*" || p == k;
                              });
    if (matches) {
      best_length = pattern.size();
      effect = rule.effect;
    }
  }
  return effect;
}

/// Walks the two configurations' JSON side by side and sorts each changed
/// key's path by its effect. Only paths are kept: values may be secrets.
class reload_planner {
public:
  reload_plan run(const ordered_json& running, const ordered_json& next) {
    std::vector<std::string> keys;
    compare(running, next, keys, "");
    return std::move(plan_);
  }

private:
  void compare(const ordered_json& running, const ordered_json& next,
               std::vector<std::string>& keys, const std::string& path) {
    if (!running.is_object() || !next.is_object()) {
      if (running != next)
        record(keys, path);
      return;
    }
    std::vector<std::string> names;
    for (const auto& item : running.items())
      names.push_back(item.key());
    bool same_keys = true;
    for (const auto& item : next.items())
      if (!running.contains(item.key())) {
        names.push_back(item.key());
        same_keys = false;
      }
    same_keys = same_keys && running.size() == next.size();
    // Struct sections always have every key, in to_json()'s order. Differing
    // keys mean a map (clusters, routing), which to_json() writes sorted.
    if (!same_keys)
      std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto child_path = join_path(path, name);
      keys.push_back(name);
      if (running.contains(name) && next.contains(name))
        compare(running.at(name), next.at(name), keys, child_path);
      else
        record(keys, child_path); // added or removed as a whole
      keys.pop_back();
    }
  }

  void record(const std::vector<std::string>& keys, const std::string& path) {
    auto& list = effect_of(keys) == reload_effect::at_once ? plan_.applied : plan_.needs_restart;
    list.push_back(path);
  }

  reload_plan plan_;
};

} // namespace

reload_plan plan_reload(const runtime_config& running, const runtime_config& next) {
  // Revealed, so that a changed password or token counts as a change.
  return reload_planner{}.run(to_json(running, redaction::reveal_secrets),
                              to_json(next, redaction::reveal_secrets));
}

nlohmann::ordered_json to_json(const runtime_config& cfg, redaction mode) {
  auto out = ordered_json::object();
  json_writer writer{out, mode};
  visit_fields(writer, cfg);
  return out;
}

} // namespace tenantrt
