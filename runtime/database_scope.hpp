#pragma once
// Keeps a tenant's command inside the tenant's database. The driver runs a
// command on the database it is given, but some stages and options name
// another one themselves: an aggregation's $out {db}, $merge {into: {db}},
// $lookup / $graphLookup {from: {db}}, $unionWith {coll: {db}}, and
// mapReduce's out {db}. Tenants share the server, so such a command could
// read or write another tenant's data (or admin's); it is refused before it
// takes a connection. Naming the tenant's own database is allowed.

#include <optional>
#include <string>

#include <bson/bson.h>

namespace tenantrt {

/// Why command would reach a database other than database, or nullopt.
/// Looks through the whole document (nested pipelines, explain, facets).
std::optional<std::string> foreign_database_problem(const bson_t* command,
                                                    const std::string& database);

} // namespace tenantrt
