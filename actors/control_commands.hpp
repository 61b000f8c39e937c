#pragma once
// The control socket's commands: one handler per command, looked up in a table.
//
// Talked to by: the broker (actors/control_server.cpp), which hands over each
// request that passed parsing, the token, the drain and the exec policy, and
// forwards the answers of config and reload jobs. Each handler asks the
// registry or the metrics actor (timed requests), runs the fast path of exec,
// or runs config/reload on the executor, and settles the request exactly once
// through the broker's reply path (actors/control_server_private.hpp).
//
//   request --dispatch--> serve_<cmd> --request(...).then--> registry / metrics
//                                    \--run_active / run_blocking--> executor
//                                                      --ctl_line / ctl_job--> broker

#include <cstdint>
#include <string>

#include "actors/control_protocol.hpp"
#include "actors/control_server_private.hpp"

namespace tenantrt {

/// Runs one validated request of client: answers overloaded at once when the
/// client has max_inflight_per_client requests in flight, else counts it in
/// flight and hands it to its command's handler.
void dispatch(control_broker* self, connection_handle hdl, control_client& client,
              control::request req);

/// A config or reload job ended on the executor (ctl_job_atom): text is the
/// hook's answer as JSON text when ok, else the failure's message. A job that
/// timed out already is ignored.
void finish_job(control_broker* self, uint64_t job, bool ok, const std::string& text);

/// A config or reload job has run for request_timeout (ctl_job_timeout_atom):
/// its client gets timeout now; the job's later answer is ignored.
void expire_job(control_broker* self, uint64_t job);

} // namespace tenantrt
