#include "config/names.hpp"

#include <array>
#include <cstdio>

namespace tenantrt {

namespace {

/// Ids come from the network: quote at most this many bytes in a message.
constexpr std::size_t max_quoted_bytes = 64;

constexpr std::string_view id_placeholder = "{id}";

constexpr std::string_view forbidden_database_chars = std::string_view{"/\\. \"$*<>:|?\0", 13};

constexpr std::array<std::string_view, 3> reserved_databases{"admin", "local", "config"};

std::string hex_byte(unsigned char byte) {
  char text[5];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(byte));
  return text;
}

bool is_printable_ascii(unsigned char byte) { return byte >= 0x20 && byte < 0x7f; }

} // namespace

std::string printable_quoted(std::string_view text) {
  std::string out = "\"";
  auto shown = text.substr(0, max_quoted_bytes);
  for (unsigned char byte : shown) {
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (is_printable_ascii(byte)) {
      out += static_cast<char>(byte);
    } else {
      out += "\\x" + hex_byte(byte).substr(2);
    }
  }
  out += '"';
  if (shown.size() < text.size())
    out.insert(out.size() - 1, "...").append(" (" + std::to_string(text.size()) + " bytes)");
  return out;
}

namespace {

/// One character for a message: '.' when printable, else its byte value.
std::string describe_char(unsigned char byte) {
  if (is_printable_ascii(byte))
    return std::string{"'"} + static_cast<char>(byte) + "'";
  std::string kind = byte >= 0x80 ? " (non-ASCII)" : " (control character)";
  return "byte " + hex_byte(byte) + kind;
}

bool is_tenant_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
         || c == '-';
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower
      = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i]))
      return false;
  }
  return true;
}

} // namespace

std::optional<std::string> tenant_id_problem(std::string_view id) {
  const std::string rule = "tenant ids are 1 to 64 characters from A-Z a-z 0-9 _ -";
  if (id.empty())
    return "tenant id \"\" is empty; " + rule;
  for (std::size_t i = 0; i < id.size() && i < max_tenant_id_length; ++i)
    if (!is_tenant_id_char(id[i]))
      return "tenant id " + printable_quoted(id) + " contains "
             + describe_char(static_cast<unsigned char>(id[i])) + " at position "
             + std::to_string(i) + "; " + rule;
  if (id.size() > max_tenant_id_length)
    return "tenant id " + printable_quoted(id) + " is longer than 64 characters; " + rule;
  return std::nullopt;
}

std::optional<std::string> database_name_problem(std::string_view name) {
  if (name.empty())
    return std::string{"database name \"\" is empty"};
  auto bad = name.find_first_of(forbidden_database_chars);
  if (bad != std::string_view::npos)
    return "database name " + printable_quoted(name) + " contains "
           + describe_char(static_cast<unsigned char>(name[bad])) + " at position "
           + std::to_string(bad)
           + "; MongoDB database names cannot contain / \\ . space \" $ * < > : | ? or NUL";
  if (name.size() > max_database_name_length)
    return "database name " + printable_quoted(name) + " is " + std::to_string(name.size())
           + " bytes; MongoDB allows at most " + std::to_string(max_database_name_length);
  for (auto reserved : reserved_databases)
    if (equals_ignoring_case(name, reserved))
      return "database name " + printable_quoted(name) + " is reserved by MongoDB ("
             + std::string{reserved}
             + "); admin, local and config cannot be used in any letter case";
  return std::nullopt;
}

std::string database_name_for(std::string_view database_template, std::string_view tenant_id) {
  std::string out;
  std::string_view rest = database_template;
  for (auto at = rest.find(id_placeholder); at != std::string_view::npos;
       at = rest.find(id_placeholder)) {
    out += rest.substr(0, at);
    out += tenant_id;
    rest.remove_prefix(at + id_placeholder.size());
  }
  out += rest;
  return out;
}

} // namespace tenantrt
