#pragma once
// MongoDB connection strings, read as text: their shape checked, their
// secrets redacted for display and scrubbed from messages. The one home of
// URI handling: the config loader checks and writes URIs with it, the pool
// shows and scrubs them with it. Text only, so it works on URIs the driver
// rejects.

#include <optional>
#include <string>

namespace tenantrt {

/// uri with its password and password-like query values replaced by "***",
/// e.g. "mongodb://user:***@host/?authSource=admin". Safe on malformed input.
std::string redact_uri(const std::string& uri);

/// Why uri is not a usable MongoDB connection string, if it is not. Only the
/// shape is checked (scheme, hosts); the message shows the URI redacted.
std::optional<std::string> uri_problem(const std::string& uri);

/// The password as written in uri (maybe percent-encoded); empty if none. The
/// userinfo ends at the last '@' that is not inside a query value, so an
/// unencoded '/', '?' or '@' in a password does not cut it short.
std::string uri_password(const std::string& uri);

/// text with every occurrence of secret replaced by "***" (no-op when empty).
std::string scrub_secret(std::string text, const std::string& secret);

/// text with uri's password replaced by "***", both as written and
/// percent-decoded: for driver messages that may quote the URI.
std::string scrub_password(const std::string& text, const std::string& uri);

} // namespace tenantrt
