#include "config/uri.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace tenantrt {

namespace {

/// text as a JSON string literal (a URI is shown whole: the host list is what
/// a problem is about), ASCII only, invalid UTF-8 replaced.
std::string uri_quoted(std::string_view text) {
  return nlohmann::json(std::string{text})
    .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::string percent_decoded(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string lower_case(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return text;
}

/// Position of the '@' ending the userinfo in what follows "scheme://", or npos.
/// Passwords should be percent-encoded, but an unencoded '/', '?' or '@' in one
/// must not leak either, so the last '@' wins unless it sits in a query value.
std::size_t userinfo_end(std::string_view rest) {
  auto last_at = rest.rfind('@');
  if (last_at == std::string_view::npos)
    return last_at;
  auto separator = rest.find_first_of("/?");
  if (separator == std::string_view::npos || separator > last_at)
    return last_at;
  if (rest.substr(separator, last_at - separator).find('=') == std::string_view::npos)
    return last_at;
  return rest.substr(0, separator).rfind('@');
}

/// authMechanismProperties is NAME:VALUE,...; AWS_SESSION_TOKEN and the like
/// are secrets, so only values known to be harmless are kept.
std::string redact_mechanism_properties(std::string_view value) {
  constexpr std::array<std::string_view, 5> harmless{
    "SERVICE_NAME", "SERVICE_REALM", "SERVICE_HOST", "CANONICALIZE_HOST_NAME", "ENVIRONMENT"};
  std::string out;
  while (true) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    auto colon = item.find(':');
    if (colon == std::string_view::npos)
      out += "***";
    else if (std::find(harmless.begin(), harmless.end(), item.substr(0, colon)) != harmless.end())
      out += item;
    else
      out += std::string{item.substr(0, colon)} + ":***";
    if (comma == std::string_view::npos)
      break;
    out += ',';
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::string redact_query(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    auto end = query.find_first_of("&;");
    auto param = query.substr(0, end);
    auto equals = param.find('=');
    if (equals == std::string_view::npos) {
      out += param;
    } else {
      auto key = lower_case(percent_decoded(param.substr(0, equals)));
      auto value = param.substr(equals + 1);
      out += param.substr(0, equals + 1);
      bool secret = key.find("password") != std::string::npos
                    || key.find("secret") != std::string::npos
                    || key.find("token") != std::string::npos;
      if (secret)
        out += "***";
      else if (key == "authmechanismproperties")
        // Encoded separators could hide a secret from the NAME:VALUE split.
        out
          += value.find('%') == std::string_view::npos ? redact_mechanism_properties(value) : "***";
      else
        out += value;
    }
    if (end == std::string_view::npos)
      break;
    out += query[end];
    query.remove_prefix(end + 1);
  }
  return out;
}

} // namespace

std::string redact_uri(const std::string& uri) {
  std::string_view text = uri;
  auto scheme_end = text.find("://");
  auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::string out{text.substr(0, start)};
  auto rest = text.substr(start);
  if (auto at = userinfo_end(rest); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    auto colon = userinfo.find(':');
    out += colon == std::string_view::npos ? std::string{userinfo}
                                           : std::string{userinfo.substr(0, colon)} + ":***";
    out += '@';
    rest.remove_prefix(at + 1);
  }
  auto query = rest.find('?');
  out += rest.substr(0, query);
  if (query != std::string_view::npos)
    out += "?" + redact_query(rest.substr(query + 1));
  return out;
}

std::optional<std::string> uri_problem(const std::string& uri) {
  if (uri.empty())
    return std::string{"must not be empty"};
  auto shown = uri_quoted(redact_uri(uri));
  constexpr std::string_view plain = "mongodb://";
  constexpr std::string_view srv = "mongodb+srv://";
  std::string_view rest = uri;
  bool is_srv = false;
  if (rest.substr(0, plain.size()) == plain) {
    rest.remove_prefix(plain.size());
  } else if (rest.substr(0, srv.size()) == srv) {
    rest.remove_prefix(srv.size());
    is_srv = true;
  } else {
    return shown + " must start with mongodb:// or mongodb+srv://";
  }
  if (auto at = userinfo_end(rest); at != std::string_view::npos)
    rest.remove_prefix(at + 1);
  auto hosts = rest.substr(0, rest.find_first_of("/?"));
  if (hosts.empty())
    return shown + " names no host";
  std::string_view remaining = hosts;
  while (true) {
    auto comma = remaining.find(',');
    if (remaining.substr(0, comma).empty())
      return shown + " has an empty entry in its host list";
    if (comma == std::string_view::npos)
      break;
    remaining.remove_prefix(comma + 1);
  }
  if (is_srv && hosts.find(',') != std::string_view::npos)
    return shown + ": mongodb+srv:// takes exactly one host name";
  if (is_srv && hosts.find(':') != std::string_view::npos)
    return shown + ": mongodb+srv:// host names carry no port";
  return std::nullopt;
}

std::string uri_password(const std::string& uri) {
  std::string_view text = uri;
  auto scheme_end = text.find("://");
  auto rest = text.substr(scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
  auto at = userinfo_end(rest);
  if (at == std::string_view::npos)
    return {};
  auto userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string{} : std::string{userinfo.substr(colon + 1)};
}

std::string scrub_secret(std::string text, const std::string& secret) {
  if (secret.empty())
    return text;
  for (auto pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos + 3))
    text.replace(pos, secret.size(), "***");
  return text;
}

std::string scrub_password(const std::string& text, const std::string& uri) {
  auto as_written = uri_password(uri);
  return scrub_secret(scrub_secret(text, percent_decoded(as_written)), as_written);
}

} // namespace tenantrt
