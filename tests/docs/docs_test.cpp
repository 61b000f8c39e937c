// The tables in docs/ that repeat the code, checked against it so they
// cannot drift: every configuration key the loader writes (and its default),
// and every error code the control socket can send.
//
// The markdown is read simply: a table is a run of lines starting with '|';
// its first row is the header; a cell's value is the text between its first
// pair of backticks. Only tables whose header's first cell is "key"
// (configuration.md) or "code" (control-protocol.md) are read.

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/control_protocol.hpp"
#include "config/config_loader.hpp"
#include "config/runtime_config.hpp"
#include "runtime/errc.hpp"

namespace {

using nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string source_path(const std::string& relative) {
  return std::string{TENANTRT_SOURCE_DIR} + "/" + relative;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos)
    return {};
  auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

/// The cells of a table line ("| a | b |"); "\|" does not split a cell.
std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) { // line[0] is the leading '|'
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      out.push_back(trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  if (!trim(cell).empty())
    out.push_back(trim(cell)); // a row without the closing '|'
  return out;
}

/// The text between the first pair of backticks, or nullopt.
std::optional<std::string> backticked(const std::string& cell) {
  auto open = cell.find('`');
  if (open == std::string::npos)
    return std::nullopt;
  auto close = cell.find('`', open + 1);
  if (close == std::string::npos)
    return std::nullopt;
  return cell.substr(open + 1, close - open - 1);
}

/// One data row of a table, with the line it came from (for messages).
struct table_row {
  int line = 0;
  std::vector<std::string> cells;
};

/// Data rows of every table in markdown whose header's first cell is header.
std::vector<table_row> rows_of_tables(const std::string& markdown, const std::string& header) {
  std::vector<table_row> out;
  std::istringstream lines{markdown};
  std::string line;
  int number = 0;
  bool in_table = false;
  bool selected = false;
  bool in_fence = false;
  while (std::getline(lines, line)) {
    ++number;
    if (line.rfind("```", 0) == 0)
      in_fence = !in_fence;
    if (in_fence || line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    auto cells = cells_of(line);
    if (!in_table) { // the header row
      in_table = true;
      selected = !cells.empty() && cells[0] == header;
      continue;
    }
    if (!selected || (!cells.empty() && cells[0].rfind("---", 0) == 0))
      continue; // another table, or the separator row
    out.push_back({number, std::move(cells)});
  }
  return out;
}

// --- configuration keys

/// Objects of the configuration whose keys the user chooses (maps), and the
/// placeholder configuration.md writes for such a key.
const std::map<std::string, std::string>& map_placeholders() {
  static const std::map<std::string, std::string> maps{
    {"clusters", "<name>"},
    {"routing.exact", "<tenant>"},
    {"routing.prefix", "<prefix>"},
  };
  return maps;
}

/// Every leaf of the configuration as a JSON path, map keys replaced by their
/// placeholder, with its value (the first one seen under a placeholder).
void flatten(const ordered_json& value, const std::string& path,
             std::map<std::string, ordered_json>& out) {
  if (!value.is_object()) {
    out.emplace(path, value);
    return;
  }
  auto map = map_placeholders().find(path);
  for (auto& [key, child] : value.items()) {
    auto name = map != map_placeholders().end() ? map->second : key;
    flatten(child, path.empty() ? name : path + "." + name, out);
  }
}

std::map<std::string, ordered_json> config_keys(const tenantrt::runtime_config& cfg) {
  std::map<std::string, ordered_json> out;
  flatten(tenantrt::to_json(cfg, tenantrt::redaction::reveal_secrets), "", out);
  return out;
}

/// A configuration with every map non-empty, so that every key shows:
/// config/examples/production.json, read without the process environment.
tenantrt::runtime_config full_config() {
  auto text = read_file(source_path("config/examples/production.json"));
  return tenantrt::parse_config(text, [](const char*) { return std::optional<std::string>{}; });
}

struct documented_key {
  int line = 0;
  /// The default column's backticked JSON, when it has one.
  std::optional<std::string> default_text;
};

std::map<std::string, documented_key> documented_config_keys() {
  std::map<std::string, documented_key> out;
  auto markdown = read_file(source_path("docs/configuration.md"));
  EXPECT_FALSE(markdown.empty()) << "docs/configuration.md is missing or empty";
  for (auto& row : rows_of_tables(markdown, "key")) {
    auto key = row.cells.empty() ? std::nullopt : backticked(row.cells[0]);
    if (!key) {
      ADD_FAILURE() << "docs/configuration.md:" << row.line
                    << ": a key table row whose first cell has no `key`";
      continue;
    }
    // Columns: key | type | default | unit | meaning.
    std::optional<std::string> default_text;
    if (row.cells.size() > 2)
      default_text = backticked(row.cells[2]);
    if (!out.emplace(*key, documented_key{row.line, default_text}).second)
      ADD_FAILURE() << "docs/configuration.md:" << row.line << ": `" << *key
                    << "` is documented twice";
  }
  return out;
}

TEST(ConfigurationDocTest, ExampleConfigHasEveryMap) {
  // Otherwise a key under an empty map would not show and the next test
  // would pass without looking at it.
  auto cfg = full_config();
  EXPECT_FALSE(cfg.clusters.empty());
  EXPECT_FALSE(cfg.routing.exact.empty());
  EXPECT_FALSE(cfg.routing.prefix.empty());
}

TEST(ConfigurationDocTest, DocumentsExactlyTheKeysTheLoaderAccepts) {
  auto known = config_keys(full_config());
  auto documented = documented_config_keys();
  ASSERT_FALSE(known.empty());
  for (auto& [key, value] : known)
    EXPECT_TRUE(documented.count(key))
      << "configuration key `" << key
      << "` (written by to_json) has no row in a key table of docs/configuration.md";
  for (auto& [key, doc] : documented)
    EXPECT_TRUE(known.count(key))
      << "docs/configuration.md:" << doc.line << ": `" << key
      << "` is not a configuration key the loader accepts";
}

TEST(ConfigurationDocTest, DefaultsMatchRuntimeConfig) {
  // The defaults are runtime_config's default member initialisers, as
  // to_json writes them; the built-in cluster stands for clusters.<name>.
  auto defaults = config_keys(tenantrt::runtime_config{});
  auto known = config_keys(full_config());
  for (auto& [key, doc] : documented_config_keys()) {
    if (!known.count(key))
      continue; // an unknown key: DocumentsExactlyTheKeysTheLoaderAccepts names it
    auto expected = defaults.find(key);
    if (expected == defaults.end()) {
      // Only entries of the routing maps have no default.
      EXPECT_FALSE(doc.default_text.has_value())
        << "docs/configuration.md:" << doc.line << ": `" << key
        << "` shows a default, but runtime_config has none";
      continue;
    }
    if (!doc.default_text) {
      ADD_FAILURE() << "docs/configuration.md:" << doc.line << ": `" << key
                    << "` shows no default; runtime_config's is `" << expected->second.dump()
                    << "`";
      continue;
    }
    auto shown = ordered_json::parse(*doc.default_text, nullptr, false);
    EXPECT_EQ(shown, expected->second)
      << "docs/configuration.md:" << doc.line << ": `" << key << "` shows default `"
      << *doc.default_text << "`; runtime_config's is `" << expected->second.dump() << "`";
  }
}

// --- error codes

/// Every code the control socket can send, and the enum it comes from.
std::map<std::string, std::string> wire_error_codes() {
  std::map<std::string, std::string> out;
  for (auto code : tenantrt::all_errcs) {
    // none means success: no reply carries it as an error code.
    if (code == tenantrt::errc::none)
      continue;
    out.emplace(std::string{tenantrt::to_string(code)}, "errc");
  }
  for (auto code : tenantrt::control::all_protocol_errcs)
    out.emplace(std::string{tenantrt::control::to_string(code)}, "protocol_errc");
  return out;
}

TEST(ControlProtocolDocTest, ErrorTableListsExactlyTheWireCodes) {
  auto known = wire_error_codes();
  auto markdown = read_file(source_path("docs/control-protocol.md"));
  ASSERT_FALSE(markdown.empty()) << "docs/control-protocol.md is missing or empty";
  // Columns: code | from | meaning.
  std::map<std::string, table_row> documented;
  for (auto& row : rows_of_tables(markdown, "code")) {
    auto code = row.cells.empty() ? std::nullopt : backticked(row.cells[0]);
    if (!code) {
      ADD_FAILURE() << "docs/control-protocol.md:" << row.line
                    << ": an error table row whose first cell has no `code`";
      continue;
    }
    if (!documented.emplace(*code, row).second)
      ADD_FAILURE() << "docs/control-protocol.md:" << row.line << ": `" << *code
                    << "` is documented twice";
  }
  for (auto& [code, source] : known)
    EXPECT_TRUE(documented.count(code))
      << "error code `" << code << "` (" << source
      << ") has no row in the error table of docs/control-protocol.md";
  for (auto& [code, row] : documented) {
    auto i = known.find(code);
    if (i == known.end()) {
      ADD_FAILURE() << "docs/control-protocol.md:" << row.line << ": `" << code
                    << "` is not a wire string of errc or protocol_errc";
      continue;
    }
    auto from = row.cells.size() > 1 ? backticked(row.cells[1]) : std::nullopt;
    EXPECT_EQ(from.value_or(""), i->second)
      << "docs/control-protocol.md:" << row.line << ": `" << code << "` comes from `"
      << i->second << "`";
  }
}

} // namespace
