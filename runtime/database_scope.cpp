#include "runtime/database_scope.hpp"

#include <string_view>

namespace tenantrt {

namespace {

/// BSON nests at most 100 levels when parsed from JSON; deeper input is
/// refused rather than walked.
constexpr int max_depth = 200;

/// The "db" named by the document under iter (or under its field `field`
/// when given), if iter holds a document that names one.
std::optional<std::string> named_database(const bson_iter_t* iter, const char* field) {
  if (!BSON_ITER_HOLDS_DOCUMENT(iter))
    return std::nullopt;
  bson_iter_t inner;
  if (!bson_iter_recurse(iter, &inner))
    return std::nullopt;
  if (field != nullptr) {
    bson_iter_t found;
    if (!bson_iter_find_descendant(&inner, field, &found))
      return std::nullopt;
    return named_database(&found, nullptr);
  }
  if (!bson_iter_find(&inner, "db"))
    return std::nullopt;
  // A db that is not a string is refused too: the server would reject it,
  // but it is not ours to pass on.
  return BSON_ITER_HOLDS_UTF8(&inner) ? std::string{bson_iter_utf8(&inner, nullptr)}
                                      : std::string{"(not a string)"};
}

/// Where each stage or option keeps the database it may name.
const char* database_field_of(std::string_view key, bool in_map_reduce) {
  if (key == "$out")
    return ""; // {db, coll} itself
  if (key == "$merge")
    return "into";
  if (key == "$lookup" || key == "$graphLookup")
    return "from";
  if (key == "$unionWith")
    return "coll";
  if (in_map_reduce && key == "out")
    return "";
  return nullptr;
}

std::optional<std::string> walk(const bson_iter_t* document, const std::string& database,
                                int depth) {
  if (depth > max_depth)
    return std::string{"the command nests deeper than " + std::to_string(max_depth) + " levels"};
  bson_iter_t iter = *document;
  bool first = true;
  bool in_map_reduce = false;
  while (bson_iter_next(&iter)) {
    std::string_view key = bson_iter_key(&iter);
    if (first) {
      in_map_reduce = key == "mapReduce" || key == "mapreduce";
      first = false;
    }
    if (const char* field = database_field_of(key, in_map_reduce)) {
      auto named = named_database(&iter, *field == '\0' ? nullptr : field);
      if (named && *named != database)
        return "'" + std::string{key} + "' names database '" + *named
               + "': a tenant's command stays in its own database ('" + database
               + "'); name the collection only";
    }
    if (BSON_ITER_HOLDS_DOCUMENT(&iter) || BSON_ITER_HOLDS_ARRAY(&iter)) {
      bson_iter_t child;
      if (bson_iter_recurse(&iter, &child))
        if (auto problem = walk(&child, database, depth + 1))
          return problem;
    }
  }
  return std::nullopt;
}

} // namespace

std::optional<std::string> foreign_database_problem(const bson_t* command,
                                                    const std::string& database) {
  bson_iter_t iter;
  if (!bson_iter_init(&iter, command))
    return std::nullopt;
  return walk(&iter, database, 0);
}

} // namespace tenantrt
