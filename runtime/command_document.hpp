#pragma once
// Turns a command given as nlohmann JSON into the JSON text the driver
// parses. MongoDB reads the FIRST key of a command document as the command
// name, but nlohmann::json keeps keys sorted, so {"find":"orders","filter":{}}
// would arrive as {"filter":{},"find":"orders"}. ordered_json keeps the
// caller's order; plain json gets its command-name key moved to the front.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tenantrt {

/// The text of a command document, or why it is not one.
struct command_text_result {
  std::optional<std::string> text;
  std::string error;
};

/// Key order kept as given.
command_text_result command_text(const nlohmann::ordered_json& command);

/// Key order of std::map: the key naming a known MongoDB command goes first.
command_text_result command_text(const nlohmann::json& command);

/// Whether name is a MongoDB command this runtime recognises for reordering.
bool is_known_command_name(const std::string& name);

} // namespace tenantrt
