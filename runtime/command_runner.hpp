#pragma once
// The driver boundary: a command (JSON text) run on a pooled client, its outcome a result.
//
// Parses the command (JSON text to bson, refusing "$db" and stages that name
// another database), runs it with mongoc_client_command_simple, maps
// bson_error_t and server errors to errc (the one place that does), and
// retries a read once after a pooled socket died. The pool only pools: it
// hands out and takes back leases and knows no command. Called on an
// executor thread by mongo_backend; tests call it directly.

#include <string>

#include "runtime/client_lease.hpp"
#include "runtime/cluster_pool.hpp"
#include "runtime/result.hpp"

namespace tenantrt {

/// The boundary between the driver and the runtime's errors: runs
/// command_json on database with lease's client, once (no retry), and
/// converts the result.
///  - success: errc::none, reply_json = the reply as relaxed extended JSON;
///  - the server answered ok:0: errc::command_failed, message "command
///    '<name>' on '<database>' failed with code <code> (<codeName>):
///    <errmsg>", reply_json = the server's reply;
///  - authentication refused: errc::command_failed;
///  - not a JSON object / not extended JSON / empty: errc::bad_command;
///  - no suitable server, refused, reset, protocol error:
///    errc::server_unreachable (the lease is discarded);
///  - no answer within socket_timeout_ms: errc::timeout (the lease is
///    discarded: the driver closed that socket anyway).
/// Messages name the pool and never contain the URI's password.
result run_on_client(client_lease& lease, const std::string& database,
                     const std::string& command_json);

/// Runs command_json (extended JSON, first key = command name) on database
/// with a connection of pool: check out, run_on_client(), check in. The JSON
/// is parsed before checkout (a bad command takes no connection); a failed
/// checkout's errc and message are the outcome. After a network error the
/// connection is discarded, and the pool cleared when it was a pooled one (a
/// refused new connection feeds the connect back-off instead); a read-only
/// command (find, count, distinct, aggregate without $out/$merge, list*,
/// ping, ...) whose reused socket died under it is retried once on a fresh
/// connection, as the drivers' retryable reads do. Writes are never retried.
/// The outcome's latency is left 0 (the caller measures).
result run_on_pool(cluster_pool& pool, const std::string& database,
                   const std::string& command_json);

} // namespace tenantrt
