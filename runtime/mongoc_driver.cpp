// mongo-c-driver's initialisation, log forwarding, bson as JSON text and the client URI.
#include "runtime/mongoc_driver.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>

#include "runtime/logging.hpp"

namespace tenantrt {

// --- driver initialisation --------------------------------------------------

namespace {

void forward_driver_log(mongoc_log_level_t level, const char* domain, const char* message,
                        void* /*user_data*/) {
  // Driver messages name hosts, never credentials.
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      log().error("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      log().warn("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
      log().debug("mongoc [{}]: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_DEBUG:
    case MONGOC_LOG_LEVEL_TRACE:
      log().trace("mongoc [{}]: {}", domain, message);
      break;
  }
}

} // namespace

void ensure_mongoc_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(forward_driver_log, nullptr);
  });
}

// --- handles and documents ----------------------------------------------------

std::string to_relaxed_json(const bson_t* doc) {
  size_t length = 0;
  char* text = bson_as_relaxed_extended_json(doc, &length);
  if (text == nullptr)
    return "{}";
  std::string result{text, length};
  bson_free(text);
  return result;
}

namespace {

int32_t as_int32(uint32_t value) {
  return static_cast<int32_t>(std::min<uint32_t>(value, std::numeric_limits<int32_t>::max()));
}

} // namespace

shared_uri client_uri(const mongoc_uri_t* base, const pool_settings& settings) {
  mongoc_uri_t* u = mongoc_uri_copy(base);
  mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS, as_int32(settings.socket_timeout_ms));
  mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                 as_int32(settings.server_selection_timeout_ms));
  // A single-threaded client's first scan waits up to connectTimeoutMS for a
  // server that accepts but never answers (measured: 4 s with
  // serverSelectionTimeoutMS=1000), so cap it by the selection timeout: every
  // error then comes within server_selection_timeout_ms.
  mongoc_uri_set_option_as_int32(
    u, MONGOC_URI_CONNECTTIMEOUTMS,
    as_int32(std::min(settings.connect_timeout_ms, settings.server_selection_timeout_ms)));
  // serverSelectionTryOnce=false (single-threaded default: true). With true, a
  // client that saw the server down fails at once and then refuses to rescan
  // for 5 s ("No servers yet eligible for rescan"), even after the server is
  // back. With false it rescans every 500 ms up to serverSelectionTimeoutMS:
  // a restart shorter than the timeout is ridden over, the first command
  // after it succeeds (measured), and errors still come within the timeout.
  mongoc_uri_set_option_as_bool(u, MONGOC_URI_SERVERSELECTIONTRYONCE, false);
  if (mongoc_uri_get_appname(u) == nullptr)
    mongoc_uri_set_appname(u, "tenantrt");
  return shared_uri{u, [](const mongoc_uri_t* doomed) {
                      mongoc_uri_destroy(const_cast<mongoc_uri_t*>(doomed));
                    }};
}

client_ptr make_client(const mongoc_uri_t* uri) {
  client_ptr client{mongoc_client_new_from_uri(uri)};
  if (client)
    mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  return client;
}

bool ping_client(mongoc_client_t* client, bson_error_t* error) {
  owned_bson ping;
  BSON_APPEND_INT32(ping.get(), "ping", 1);
  owned_bson reply;
  return mongoc_client_command_simple(client, "admin", ping.get(), nullptr, reply.get(), error);
}

} // namespace tenantrt
