#pragma once
// mongo-c-driver as runtime/ uses it: init and log, handle owners, bson as JSON, client URIs.
//
// Included by the runtime's .cpp files that call the driver (cluster_pool*,
// client_lease, command_runner) and by tests, never by a public header:
// mongoc is linked PRIVATE into tenantrt_runtime.

#include <memory>
#include <string>

#include <mongoc/mongoc.h>

#include "config/runtime_config.hpp"

namespace tenantrt {

/// Initialises mongo-c-driver once per process (std::call_once around
/// mongoc_init) and routes the driver's log to tenantrt::log(). mongoc_cleanup
/// is deliberately never called: a client destroyed after it (a static, a
/// detached thread) would crash, and the OS reclaims everything at exit.
void ensure_mongoc_initialized();

/// Destroys a client (closes its sockets).
struct client_deleter {
  void operator()(mongoc_client_t* client) const noexcept { mongoc_client_destroy(client); }
};
/// Owns a single-threaded client.
using client_ptr = std::unique_ptr<mongoc_client_t, client_deleter>;

/// Destroys a parsed URI.
struct uri_deleter {
  void operator()(mongoc_uri_t* uri) const noexcept { mongoc_uri_destroy(uri); }
};
/// Owns a parsed URI.
using uri_ptr = std::unique_ptr<mongoc_uri_t, uri_deleter>;
/// Shared: a client being created keeps the URI it started from alive while
/// apply_settings() swaps in a new one.
using shared_uri = std::shared_ptr<const mongoc_uri_t>;

/// A stack bson_t that is always destroyed (bson_destroy on an initialised
/// document is required even when a driver call failed).
class owned_bson {
public:
  owned_bson() { bson_init(&doc_); }
  ~owned_bson() { bson_destroy(&doc_); }
  owned_bson(const owned_bson&) = delete;
  owned_bson& operator=(const owned_bson&) = delete;
  bson_t* get() noexcept { return &doc_; }
  const bson_t* get() const noexcept { return &doc_; }

private:
  bson_t doc_;
};

/// doc as relaxed extended JSON text ("{}" if the driver cannot render it).
std::string to_relaxed_json(const bson_t* doc);

/// base with the settings applied: what every client of the pool connects
/// with. pool_settings are the documented knobs: they win over the same
/// options written into the URI. Sets socketTimeoutMS,
/// serverSelectionTimeoutMS, connectTimeoutMS (capped by the selection
/// timeout), serverSelectionTryOnce=false and appname "tenantrt" unless the
/// URI names one.
shared_uri client_uri(const mongoc_uri_t* base, const pool_settings& settings);

/// A new single-threaded client on uri, with error API version 2; lazy: it
/// connects on first use. Null when the driver refuses to create one.
client_ptr make_client(const mongoc_uri_t* uri);

/// {ping: 1} on admin: opens the socket if needed and proves the server
/// answers (the pool's warm-up and keepalive). False with error set if not.
bool ping_client(mongoc_client_t* client, bson_error_t* error);

} // namespace tenantrt
