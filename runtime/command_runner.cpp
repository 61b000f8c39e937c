// The driver boundary: parse a command, run it on a leased client, map its errors, retry reads.
#include "runtime/command_runner.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <utility>

#include <mongoc/mongoc.h>

#include "runtime/database_scope.hpp"
#include "runtime/logging.hpp"
#include "runtime/mongoc_driver.hpp"

namespace tenantrt {

namespace {

// --- parsing ------------------------------------------------------------------

/// A command parsed from JSON text, or why it could not be.
struct parsed_command {
  owned_bson document;
  std::string name;
  std::string error; // empty when parsed
};

/// Parses command_json for database; out.error says why it will not run there.
void parse_command(const std::string& command_json, parsed_command& out,
                   const std::string& database) {
  auto first = command_json.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || command_json[first] != '{') {
    out.error = "the command must be a JSON object, e.g. {\"ping\": 1}";
    return;
  }
  bson_error_t error;
  // bson_init_from_json wants an uninitialised bson_t; owned_bson holds an
  // empty initialised one, which needs no destroy before re-initialising
  // (an empty inline bson_t owns no memory).
  if (!bson_init_from_json(out.document.get(), command_json.data(),
                           static_cast<ssize_t>(command_json.size()), &error)) {
    bson_init(out.document.get()); // keep the owner's invariant
    out.error = std::string{"invalid JSON / extended JSON: "} + error.message;
    return;
  }
  bson_iter_t iter;
  if (!bson_iter_init(&iter, out.document.get()) || !bson_iter_next(&iter)) {
    out.error = "empty command document";
    return;
  }
  out.name = bson_iter_key(&iter);
  if (out.name.empty() || out.name[0] == '$') {
    // e.g. {"$numberLong": 5}: an extended JSON value, not a command.
    out.error = "the first key must be a command name, not '" + out.name + "'";
    return;
  }
  // The driver sends a command to the database its "$db" key names, not to
  // the one we pass: a tenant could reach admin. The control socket and the
  // facade refuse it earlier; this covers CAF callers sending raw text.
  while (bson_iter_next(&iter)) {
    if (std::string_view{bson_iter_key(&iter)} == "$db") {
      out.error = "a command must not name its database with \"$db\"; the tenant's "
                  "database is used";
      return;
    }
  }
  if (auto problem = foreign_database_problem(out.document.get(), database))
    out.error = std::move(*problem);
}

/// Read-only commands that may run twice without harm (the retryable reads
/// of MongoDB's driver spec plus diagnostics); aggregate only without an
/// $out / $merge stage.
bool is_retryable_read(const parsed_command& command) {
  static const char* const reads[] = {
    "find", "count", "distinct", "listCollections", "listIndexes", "listDatabases",
    "ping", "hello", "isMaster", "ismaster", "buildInfo", "buildinfo", "serverStatus",
    "dbStats", "collStats", "connectionStatus",
  };
  for (const char* name : reads)
    if (command.name == name)
      return true;
  if (command.name != "aggregate")
    return false;
  bson_iter_t pipeline;
  bson_iter_t stage;
  if (!bson_iter_init_find(&pipeline, command.document.get(), "pipeline")
      || !BSON_ITER_HOLDS_ARRAY(&pipeline) || !bson_iter_recurse(&pipeline, &stage))
    return false;
  while (bson_iter_next(&stage)) {
    bson_iter_t operator_iter;
    if (!BSON_ITER_HOLDS_DOCUMENT(&stage) || !bson_iter_recurse(&stage, &operator_iter)
        || !bson_iter_next(&operator_iter))
      return false;
    std::string op = bson_iter_key(&operator_iter);
    if (op == "$out" || op == "$merge")
      return false;
  }
  return true;
}

// --- running and error mapping -------------------------------------------------

/// Fields of a server error reply.
struct server_error {
  int64_t code = 0;
  std::string code_name;
  std::string errmsg;
};

bool reply_has_ok(const bson_t* reply) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, reply, "ok");
}

server_error read_server_error(const bson_t* reply, const bson_error_t& error) {
  server_error result;
  result.code = error.code;
  result.errmsg = error.message;
  bson_iter_t iter;
  if (bson_iter_init_find(&iter, reply, "code") && BSON_ITER_HOLDS_NUMBER(&iter))
    result.code = bson_iter_as_int64(&iter);
  if (bson_iter_init_find(&iter, reply, "codeName") && BSON_ITER_HOLDS_UTF8(&iter))
    result.code_name = bson_iter_utf8(&iter, nullptr);
  if (bson_iter_init_find(&iter, reply, "errmsg") && BSON_ITER_HOLDS_UTF8(&iter))
    result.errmsg = bson_iter_utf8(&iter, nullptr);
  return result;
}

/// How a command failed on the network; decides whether a read is retried.
enum class network_failure {
  none,        // no network failure
  socket_died, // the connection broke under the command (e.g. server restarted)
  no_server,   // server selection waited and found nothing: really down
};

/// Runs an already parsed command; the heart of run_on_client and
/// run_on_pool. pool names the connection's pool in messages and scrubs its
/// password from them; settings are a copy taken for this command
/// (apply_settings() may run meanwhile).
result send_on_client(client_lease& lease, const std::string& database, const parsed_command& command,
               const cluster_pool& pool, const pool_settings& settings,
               network_failure& failure) {
  failure = network_failure::none;
  result outcome;
  owned_bson reply;
  bson_error_t error;
  auto started = std::chrono::steady_clock::now();
  // command_simple: the document is sent as given (no read preference or
  // concerns added); reply is always initialised, also on failure.
  bool ok = mongoc_client_command_simple(lease.client(), database.c_str(), command.document.get(),
                                         nullptr, reply.get(), &error);
  auto elapsed = std::chrono::steady_clock::now() - started;
  if (ok) {
    outcome.reply_json = to_relaxed_json(reply.get());
    return outcome;
  }
  auto prefix = "pool " + pool.label() + ": ";
  if (reply_has_ok(reply.get())) {
    // The server answered: its error, its reply. The connection is fine.
    auto server = read_server_error(reply.get(), error);
    outcome.code = errc::command_failed;
    outcome.message = "command '" + command.name + "' on '" + database + "' failed with code "
                      + std::to_string(server.code)
                      + (server.code_name.empty() ? "" : " (" + server.code_name + ")") + ": "
                      + pool.scrubbed(server.errmsg);
    outcome.reply_json = to_relaxed_json(reply.get());
    return outcome;
  }
  auto text = pool.scrubbed(error.message);
  switch (error.domain) {
    case MONGOC_ERROR_STREAM: {
      // The driver reports a read timeout and a reset with the same domain,
      // code and text ("socket error or timeout"): tell them apart by time.
      auto timeout = std::chrono::milliseconds{settings.socket_timeout_ms};
      if (settings.socket_timeout_ms > 0 && elapsed >= timeout * 9 / 10) {
        outcome.code = errc::timeout;
        outcome.message = prefix + "no reply within socket_timeout_ms "
                          + std::to_string(settings.socket_timeout_ms) + ": " + text;
      } else {
        outcome.code = errc::server_unreachable;
        outcome.message = prefix + text;
        failure = network_failure::socket_died;
      }
      break;
    }
    case MONGOC_ERROR_SERVER_SELECTION:
      outcome.code = errc::server_unreachable;
      outcome.message = prefix + text;
      failure = network_failure::no_server;
      break;
    case MONGOC_ERROR_PROTOCOL:
      outcome.code = errc::server_unreachable;
      outcome.message = prefix + text;
      failure = network_failure::socket_died;
      break;
    case MONGOC_ERROR_CLIENT:
      if (error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
        // The server refused our credentials: its answer, not a network fault.
        outcome.code = errc::command_failed;
        outcome.message = prefix + "authentication failed: " + text;
      } else if (error.code == MONGOC_ERROR_CLIENT_TOO_BIG) {
        outcome.code = errc::bad_command;
        outcome.message = prefix + text;
      } else {
        outcome.code = errc::internal;
        outcome.message = prefix + text;
      }
      break;
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_BSON:
    case MONGOC_ERROR_NAMESPACE:
      outcome.code = errc::bad_command;
      outcome.message = prefix + text;
      break;
    default:
      outcome.code = errc::internal;
      outcome.message = prefix + "driver error " + std::to_string(error.domain) + "."
                        + std::to_string(error.code) + ": " + text;
      break;
  }
  return outcome;
}

/// After a network fault or timeout the client's socket is gone and a
/// single-threaded client would refuse to rescan for 5 s: start afresh. A
/// new connection that could not reach the server feeds the connect back-off.
void discard_after_error(client_lease& lease, const result& outcome) noexcept {
  if (outcome.code == errc::server_unreachable)
    lease.discard_unreachable(outcome.message);
  else if (outcome.code == errc::timeout)
    lease.discard();
}

} // namespace

// --- entry points -----------------------------------------------------------------

result run_on_client(client_lease& lease, const std::string& database,
                     const std::string& command_json) {
  result outcome;
  auto* owner = lease.pool();
  if (owner == nullptr) {
    outcome.code = errc::internal;
    outcome.message = "run_on_client called with an empty lease";
    return outcome;
  }
  parsed_command command;
  parse_command(command_json, command, database);
  if (!command.error.empty()) {
    outcome.code = errc::bad_command;
    outcome.message = command.error;
    return outcome;
  }
  auto settings = owner->settings(); // a copy: apply_settings() may run meanwhile
  network_failure failure;
  outcome = send_on_client(lease, database, command, *owner, settings, failure);
  discard_after_error(lease, outcome);
  return outcome;
}

result run_on_pool(cluster_pool& pool, const std::string& database,
                   const std::string& command_json) {
  result outcome;
  // Parse first: a malformed command never takes a connection.
  parsed_command command;
  parse_command(command_json, command, database);
  if (!command.error.empty()) {
    outcome.code = errc::bad_command;
    outcome.message = command.error;
    return outcome;
  }
  auto checkout_outcome = pool.checkout();
  if (checkout_outcome.code != errc::none) {
    outcome.code = checkout_outcome.code;
    outcome.message = std::move(checkout_outcome.message);
    return outcome;
  }
  auto settings = pool.settings(); // a copy: apply_settings() may run meanwhile
  bool reused = checkout_outcome.lease.reused();
  network_failure failure;
  outcome = send_on_client(checkout_outcome.lease, database, command, pool, settings, failure);
  discard_after_error(checkout_outcome.lease, outcome);
  if (outcome.code != errc::server_unreachable)
    return outcome;
  // A pooled socket died: the server went away or restarted, every idle
  // socket is dead too. A refused new connection says nothing about them (a
  // server at its connection limit keeps serving the ones it has).
  if (reused)
    pool.clear();
  // Retryable reads (as in the drivers' spec): a pooled socket that died
  // while idle (a restart quicker than the driver's 1 s closed-socket check)
  // fails before the new server saw anything; one retry on a fresh
  // connection hides the restart. Not after a failed server selection (the
  // server is down: retrying would double the wait), never for writes.
  if (!reused || failure != network_failure::socket_died || !is_retryable_read(command))
    return outcome;
  log().debug("pool {}: retrying '{}' once on a fresh connection after: {}", pool.label(),
              command.name, outcome.message);
  auto retry_checkout = pool.checkout();
  if (retry_checkout.code != errc::none)
    return outcome;
  bool retry_reused = retry_checkout.lease.reused();
  outcome = send_on_client(retry_checkout.lease, database, command, pool, settings, failure);
  discard_after_error(retry_checkout.lease, outcome);
  if (outcome.code == errc::server_unreachable && retry_reused)
    pool.clear();
  return outcome;
}

} // namespace tenantrt
