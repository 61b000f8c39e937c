#include "runtime/command_document.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace tenantrt {

namespace {

// Database commands a service sends through a tenant (sorted for lookup).
constexpr std::string_view known_commands[] = {
  "abortTransaction", "aggregate",      "buildInfo",     "bulkWrite",
  "collMod",          "collStats",      "commitTransaction", "count",
  "create",           "createIndexes",  "dbStats",       "delete",
  "distinct",         "drop",           "dropDatabase",  "dropIndexes",
  "endSessions",      "explain",        "find",          "findAndModify",
  "getMore",          "hello",          "insert",        "isMaster",
  "killCursors",      "listCollections", "listDatabases", "listIndexes",
  "mapReduce",        "ping",           "reIndex",       "renameCollection",
  "serverStatus",     "startSession",   "update",        "validate",
  "configureFailPoint", "connectionStatus", "currentOp",  "getLastError",
  "getParameter",     "hostInfo",       "ismaster",      "killOp",
};

/// The driver sends a command to the "$db" its body names, if it names one,
/// instead of the database it was asked to use (mongoc_cmd_parts_assemble):
/// a tenant's command could run on admin or another tenant's database. A
/// key is cut at a NUL byte on its way into BSON, so "$db\u0000x" counts too.
template <class Json>
std::optional<std::string> object_problem(const Json& command) {
  if (!command.is_object())
    return std::string{"a command must be a JSON object such as {\"ping\": 1}"};
  if (command.empty())
    return std::string{"a command must not be empty: its first key names the command"};
  for (auto& [key, value] : command.items())
    if (std::string_view{key}.substr(0, key.find('\0')) == "$db")
      return std::string{"a command must not carry \"$db\": it runs on the database it is "
                         "given (the tenant's), never on one it names"};
  return std::nullopt;
}

} // namespace

bool is_known_command_name(const std::string& name) {
  return std::find(std::begin(known_commands), std::end(known_commands), name)
         != std::end(known_commands);
}

command_text_result command_text(const nlohmann::ordered_json& command) {
  if (auto problem = object_problem(command))
    return {std::nullopt, *problem};
  return {command.dump(), {}};
}

command_text_result command_text(const nlohmann::json& command) {
  if (auto problem = object_problem(command))
    return {std::nullopt, *problem};
  std::string name;
  for (auto& [key, value] : command.items())
    if (is_known_command_name(key)) {
      if (!name.empty())
        return {std::nullopt, "the command names both '" + name + "' and '" + key
                                + "'; pass nlohmann::ordered_json to fix the order"};
      name = key;
    }
  if (name.empty()) {
    if (command.size() == 1)
      return {command.dump(), {}};
    return {std::nullopt, "no known command name among the keys; pass nlohmann::ordered_json "
                          "with the command name first"};
  }
  nlohmann::ordered_json ordered;
  ordered[name] = command.at(name);
  for (auto& [key, value] : command.items())
    if (key != name)
      ordered[key] = value;
  return {ordered.dump(), {}};
}

} // namespace tenantrt
