#include "runtime/tenant_naming.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << part << "\" not in: " << text;
}

runtime_config with_template(std::string database_template) {
  runtime_config cfg;
  cfg.database_template = std::move(database_template);
  return cfg;
}

/// Resolving must fail with invalid_tenant_id and a message containing why.
void expect_rejected(const tenant_naming& naming, std::string_view id, std::string_view why) {
  auto result = naming.resolve(id);
  EXPECT_FALSE(result.target.has_value()) << result.target->database;
  EXPECT_EQ(result.code, errc::invalid_tenant_id);
  EXPECT_TRUE(contains(result.error, why));
}

TEST(TenantNaming, AcceptsIdsOfLettersDigitsUnderscoreAndDash) {
  tenant_naming naming{runtime_config{}};
  for (std::string id : {"a", "org42", "Org_42", "eu-west-7", "_", "-", "ABC_def-123"}) {
    EXPECT_EQ(tenant_id_problem(id), std::nullopt) << id;
    auto result = naming.resolve(id);
    ASSERT_TRUE(result.target.has_value()) << id << ": " << result.error;
    EXPECT_EQ(result.code, errc::none);
    EXPECT_EQ(result.target->tenant_id, id);
    EXPECT_EQ(result.target->database, "tenant_" + id);
    EXPECT_EQ(result.target->cluster, "default");
  }
}

TEST(TenantNaming, SixtyFourCharacterIdIsValidButNeverFitsADatabaseName) {
  // MongoDB database names stop at 63 bytes, so even the template "{id}" caps
  // resolvable ids at 63 characters although the id rule allows 64.
  std::string id(64, 'x');
  EXPECT_EQ(tenant_id_problem(id), std::nullopt);
  tenant_naming naming{with_template("{id}")};
  EXPECT_TRUE(naming.resolve(std::string(63, 'x')).target.has_value());
  expect_rejected(naming, id, "at most 63 characters fit");
}

TEST(TenantNaming, RejectsIdTooLongForTemplateNamingTheLimit) {
  tenant_naming naming{runtime_config{}}; // tenant_{id}: 7 fixed bytes
  EXPECT_TRUE(naming.resolve(std::string(56, 'x')).target.has_value());
  auto result = naming.resolve(std::string(57, 'x'));
  EXPECT_EQ(result.code, errc::invalid_tenant_id);
  EXPECT_TRUE(contains(result.error, "tenant_{id}"));
  EXPECT_TRUE(contains(result.error, "64 bytes"));
  EXPECT_TRUE(contains(result.error, "at most 56 characters fit"));
}

class TenantNamingRejects : public testing::Test {
protected:
  // "{id}" so that the reserved names are reachable at all.
  tenant_naming naming_{with_template("{id}")};
};

TEST_F(TenantNamingRejects, ReservedDatabaseAdmin) {
  expect_rejected(naming_, "admin", "reserved");
}

TEST_F(TenantNamingRejects, PathTraversal) {
  expect_rejected(naming_, "../x", "contains '.' at position 0");
}

TEST_F(TenantNamingRejects, Dot) { expect_rejected(naming_, "a.b", "contains '.' at position 1"); }

TEST_F(TenantNamingRejects, DollarCommand) {
  expect_rejected(naming_, "$cmd", "contains '$' at position 0");
}

TEST_F(TenantNamingRejects, EmptyId) { expect_rejected(naming_, "", "is empty"); }

TEST_F(TenantNamingRejects, SixtyFiveCharacters) {
  expect_rejected(naming_, std::string(65, 'a'), "longer than 64 characters");
}

TEST_F(TenantNamingRejects, Unicode) {
  expect_rejected(naming_, "caf\xc3\xa9", "byte 0xC3 (non-ASCII) at position 3");
}

TEST_F(TenantNamingRejects, EmbeddedNul) {
  using namespace std::string_literals;
  auto id = "ab\0cd"s;
  auto result = naming_.resolve(id);
  EXPECT_EQ(result.code, errc::invalid_tenant_id);
  EXPECT_TRUE(contains(result.error, "byte 0x00 (control character) at position 2"));
  EXPECT_TRUE(contains(result.error, "\"ab\\x00cd\"")); // printable, NUL escaped
  EXPECT_EQ(result.error.find('\0'), std::string::npos);
}

TEST_F(TenantNamingRejects, ReservedNamesInAnyLetterCase) {
  for (auto id : {"admin", "Admin", "local", "Local", "config", "CONFIG", "cOnFiG"})
    expect_rejected(naming_, id, "is reserved");
}

TEST(TenantNaming, ReservedWordsAreFineUnderAPrefixTemplate) {
  auto result = tenant_naming{runtime_config{}}.resolve("admin");
  ASSERT_TRUE(result.target.has_value()) << result.error;
  EXPECT_EQ(result.target->database, "tenant_admin");
}

TEST(TenantNaming, MessagesStayPrintableAndShortForHostileInput) {
  std::string hostile(10000, '\n');
  auto problem = tenant_id_problem(hostile);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->find('\n'), std::string::npos);
  EXPECT_LT(problem->size(), 500u);
  EXPECT_TRUE(contains(*problem, "10000 bytes"));
  EXPECT_TRUE(contains(*problem, "\\x0A"));
}

TEST(TenantNaming, LongValidCharactersReportLengthWithTruncatedQuote) {
  auto problem = tenant_id_problem(std::string(500, 'a'));
  ASSERT_TRUE(problem.has_value());
  EXPECT_TRUE(contains(*problem, "...\" (500 bytes)"));
  EXPECT_TRUE(contains(*problem, "longer than 64 characters"));
}

TEST(TenantNaming, DatabaseNameProblemNamesTheRule) {
  EXPECT_EQ(database_name_problem("tenant_x"), std::nullopt);
  EXPECT_TRUE(contains(*database_name_problem(""), "empty"));
  EXPECT_TRUE(
    contains(*database_name_problem(std::string(64, 'd')), "64 bytes; MongoDB allows at most 63"));
  EXPECT_EQ(database_name_problem(std::string(63, 'd')), std::nullopt);
  for (char c : std::string{"/\\. \"$*<>:|?"})
    EXPECT_TRUE(
      contains(database_name_problem(std::string{"a"} + c + "b").value_or(""), "at position 1"))
      << c;
  EXPECT_TRUE(contains(database_name_problem(std::string{"a\0b", 3}).value_or(""), "byte 0x00"));
  EXPECT_TRUE(contains(database_name_problem("LOCAL").value_or(""), "reserved"));
}

TEST(TenantNaming, DatabaseForSubstitutesTheTemplate) {
  EXPECT_EQ(tenant_naming{runtime_config{}}.database_for("org42"), "tenant_org42");
  EXPECT_EQ(tenant_naming{with_template("{id}")}.database_for("org42"), "org42");
  EXPECT_EQ(tenant_naming{with_template("app_{id}_data")}.database_for("x"), "app_x_data");
}

class TenantNamingRouting : public testing::Test {
protected:
  static runtime_config routed() {
    runtime_config cfg;
    for (auto name : {"default", "eu", "eu_west", "analytics"})
      cfg.clusters[name].name = name;
    cfg.routing.exact = {{"eu-west-special", "analytics"}, {"org42", "analytics"}};
    cfg.routing.prefix = {{"eu-", "eu"}, {"eu-west-", "eu_west"}};
    return cfg;
  }

  std::string cluster_of(std::string_view id) const {
    auto result = naming_.resolve(id);
    EXPECT_TRUE(result.target.has_value()) << result.error;
    return result.target ? result.target->cluster : "";
  }

  tenant_naming naming_{routed()};
};

TEST_F(TenantNamingRouting, ExactMatchWinsOverPrefix) {
  EXPECT_EQ(cluster_of("eu-west-special"), "analytics");
  EXPECT_EQ(cluster_of("org42"), "analytics");
}

TEST_F(TenantNamingRouting, LongestPrefixWins) {
  EXPECT_EQ(cluster_of("eu-west-1"), "eu_west");
  EXPECT_EQ(cluster_of("eu-north-1"), "eu");
}

TEST_F(TenantNamingRouting, FallsBackToDefaultCluster) {
  EXPECT_EQ(cluster_of("us-1"), "default");
  EXPECT_EQ(cluster_of("org43"), "default");
  EXPECT_EQ(cluster_of("eu"), "default"); // shorter than the prefix "eu-"
}

TEST(TenantNaming, RoutingToUnconfiguredClusterIsUnknownCluster) {
  runtime_config cfg;
  cfg.routing.prefix = {{"x", "nowhere"}};
  auto result = tenant_naming{cfg}.resolve("x1");
  EXPECT_FALSE(result.target.has_value());
  EXPECT_EQ(result.code, errc::unknown_cluster);
  EXPECT_TRUE(contains(result.error, "\"nowhere\""));
}

} // namespace
} // namespace tenantrt
