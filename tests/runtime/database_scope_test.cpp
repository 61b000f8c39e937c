#include "runtime/database_scope.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

/// Owns a bson_t (whose alignment attribute keeps it out of templates).
struct parsed_bson {
  bson_t doc = BSON_INITIALIZER;
  bool ok = false;
  explicit parsed_bson(const std::string& json) {
    bson_error_t error;
    ok = bson_init_from_json(&doc, json.data(), static_cast<ssize_t>(json.size()), &error);
    EXPECT_TRUE(ok) << error.message << " in " << json;
  }
  ~parsed_bson() { bson_destroy(&doc); }
  parsed_bson(const parsed_bson&) = delete;
  parsed_bson& operator=(const parsed_bson&) = delete;
};

std::optional<std::string> problem(const std::string& json) {
  parsed_bson parsed{json};
  return parsed.ok ? foreign_database_problem(&parsed.doc, "tenant_org42")
                   : std::string{"unparsed"};
}

TEST(DatabaseScopeTest, OrdinaryCommandsStayInTheirDatabase) {
  EXPECT_EQ(problem(R"({"ping": 1})"), std::nullopt);
  EXPECT_EQ(problem(R"({"find": "orders", "filter": {"out": {"db": "x"}, "db": "admin"}})"),
            std::nullopt); // field names in data, not stages
  EXPECT_EQ(problem(R"({"aggregate": "orders", "pipeline": [{"$match": {}}, {"$out": "copy"}],
                       "cursor": {}})"),
            std::nullopt);
  EXPECT_EQ(problem(R"({"aggregate": "orders", "pipeline": [{"$merge": {"into": "totals"}}],
                       "cursor": {}})"),
            std::nullopt);
  EXPECT_EQ(problem(R"({"aggregate": "o", "pipeline": [{"$lookup": {"from": "items",
                       "localField": "a", "foreignField": "b", "as": "c"}}], "cursor": {}})"),
            std::nullopt);
  EXPECT_EQ(problem(R"({"mapReduce": "o", "map": "m", "reduce": "r", "out": {"replace": "x"}})"),
            std::nullopt);
}

TEST(DatabaseScopeTest, NamingItsOwnDatabaseIsAllowed) {
  EXPECT_EQ(problem(R"({"aggregate": "o", "pipeline": [{"$out": {"db": "tenant_org42",
                       "coll": "copy"}}], "cursor": {}})"),
            std::nullopt);
  EXPECT_EQ(problem(R"({"mapReduce": "o", "map": "m", "reduce": "r",
                       "out": {"merge": "x", "db": "tenant_org42"}})"),
            std::nullopt);
}

TEST(DatabaseScopeTest, StagesNamingAnotherDatabaseAreRefused) {
  auto out = problem(R"({"aggregate": "o", "pipeline": [{"$out": {"db": "tenant_other",
                        "coll": "stolen"}}], "cursor": {}})");
  ASSERT_TRUE(out.has_value());
  EXPECT_NE(out->find("'$out' names database 'tenant_other'"), std::string::npos) << *out;
  EXPECT_NE(out->find("'tenant_org42'"), std::string::npos) << *out;
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$merge": {"into": {"db": "admin",
                         "coll": "system.users"}}}], "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$lookup": {"from": {"db": "tenant_b",
                         "coll": "users"}, "localField": "a", "foreignField": "b", "as": "c"}}],
                         "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$graphLookup": {"from": {"db": "b",
                         "coll": "u"}, "startWith": "$a", "connectFromField": "a",
                         "connectToField": "b", "as": "c"}}], "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$unionWith": {"coll": {"db": "b",
                         "coll": "u"}}}], "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"mapReduce": "o", "map": "m", "reduce": "r",
                         "out": {"replace": "x", "db": "tenant_other"}})"));
  EXPECT_TRUE(problem(R"({"mapreduce": "o", "map": "m", "reduce": "r",
                         "out": {"reduce": "x", "db": "admin"}})"));
}

TEST(DatabaseScopeTest, NestedPipelinesAndExplainAreSearchedToo) {
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$facet": {"a": [{"$lookup": {
                         "from": {"db": "b", "coll": "u"}, "pipeline": [], "as": "c"}}]}}],
                         "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"aggregate": "o", "pipeline": [{"$lookup": {"from": "items",
                         "pipeline": [{"$unionWith": {"coll": {"db": "b", "coll": "u"}}}],
                         "as": "c"}}], "cursor": {}})"));
  EXPECT_TRUE(problem(R"({"explain": {"aggregate": "o", "pipeline": [{"$out": {"db": "b",
                         "coll": "c"}}], "cursor": {}}, "verbosity": "executionStats"})"));
  EXPECT_TRUE(problem(R"({"explain": {"mapReduce": "o", "map": "m", "reduce": "r",
                         "out": {"replace": "x", "db": "b"}}})"));
}

TEST(DatabaseScopeTest, ADatabaseThatIsNotAStringIsRefused) {
  auto out = problem(R"({"aggregate": "o", "pipeline": [{"$out": {"db": 5, "coll": "c"}}],
                        "cursor": {}})");
  ASSERT_TRUE(out.has_value());
  EXPECT_NE(out->find("(not a string)"), std::string::npos) << *out;
}

} // namespace
} // namespace tenantrt
