#include "config/json_io.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>

#include "config/uri.hpp"

namespace tenantrt {

using nlohmann::ordered_json;

namespace {

// -- paths ----------------------------------------------------------------------

/// key as a JSON string literal for a path's brackets (parent["a.b"]): ASCII
/// only, invalid UTF-8 replaced. Path syntax, not a quote of a value: problems
/// quote values with printable_quoted() (config/names.hpp).
std::string path_quoted(std::string_view key) {
  return ordered_json(std::string{key})
    .dump(-1, ' ', true, ordered_json::error_handler_t::replace);
}

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
  });
}

} // namespace

std::string join_path(const std::string& parent, std::string_view key) {
  if (!is_plain_key(key))
    return parent + "[" + path_quoted(key) + "]";
  return parent.empty() ? std::string{key} : parent + "." + std::string{key};
}

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

// -- reading --------------------------------------------------------------------

namespace {

std::string expected(std::string_view what, const ordered_json& value) {
  return "expected " + std::string{what} + ", got " + describe_type(value);
}

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

} // namespace

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

void read_config(const ordered_json& document, runtime_config& cfg, problem_list& out) {
  read_value(document, "", cfg, out);
}

// -- environment overrides ------------------------------------------------------

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

namespace {

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

} // namespace

ordered_json to_json(const runtime_config& cfg, redaction mode) {
  auto out = ordered_json::object();
  json_writer writer{out, mode};
  visit_fields(writer, cfg);
  return out;
}

} // namespace tenantrt
