#pragma once
// Tenant-id and database-name rules, and the one quoting of untrusted text:
// what the config loader checks in database_template, main_database and
// routing, and what tenant_naming (runtime/) checks in every tenant id.
//
// Rules: a tenant id matches [A-Za-z0-9_-]{1,64}; its database is
// database_template with {id} replaced, and must be a valid MongoDB database
// name (1..63 bytes, none of / \ . space " $ * < > : | ? NUL) that is not
// reserved in any letter case. The 63-byte limit means a template's fixed
// part shortens the longest usable id: "tenant_{id}" leaves 56 characters.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tenantrt {

/// Longest tenant id accepted whatever the template.
inline constexpr std::size_t max_tenant_id_length = 64;

/// Longest MongoDB database name, in bytes.
inline constexpr std::size_t max_database_name_length = 63;

/// nullopt when id matches [A-Za-z0-9_-]{1,64}; otherwise why not (quotes the
/// id printably, control and non-ASCII bytes escaped, long input truncated,
/// and names the rule broken).
std::optional<std::string> tenant_id_problem(std::string_view id);

/// nullopt when name is a usable tenant database name (valid MongoDB database
/// name, not admin/local/config in any letter case); otherwise why not.
std::optional<std::string> database_name_problem(std::string_view name);

/// database_template with every {id} replaced by tenant_id; checks nothing.
std::string database_name_for(std::string_view database_template, std::string_view tenant_id);

/// text in double quotes, safe for a log line or an error reply: control and
/// non-ASCII bytes as \xNN, input past 64 bytes cut (the byte count is added
/// so the cut is visible). Every message that quotes untrusted text uses it.
std::string printable_quoted(std::string_view text);

} // namespace tenantrt
