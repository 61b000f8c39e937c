#include "tools/tenantload/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"

namespace tenantrt::load {

using nlohmann::ordered_json;
using problem_list = std::vector<scenario_problem>;

namespace {

constexpr uint32_t max_concurrency = 1024;
constexpr uint32_t max_tenants = 1000000;
/// Tenant ids are at most 64 characters (runtime/tenant_naming.hpp).
constexpr std::size_t max_prefix_length = 32;

std::string describe_type(const ordered_json& value) {
  switch (value.type()) {
    case ordered_json::value_t::number_unsigned:
    case ordered_json::value_t::number_integer: return "integer " + value.dump();
    case ordered_json::value_t::number_float: return "number " + value.dump();
    case ordered_json::value_t::string: return "string " + value.dump();
    default: return value.type_name();
  }
}

std::string expected(const std::string& what, const ordered_json& value) {
  return "expected " + what + ", got " + describe_type(value);
}

/// Checks an object's keys against the allowed list; reports each unknown key.
void check_keys(const ordered_json& object, const std::string& path,
                const std::vector<std::string>& allowed, problem_list& out) {
  for (const auto& item : object.items())
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      std::string list;
      for (const auto& key : allowed)
        list += (list.empty() ? "" : ", ") + key;
      out.push_back({path.empty() ? item.key() : path + "." + item.key(), "unknown key (expected one of: " + list + ")"});
    }
}

std::optional<double> read_number(const ordered_json& value, const std::string& path,
                                  double minimum, bool minimum_inclusive, problem_list& out) {
  if (!value.is_number()) {
    out.push_back({path, expected("a number", value)});
    return std::nullopt;
  }
  auto number = value.get<double>();
  if (!std::isfinite(number)) {
    out.push_back({path, "must be a finite number"});
    return std::nullopt;
  }
  if (number < 0 && minimum >= 0) {
    out.push_back({path, "must not be negative, got " + value.dump()});
    return std::nullopt;
  }
  if (minimum_inclusive ? number < minimum : number <= minimum) {
    std::ostringstream text;
    text << "must be " << (minimum_inclusive ? "at least " : "greater than ") << minimum
         << ", got " << value.dump();
    out.push_back({path, text.str()});
    return std::nullopt;
  }
  return number;
}

std::optional<uint32_t> read_count(const ordered_json& value, const std::string& path,
                                   uint32_t maximum, problem_list& out) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    out.push_back({path, "must not be negative, got " + value.dump()});
    return std::nullopt;
  }
  if (!value.is_number_unsigned()) {
    out.push_back({path, expected("an unsigned integer", value)});
    return std::nullopt;
  }
  auto number = value.get<uint64_t>();
  if (number > maximum) {
    out.push_back({path, "out of range: " + std::to_string(number) + " is above "
                           + std::to_string(maximum)});
    return std::nullopt;
  }
  return static_cast<uint32_t>(number);
}

std::optional<std::string> read_string(const ordered_json& value, const std::string& path,
                                       problem_list& out) {
  if (!value.is_string()) {
    out.push_back({path, expected("a string", value)});
    return std::nullopt;
  }
  return value.get<std::string>();
}

void read_distribution(const ordered_json& value, const std::string& path, distribution& out_dist,
                       problem_list& out) {
  if (value.is_string()) {
    auto text = value.get<std::string>();
    if (text == "uniform")
      out_dist = {};
    else if (text == "zipf")
      out.push_back({path, "zipf needs an exponent: write {\"type\": \"zipf\", \"exponent\": 1.1}"});
    else
      out.push_back({path, "unknown distribution \"" + text + "\" (expected uniform or zipf)"});
    return;
  }
  if (!value.is_object()) {
    out.push_back({path, expected("\"uniform\" or an object {\"type\", \"exponent\"}", value)});
    return;
  }
  check_keys(value, path, {"type", "exponent"}, out);
  auto type = value.find("type");
  if (type == value.end()) {
    out.push_back({path + ".type", "missing (uniform or zipf)"});
    return;
  }
  auto name = read_string(*type, path + ".type", out);
  if (!name)
    return;
  auto exponent = value.find("exponent");
  if (*name == "uniform") {
    out_dist = {};
    if (exponent != value.end())
      out.push_back({path + ".exponent", "only a zipf distribution has an exponent"});
  } else if (*name == "zipf") {
    out_dist.kind = distribution_kind::zipf;
    if (exponent == value.end()) {
      out.push_back({path + ".exponent", "missing (zipf needs an exponent > 0, e.g. 1.1)"});
    } else if (auto e = read_number(*exponent, path + ".exponent", 0, false, out)) {
      out_dist.exponent = *e;
    }
  } else {
    out.push_back({path + ".type", "unknown distribution \"" + *name + "\" (expected uniform or zipf)"});
  }
}

void read_mix(const ordered_json& value, const std::string& path, std::array<double, 4>& mix,
              problem_list& out) {
  if (!value.is_object()) {
    out.push_back({path, expected("an object of weights (ping, find, insert, update)", value)});
    return;
  }
  check_keys(value, path, {"ping", "find", "insert", "update"}, out);
  mix = {0, 0, 0, 0};
  bool readable = true;
  for (auto op : all_operations) {
    auto i = value.find(to_string(op));
    if (i == value.end())
      continue;
    if (auto weight = read_number(*i, path + "." + to_string(op), 0, true, out))
      mix[static_cast<size_t>(op)] = *weight;
    else
      readable = false;
  }
  double sum = 0;
  for (double weight : mix)
    sum += weight;
  if (readable && sum <= 0)
    out.push_back({path, "empty mix: at least one of ping, find, insert, update needs a weight > 0"});
}

phase read_phase(const ordered_json& value, const std::string& path, problem_list& out) {
  phase p;
  if (!value.is_object()) {
    out.push_back({path, expected("an object", value)});
    return p;
  }
  check_keys(value, path,
             {"name", "duration_s", "tenants", "distribution", "concurrency", "rate", "mix",
              "think_ms"},
             out);
  auto field = [&](const char* key) -> const ordered_json* {
    auto i = value.find(key);
    return i == value.end() ? nullptr : &*i;
  };
  auto missing = [&](const char* key, const char* why) {
    out.push_back({path + "." + key, std::string{"missing ("} + why + ")"});
  };
  if (auto v = field("name")) {
    if (auto name = read_string(*v, path + ".name", out)) {
      if (name->empty())
        out.push_back({path + ".name", "must not be empty"});
      p.name = *name;
    }
  } else {
    missing("name", "every phase is named in the report");
  }
  if (auto v = field("duration_s")) {
    if (auto d = read_number(*v, path + ".duration_s", 0, false, out))
      p.duration_s = *d;
  } else {
    missing("duration_s", "seconds the phase lasts");
  }
  bool concurrency_known = false;
  if (auto v = field("concurrency")) {
    if (auto c = read_count(*v, path + ".concurrency", max_concurrency, out)) {
      p.concurrency = *c;
      concurrency_known = true;
    }
  } else {
    missing("concurrency", "worker threads; 0 for an idle phase");
  }
  bool active = concurrency_known && p.concurrency > 0;
  if (auto v = field("tenants")) {
    if (auto t = read_count(*v, path + ".tenants", max_tenants, out)) {
      p.tenants = *t;
      if (active && p.tenants == 0)
        out.push_back({path + ".tenants", "must be at least 1 when concurrency > 0"});
    }
  } else if (active) {
    missing("tenants", "how many distinct tenant ids the phase uses");
  }
  if (auto v = field("distribution"))
    read_distribution(*v, path + ".distribution", p.tenant_distribution, out);
  if (auto v = field("rate")) {
    if (auto r = read_number(*v, path + ".rate", 0, true, out))
      p.rate = *r;
  }
  if (auto v = field("mix")) {
    read_mix(*v, path + ".mix", p.mix, out);
  } else if (active) {
    missing("mix", "weights of ping, find, insert, update");
  }
  if (auto v = field("think_ms")) {
    if (auto t = read_number(*v, path + ".think_ms", 0, true, out))
      p.think_ms = *t;
  }
  if (concurrency_known && p.concurrency == 0) {
    if (p.rate > 0)
      out.push_back({path + ".rate", "an idle phase (concurrency 0) sends nothing: rate must be 0"});
  }
  return p;
}

void read_tenantrt(const ordered_json& value, const std::string& base_dir, scenario& s,
                   problem_list& out) {
  auto no_environment = [](const char*) -> std::optional<std::string> { return std::nullopt; };
  std::string text;
  std::string where;
  if (value.is_object()) {
    text = value.dump();
    s.tenantrt_source = "inline";
  } else if (value.is_string()) {
    std::filesystem::path file{value.get<std::string>()};
    if (file.is_relative())
      file = std::filesystem::path{base_dir} / file;
    std::ifstream in{file};
    if (!in) {
      out.push_back({"tenantrt", "cannot read the config file " + file.string()});
      return;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    s.tenantrt_source = file.string();
    where = " (in " + file.string() + ")";
  } else {
    out.push_back({"tenantrt", expected("a tenantrt config object or a path to one", value)});
    return;
  }
  try {
    s.tenantrt = parse_config(text, no_environment);
  } catch (const config_error& e) {
    for (const auto& p : e.problems())
      out.push_back({p.path.empty() ? "tenantrt" : "tenantrt." + p.path, p.reason + where});
  }
}

bool is_id_text(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
  });
}

std::string joined(const std::vector<scenario_problem>& problems, const std::string& source) {
  std::string text;
  for (const auto& p : problems) {
    if (!text.empty())
      text += "\n";
    text += (source.empty() ? "" : source + ": ") + (p.path.empty() ? "" : p.path + ": ")
            + p.reason;
  }
  return text;
}

} // namespace

const char* to_string(operation op) noexcept {
  switch (op) {
    case operation::ping: return "ping";
    case operation::find: return "find";
    case operation::insert: return "insert";
    case operation::update: return "update";
  }
  return "?";
}

scenario_error::scenario_error(std::vector<scenario_problem> problems, const std::string& source) :
  std::runtime_error(joined(problems, source)),
  problems_(std::move(problems)) {}

runtime_config default_tenantrt_config() {
  runtime_config cfg;
  auto& pool = cfg.clusters.at("default").pool;
  pool.max_pool_size = 10;
  pool.min_pool_size = 2;
  pool.max_idle_time_ms = 10000;
  pool.server_selection_timeout_ms = 5000;
  pool.connect_timeout_ms = 5000;
  pool.socket_timeout_ms = 30000;
  cfg.registry.max_tenant_connections = 50;
  cfg.registry.idle_timeout_ms = 10000;
  cfg.registry.cleanup_interval_ms = 2000;
  cfg.metrics.http_listen.clear();
  cfg.logging.level = "warn";
  return cfg;
}

scenario parse_scenario(const std::string& json_text, const std::string& base_dir,
                        const std::string& default_name) {
  problem_list out;
  ordered_json doc;
  try {
    doc = ordered_json::parse(json_text);
  } catch (const ordered_json::parse_error& e) {
    throw scenario_error({{"", std::string{"malformed JSON: "} + e.what()}}, "");
  }
  scenario s;
  s.name = default_name;
  s.tenantrt = default_tenantrt_config();
  if (!doc.is_object())
    throw scenario_error({{"", expected("a JSON object with \"phases\"", doc)}}, "");
  check_keys(doc, "", {"name", "description", "tenant_prefix", "tenantrt", "phases"}, out);
  if (auto i = doc.find("name"); i != doc.end()) {
    if (auto name = read_string(*i, "name", out)) {
      if (name->empty() || !is_id_text(*name))
        out.push_back({"name", "must be 1 or more characters from A-Z a-z 0-9 _ -"});
      else
        s.name = *name;
    }
  }
  if (auto i = doc.find("description"); i != doc.end())
    if (auto text = read_string(*i, "description", out))
      s.description = *text;
  if (auto i = doc.find("tenant_prefix"); i != doc.end()) {
    if (auto prefix = read_string(*i, "tenant_prefix", out)) {
      if (prefix->empty() || prefix->size() > max_prefix_length || !is_id_text(*prefix))
        out.push_back({"tenant_prefix", "must be 1 to 32 characters from A-Z a-z 0-9 _ -"});
      else
        s.tenant_prefix = *prefix;
    }
  }
  if (auto i = doc.find("tenantrt"); i != doc.end())
    read_tenantrt(*i, base_dir, s, out);
  auto phases = doc.find("phases");
  if (phases == doc.end()) {
    out.push_back({"phases", "missing (a non-empty array of phases)"});
  } else if (!phases->is_array()) {
    out.push_back({"phases", expected("an array of phases", *phases)});
  } else if (phases->empty()) {
    out.push_back({"phases", "must hold at least one phase"});
  } else {
    std::set<std::string> names;
    for (size_t k = 0; k < phases->size(); ++k) {
      auto path = "phases[" + std::to_string(k) + "]";
      auto p = read_phase((*phases)[k], path, out);
      if (!p.name.empty() && !names.insert(p.name).second)
        out.push_back({path + ".name", "duplicate phase name \"" + p.name + "\""});
      s.phases.push_back(std::move(p));
    }
    bool any_load = std::any_of(s.phases.begin(), s.phases.end(),
                                [](const phase& p) { return !p.idle(); });
    if (!any_load && out.empty())
      out.push_back({"phases", "every phase is idle (concurrency 0): nothing would be measured"});
  }
  if (!out.empty())
    throw scenario_error(std::move(out), "");
  return s;
}

scenario load_scenario(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw scenario_error({{"", "cannot read the scenario file"}}, path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::filesystem::path file{path};
  try {
    return parse_scenario(buffer.str(), file.parent_path().empty() ? "." : file.parent_path().string(),
                          file.stem().string());
  } catch (const scenario_error& e) {
    throw scenario_error(e.problems(), path);
  }
}

void scale_durations(scenario& s, double factor) {
  for (auto& p : s.phases)
    p.duration_s *= factor;
}

} // namespace tenantrt::load
