// Fuzzes the configuration loader (config/config_loader.hpp): parse_config
// on arbitrary text, with or without environment overrides.
//
// Invariants checked (a violation aborts, which libFuzzer reports):
// - parse_config returns a config or throws config_error with at least one
//   problem, each with a reason; never another exception;
// - a config that parses validates (validate() finds nothing);
// - to_json with redaction shows no password and no token: "***" stands in
//   for control.token, each cluster URI's password is "***", and the
//   secrets injected through the environment appear nowhere;
// - problems never quote a secret: a URI password or token that occurs once
//   in the text, or the environment's, appears in no reason, path or what()
//   unless it is a piece of the fixed wording (it stays when the secret is
//   replaced by another value of its length);
// - the configuration round-trips: to_json(reveal_secrets) parses to the
//   same effective configuration.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view env_password = "envPassw0rdQ7";
constexpr std::string_view env_token = "envTok3nZ9x";
const std::string env_uri = "mongodb://envuser:" + std::string{env_password} + "@127.0.0.1:27017/";

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// The password in a mongodb:// URI's userinfo, or empty.
std::string uri_password(std::string_view uri) {
  auto scheme = uri.find("://");
  if (scheme == std::string_view::npos)
    return {};
  auto rest = uri.substr(scheme + 3);
  auto at = rest.substr(0, rest.find_first_of("/?")).rfind('@');
  if (at == std::string_view::npos)
    return {};
  auto userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string{} : std::string{userinfo.substr(colon + 1)};
}

size_t occurrences(std::string_view text, std::string_view needle) {
  size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

/// Secrets the text sets that are long and unique enough to search for: a
/// secret that also occurs elsewhere in the text, in the defaults or in the
/// environment's values may legitimately be shown there.
std::vector<std::string> secrets_in(const std::string& text) {
  static const std::string defaults
    = tenantrt::to_json(tenantrt::runtime_config{}).dump() + env_uri + std::string{env_token};
  std::vector<std::string> out;
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return out;
  auto keep = [&](std::string secret) {
    if (secret.size() >= 6 && occurrences(text, secret) == 1
        && defaults.find(secret) == std::string::npos)
      out.push_back(std::move(secret));
  };
  if (auto c = doc.find("control"); c != doc.end() && c->is_object())
    if (auto t = c->find("token"); t != c->end() && t->is_string())
      keep(t->get<std::string>());
  if (auto cs = doc.find("clusters"); cs != doc.end() && cs->is_object())
    for (auto& cluster : *cs)
      if (cluster.is_object())
        if (auto u = cluster.find("uri"); u != cluster.end() && u->is_string())
          keep(uri_password(u->get_ref<const std::string&>()));
  return out;
}

/// text with each occurrence of secret replaced by as many 'Q's.
std::string masked(std::string text, std::string_view secret) {
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 1))
    text.replace(at, secret.size(), std::string(secret.size(), 'Q'));
  return text;
}

/// Whether the error shows secret in a reason, a path or its message.
bool quotes(const tenantrt::config_error& error, std::string_view secret) {
  if (std::string_view{error.what()}.find(secret) != std::string_view::npos)
    return true;
  for (const auto& problem : error.problems())
    if (problem.reason.find(secret) != std::string::npos
        || problem.path.find(secret) != std::string::npos)
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input{data, size};
  bool with_environment = input.ConsumeBool();
  auto text = input.ConsumeRemainingBytesAsString();
  tenantrt::environment_lookup env = [&](const char* name) -> std::optional<std::string> {
    if (!with_environment)
      return std::nullopt;
    if (std::string_view{name} == "MONGODB_URI")
      return env_uri;
    if (std::string_view{name} == "TENANTRT_CONTROL_TOKEN")
      return std::string{env_token};
    return std::nullopt;
  };

  std::vector<std::string> secrets = secrets_in(text);
  if (with_environment)
    for (auto secret : {env_password, env_token})
      if (text.find(secret) == std::string::npos)
        secrets.emplace_back(secret);

  std::optional<tenantrt::runtime_config> cfg;
  try {
    cfg = tenantrt::parse_config(text, env);
  } catch (const tenantrt::config_error& e) {
    require(!e.problems().empty(), "config_error carries a problem");
    for (const auto& problem : e.problems())
      require(!problem.reason.empty(), "every problem has a reason");
    for (const auto& secret : secrets) {
      if (!quotes(e, secret))
        continue;
      // The secret may be a piece of a fixed message (a token "t configured "
      // is in "... is not configured ...", a password "CONTROL_T" in the
      // name TENANTRT_CONTROL_TOKEN): it leaked only if it is gone once the
      // input carries another value of the same length in its place.
      auto masked_text = masked(text, secret);
      tenantrt::environment_lookup masked_env = [&](const char* name) {
        auto value = env(name);
        return value ? std::optional<std::string>{masked(*value, secret)} : value;
      };
      bool still_there = false;
      try {
        tenantrt::parse_config(masked_text, masked_env);
      } catch (const tenantrt::config_error& again) {
        still_there = quotes(again, secret);
      }
      require(still_there, "no secret in a problem's reason or path, nor in what()");
    }
    return 0;
  }

  require(tenantrt::validate(*cfg).empty(), "an accepted config validates");

  auto redacted = tenantrt::to_json(*cfg, tenantrt::redaction::redact_secrets);
  auto shown = redacted.dump(-1, ' ', false, json::error_handler_t::replace);
  require(redacted["control"]["token"] == (cfg->control.token.empty() ? "" : "***"),
          "redacted token is *** when set");
  for (const auto& [name, cluster] : cfg->clusters) {
    auto password = uri_password(cluster.uri);
    if (!password.empty())
      require(uri_password(redacted["clusters"][name]["uri"].get<std::string>()) == "***",
              "redacted uri password is ***");
  }
  for (const auto& secret : secrets)
    require(shown.find(secret) == std::string::npos, "no secret in the redacted config");

  // Round trip through the file layout, secrets included.
  auto revealed = tenantrt::to_json(*cfg, tenantrt::redaction::reveal_secrets);
  auto written = revealed.dump(-1, ' ', false, json::error_handler_t::strict);
  tenantrt::runtime_config again;
  try {
    again = tenantrt::parse_config(written, env);
  } catch (const tenantrt::config_error& e) {
    std::fprintf(stderr, "%s\n%s\n", e.what(), written.c_str());
    require(false, "to_json(reveal_secrets) parses again");
  }
  require(tenantrt::to_json(again, tenantrt::redaction::reveal_secrets) == revealed,
          "round trip keeps the configuration");
  return 0;
}
