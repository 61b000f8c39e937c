// tenantctl's renderers: each reply as text, and the exit status scripts read.
#include "tools/tenantctl_render.hpp"

#include "config/listen_address.hpp"

#include <algorithm>
#include <initializer_list>
#include <sstream>

#include "actors/stats_schema.hpp"
#include "tools/tenantctl_table.hpp"

namespace tenantrt::ctl {

namespace {

using nlohmann::json;
namespace field = tenantrt::stats_schema;
using sgr::bold;
using sgr::bold_yellow;
using sgr::green;
using sgr::red;
using sgr::yellow;

// Older spellings read after the schema's (number_at takes the first key
// present): "p50_us" and the like. No tenantrtd reply has used them; they
// are kept so the renderer reads what it read before.
constexpr const char* legacy_p50_us = "p50_us";
constexpr const char* legacy_p99_us = "p99_us";
constexpr const char* legacy_max_us = "max_us";
constexpr const char* legacy_sum_us = "sum_us";

/// The first of keys present in object as an unsigned number.
std::optional<uint64_t> number_at(const json& object, std::initializer_list<const char*> keys) {
  if (!object.is_object())
    return std::nullopt;
  for (auto* key : keys) {
    auto it = object.find(key);
    if (it == object.end())
      continue;
    if (it->is_number_unsigned())
      return it->get<uint64_t>();
    if (it->is_number_integer())
      return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
    if (it->is_number_float())
      return static_cast<uint64_t>(std::max(0.0, it->get<double>()));
  }
  return std::nullopt;
}

std::string number_text(const json& object, std::initializer_list<const char*> keys) {
  auto value = number_at(object, keys);
  return value ? std::to_string(*value) : "-";
}

std::string string_at(const json& object, const char* key, std::string fallback = "-") {
  if (!object.is_object())
    return fallback;
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

const json& member(const json& object, const char* key) {
  static const json null_value;
  if (!object.is_object())
    return null_value;
  auto it = object.find(key);
  return it == object.end() ? null_value : *it;
}

/// "12:00:01" out of "2024-05-01T12:00:01.123Z"; the text as is otherwise.
std::string clock_time(const std::string& iso_timestamp) {
  if (iso_timestamp.size() >= 19 && iso_timestamp[10] == 'T')
    return iso_timestamp.substr(11, 8);
  return iso_timestamp;
}

std::string state_color(const std::string& state) {
  if (state == "connected" || state == "active" || state == "ok")
    return green;
  if (state == "disconnected" || state == "down")
    return red;
  return yellow;
}

/// A number cell coloured with color when the value is above zero.
table_cell count_cell(const json& object, std::initializer_list<const char*> keys,
                      const char* color_when_positive) {
  auto value = number_at(object, keys);
  if (!value)
    return {"-", {}};
  return {std::to_string(*value), *value > 0 ? color_when_positive : ""};
}

std::string join(const json& array, const char* separator) {
  std::string out;
  if (!array.is_array())
    return out;
  for (auto& item : array) {
    if (!out.empty())
      out += separator;
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

/// Whether any tenant row carries latency figures (the `details` reply).
bool has_latency(const json& connections) {
  if (!connections.is_array())
    return false;
  return std::any_of(connections.begin(), connections.end(),
                     [](const json& entry) { return member(entry, field::connection::latency).is_object(); });
}

/// A latency figure in µs as text, "-" when absent or without operations.
std::string latency_text(const json& latency, std::initializer_list<const char*> keys) {
  if (number_at(latency, {field::latency::count}).value_or(1) == 0)
    return "-";
  auto value = number_at(latency, keys);
  return value ? format_micros(*value) : "-";
}

/// Mean latency from the count and sum of a latency object.
std::string mean_latency_text(const json& latency) {
  auto count = number_at(latency, {field::latency::count});
  auto sum = number_at(latency, {field::latency::sum_us, legacy_sum_us});
  if (!count || !sum || *count == 0)
    return "-";
  return format_micros(*sum / *count);
}

} // namespace

// --- socket addresses

std::string socket_address::to_string() const {
  if (kind == family::unix_path)
    return "unix:" + path;
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<socket_address> parse_socket_address(const std::string& text, std::string* error) {
  // The daemon's own grammar (config/listen_address.hpp): what it listens on
  // is what tenantctl connects to.
  auto parsed = parse_listen_address(text);
  auto why = parsed.error;
  if (parsed.address && parsed.address->type == listen_address::kind::tcp
      && parsed.address->port == 0)
    why = "needs a port from 1 to 65535 after the last ':'";
  else if (parsed.address) {
    socket_address out;
    out.kind = parsed.address->type == listen_address::kind::unix_socket
                 ? socket_address::family::unix_path
                 : socket_address::family::tcp;
    out.host = parsed.address->host;
    out.port = parsed.address->port;
    out.path = parsed.address->path;
    return out;
  }
  if (error)
    *error = "socket address \"" + text + "\" " + why;
  return std::nullopt;
}

std::vector<uint64_t> total_connections_of(const json& samples) {
  std::vector<uint64_t> out;
  if (!samples.is_array())
    return out;
  for (auto& sample : samples)
    out.push_back(number_at(sample, {field::sample::total_connections}).value_or(0));
  return out;
}

// --- replies

std::string render_warnings(const json& warnings, const render_options& options) {
  if (!warnings.is_array() || warnings.empty())
    return paint("warnings: none", green, options.color) + "\n";
  std::string out;
  for (auto& warning : warnings) {
    std::string line = paint("WARN", bold_yellow, options.color) + " "
                       + paint(string_at(warning, field::warning::code), yellow, options.color)
                       + ": " + string_at(warning, field::warning::message, "");
    auto value = member(warning, field::warning::value);
    auto threshold = member(warning, field::warning::threshold);
    if (!value.is_null() || !threshold.is_null()) {
      line += " (";
      if (!value.is_null())
        line += "value " + (value.is_string() ? value.get<std::string>() : value.dump());
      if (!value.is_null() && !threshold.is_null())
        line += ", ";
      if (!threshold.is_null())
        line += "threshold "
                + (threshold.is_string() ? threshold.get<std::string>() : threshold.dump());
      line += ")";
    }
    out += line + "\n";
  }
  return out;
}

std::string render_stats(const json& reply, const render_options& options) {
  const json& stats = member(reply, field::stats_reply::stats);
  const json& main_db = member(stats, field::stats::main_db);
  const json& tenant_dbs = member(stats, field::stats::tenant_dbs);
  const json& connections = member(tenant_dbs, field::tenant_dbs::connections);
  const json& clusters = member(stats, field::stats::clusters);
  std::ostringstream out;

  out << paint("tenantrt", bold, options.color) << " at "
      << string_at(reply, field::stats_reply::timestamp) << "\n";
  auto main_state = string_at(main_db, field::main_db::state);
  out << "  main database  " << string_at(main_db, field::main_db::name) << " ("
      << paint(main_state, state_color(main_state), options.color) << ")\n";
  out << "  tenants        " << number_text(tenant_dbs, {field::tenant_dbs::active_connections})
      << " active of " << number_text(tenant_dbs, {field::tenant_dbs::max_connections}) << ", "
      << number_text(tenant_dbs, {field::tenant_dbs::registered_tenants}) << " registered\n";
  out << "  connections    " << number_text(stats, {field::stats::total_connections})
      << " physical (all clusters)\n";
  if (auto status = string_at(reply, field::stats_reply::status, ""); !status.empty())
    out << "  health         " << paint(status, state_color(status), options.color) << "\n";
  out << "\n";

  // Tenants, with latency columns when the reply carries them (details).
  bool latency = has_latency(connections);
  std::vector<std::string> headers{"TENANT", "STATE", "IDLE", "USES", "IN-FLIGHT", "OPS",
                                   "ERRORS"};
  std::vector<align> alignment{align::left,  align::left,  align::right, align::right,
                               align::right, align::right, align::right};
  if (latency) {
    headers.insert(headers.end(), {"P50", "P99", "MAX", "MEAN"});
    alignment.insert(alignment.end(), 4, align::right);
  }
  headers.insert(headers.end(), {"CLUSTER", "DATABASE"});
  alignment.insert(alignment.end(), {align::left, align::left});
  text_table tenants{headers, alignment};
  uint64_t uses = 0, inflight = 0, ops = 0, errors = 0;
  std::size_t rows = 0;
  if (connections.is_array()) {
    namespace key = field::connection;
    for (auto& entry : connections) {
      auto state = string_at(entry, key::state);
      auto idle = number_at(entry, {key::idle_ms});
      std::vector<table_cell> row{
        {string_at(entry, key::tenant), {}},
        {state, state == "active" ? "" : state_color(state)},
        {idle ? format_duration_ms(static_cast<int64_t>(*idle)) : "-", {}},
        {number_text(entry, {key::use_count}), {}},
        count_cell(entry, {key::inflight}, ""),
        {number_text(entry, {key::ops}), {}},
        count_cell(entry, {key::errors}, red)};
      if (latency) {
        const json& figures = member(entry, key::latency);
        row.push_back({latency_text(figures, {field::latency::p50_us, legacy_p50_us}), {}});
        row.push_back({latency_text(figures, {field::latency::p99_us, legacy_p99_us}), {}});
        row.push_back({latency_text(figures, {field::latency::max_us, legacy_max_us}), {}});
        row.push_back({mean_latency_text(figures), {}});
      }
      row.push_back({string_at(entry, key::cluster), {}});
      row.push_back({string_at(entry, key::database), {}});
      tenants.add_row(std::move(row));
      uses += number_at(entry, {key::use_count}).value_or(0);
      inflight += number_at(entry, {key::inflight}).value_or(0);
      ops += number_at(entry, {key::ops}).value_or(0);
      errors += number_at(entry, {key::errors}).value_or(0);
      ++rows;
    }
  }
  if (rows == 0) {
    out << "no active tenants\n";
  } else {
    tenants.set_footer({{"total (" + std::to_string(rows) + ")", {}},
                        {},
                        {},
                        {std::to_string(uses), {}},
                        {std::to_string(inflight), {}},
                        {std::to_string(ops), {}},
                        {std::to_string(errors), errors > 0 ? red : ""}});
    out << tenants.render(options.color);
  }

  if (clusters.is_object() && !clusters.empty()) {
    text_table pools{{"CLUSTER", "OPEN", "IN USE", "IDLE", "WAITERS", "MIN", "MAX", "CREATED",
                      "CLOSED", "WAIT TIMEOUTS"},
                     {align::left, align::right, align::right, align::right, align::right,
                      align::right, align::right, align::right, align::right, align::right}};
    namespace key = field::pool;
    for (auto& [name, pool] : clusters.items()) {
      auto open = number_at(pool, {key::open});
      auto max = number_at(pool, {key::max_pool_size});
      bool full = open && max && *open >= *max;
      pools.add_row({{name, {}},
                     {open ? std::to_string(*open) : "-", full ? yellow : ""},
                     {number_text(pool, {key::in_use}), {}},
                     {number_text(pool, {key::idle}), {}},
                     count_cell(pool, {key::waiters}, yellow),
                     {number_text(pool, {key::min_pool_size}), {}},
                     {max ? std::to_string(*max) : "-", {}},
                     {number_text(pool, {key::created_total}), {}},
                     {number_text(pool, {key::closed_total}), {}},
                     count_cell(pool, {key::wait_timeouts_total}, red)});
    }
    out << "\n" << pools.render(options.color);
  }

  auto history = total_connections_of(member(reply, field::stats_reply::recent_metrics));
  if (!history.empty()) {
    auto [low, high] = std::minmax_element(history.begin(), history.end());
    out << "\nconnections  " << sparkline(history) << "  now " << history.back() << ", min "
        << *low << ", max " << *high << " (last " << history.size() << " sample"
        << (history.size() == 1 ? "" : "s") << ")\n";
  }
  out << "\n" << render_warnings(member(reply, field::stats_reply::warnings), options);
  return out.str();
}

std::string render_health(const json& reply, const render_options& options) {
  auto status = string_at(reply, field::health_reply::status);
  return "health: " + paint(status, state_color(status), options.color) + "\n"
         + render_warnings(member(reply, field::health_reply::warnings), options);
}

std::string render_history(const json& reply, const render_options& options) {
  const json& samples = member(reply, field::history_reply::samples);
  if (!samples.is_array() || samples.empty())
    return "no samples yet (one is taken every metrics.sample_interval_ms)\n";
  auto totals = total_connections_of(samples);
  uint64_t top = *std::max_element(totals.begin(), totals.end());
  text_table table{{"TIME (UTC)", "CONNS", "TENANTS", "IN-FLIGHT", "OPS", "ERRORS", "P50", "P99",
                    "WAITERS", "TIMEOUTS", "CONNECTIONS"},
                   {align::left, align::right, align::right, align::right, align::right,
                    align::right, align::right, align::right, align::right, align::right,
                    align::left}};
  namespace key = field::sample;
  std::size_t i = 0;
  for (auto& sample : samples) {
    bool idle_interval = number_at(sample, {key::ops}).value_or(1) == 0;
    auto micros = [&](std::initializer_list<const char*> keys) {
      auto value = idle_interval ? std::nullopt : number_at(sample, keys);
      return table_cell{value ? format_micros(*value) : "-", {}};
    };
    // Bar rows: length proportional to the largest count in the window.
    std::size_t bar = top == 0 ? 0
                               : static_cast<std::size_t>(
                                   (totals[i] * options.chart_width + top / 2) / top);
    std::string bar_text;
    for (std::size_t b = 0; b < bar; ++b)
      bar_text += "\u2588";
    table.add_row({{clock_time(string_at(sample, key::timestamp)), {}},
                   {std::to_string(totals[i]), {}},
                   {number_text(sample, {key::active_tenants}), {}},
                   {number_text(sample, {key::inflight}), {}},
                   {number_text(sample, {key::ops}), {}},
                   count_cell(sample, {key::errors}, red),
                   micros({key::p50_us, legacy_p50_us}),
                   micros({key::p99_us, legacy_p99_us}),
                   count_cell(sample, {key::waiters}, yellow),
                   count_cell(sample, {key::wait_timeouts}, red),
                   {bar_text, {}}});
    ++i;
  }
  auto [low, high] = std::minmax_element(totals.begin(), totals.end());
  return table.render(options.color) + "\n" + std::to_string(totals.size())
         + " samples; total connections " + sparkline(totals) + "  min "
         + std::to_string(*low) + ", max " + std::to_string(*high) + "\n";
}

std::string render_reply(const std::string& cmd, const json& reply,
                         const render_options& options) {
  if (cmd == "stats" || cmd == "details")
    return render_stats(reply, options);
  if (cmd == "health")
    return render_health(reply, options);
  if (cmd == "history")
    return render_history(reply, options);
  if (cmd == "cleanup") {
    auto reaped = number_at(reply, {"reaped"}).value_or(0);
    std::string out = "reaped " + std::to_string(reaped) + " idle tenant"
                      + (reaped == 1 ? "" : "s");
    auto ids = join(member(reply, "tenants"), ", ");
    return out + (ids.empty() ? "" : ": " + ids) + "\n";
  }
  if (cmd == "evict") {
    bool evicted = member(reply, "evicted").is_boolean() && reply["evicted"].get<bool>();
    auto tenant = string_at(reply, "tenant", "");
    std::string who = tenant.empty() ? "tenant" : "tenant " + tenant;
    return evicted ? who + " evicted\n" : who + " was not active; nothing evicted\n";
  }
  if (cmd == "exec")
    return member(reply, "reply").dump(2) + "\n";
  if (cmd == "config") {
    const json& config = member(reply, "config");
    if (!config.is_null())
      return config.dump(2) + "\n";
  }
  if (cmd == "reload") {
    const json& applied = member(reply, "applied");
    const json& restart = member(reply, "needsRestart");
    std::string out;
    if ((!applied.is_array() || applied.empty()) && (!restart.is_array() || restart.empty()))
      return "reloaded: no changes\n";
    if (applied.is_array() && !applied.empty())
      out += "applied: " + join(applied, ", ") + "\n";
    if (restart.is_array() && !restart.empty())
      out += paint("needs restart", bold_yellow, options.color) + " (running value kept): "
             + join(restart, ", ") + "\n";
    return out;
  }
  if (cmd == "metrics") {
    auto text = string_at(reply, field::metrics_reply::text, "");
    if (!text.empty() && text.back() != '\n')
      text += '\n';
    return text;
  }
  // Anything else: the reply's own fields.
  json rest = reply;
  if (rest.is_object()) {
    rest.erase("id");
    rest.erase("ok");
  }
  return rest.dump(2) + "\n";
}

std::string render_error(const json& reply, const render_options& options) {
  const json& error = member(reply, "error");
  return paint("error", red, options.color) + " " + string_at(error, "code", "unknown") + ": "
         + string_at(error, "message", "(no message)") + "\n";
}

exit_status exit_status_of(const std::string& cmd, const json& reply) {
  const json& ok = member(reply, "ok");
  if (!ok.is_boolean() || !ok.get<bool>())
    return exit_status::failed;
  if (cmd == "health" && string_at(reply, field::health_reply::status, "") != "ok")
    return exit_status::failed;
  return exit_status::ok;
}

} // namespace tenantrt::ctl
