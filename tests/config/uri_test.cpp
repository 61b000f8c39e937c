// MongoDB connection strings as text (config/uri.hpp): redaction for display,
// the shape check, and the password finder and scrubbing the pool uses on
// driver messages. The loader reporting a URI problem at its JSON path is in
// config_checks_test.cpp.
#include "config/uri.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << part << "\" not in: " << text;
}

testing::AssertionResult lacks(const std::string& text, std::string_view part) {
  if (text.find(part) == std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << part << "\" leaked in: " << text;
}

// -- redact_uri -------------------------------------------------------------------------------

TEST(UriTest, RedactUriHidesThePasswordInEveryForm) {
  std::vector<std::pair<std::string, std::string>> cases{
    {"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"},
    {"mongodb://user:pw1@h:27017/db?tls=true", "mongodb://user:***@h:27017/db?tls=true"},
    {"mongodb+srv://user:pw2@cluster0.example.net/?retryWrites=true",
     "mongodb+srv://user:***@cluster0.example.net/?retryWrites=true"},
    {"mongodb://tenantrt:pw3@db-1:27017,db-2:27017/?replicaSet=rs0",
     "mongodb://tenantrt:***@db-1:27017,db-2:27017/?replicaSet=rs0"},
    {"mongodb://user@h/?authMechanism=MONGODB-X509",
     "mongodb://user@h/?authMechanism=MONGODB-X509"},
    {"mongodb://u:p%40w4@h", "mongodb://u:***@h"},
    {"mongodb://u:pw5/x?y@h/db", "mongodb://u:***@h/db"}, // unencoded / and ? in the password
    {"mongodb://u:p@w6@h", "mongodb://u:***@h"},          // unencoded @
    {"mongodb://h/?appName=me@home&tls=true", "mongodb://h/?appName=me@home&tls=true"},
    {"mongodb://u:pw7@h/?appName=me@home", "mongodb://u:***@h/?appName=me@home"},
    {"mongodb://h/?tlsCertificateKeyFilePassword=pw8&tls=true",
     "mongodb://h/?tlsCertificateKeyFilePassword=***&tls=true"},
    {"mongodb://h/?password=pw9", "mongodb://h/?password=***"},
    {"mongodb://h/?sslClientCertificateKeyPassword=pw10",
     "mongodb://h/?sslClientCertificateKeyPassword=***"},
    {"mongodb://h/?pass%77ord=pw11", "mongodb://h/?pass%77ord=***"},
    {"mongodb://k:pw12@h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:pw13",
     "mongodb://k:***@h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:***"},
    {"mongodb://u@h/?authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:pw14",
     "mongodb://u@h/?authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:***"},
    {"mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN%3Apw15",
     "mongodb://h/?authMechanismProperties=***"},
    {"mongodb://h/?a=1;secret=pw16", "mongodb://h/?a=1;secret=***"},
    {"user:pw17@h:27017", "user:***@h:27017"}, // no scheme at all
    {"mongdb://user:pw18@h", "mongdb://user:***@h"},
    {"", ""},
  };
  for (const auto& [uri, redacted] : cases) {
    EXPECT_EQ(redact_uri(uri), redacted) << uri;
    EXPECT_TRUE(lacks(redact_uri(uri), "pw")) << uri;
  }
}

// -- uri_problem ------------------------------------------------------------------------------

TEST(UriTest, UriMustNotBeEmpty) { EXPECT_EQ(uri_problem(""), "must not be empty"); }

TEST(UriTest, UriMustUseAMongodbScheme) {
  for (auto uri : {"http://h", "mongodb:/h", "127.0.0.1:27017", "MONGODB://h"})
    EXPECT_TRUE(contains(uri_problem(uri).value_or(""),
                         "must start with mongodb:// or mongodb+srv://"))
      << uri;
  for (auto uri : {"mongodb://h", "mongodb+srv://cluster0.example.net/?retryWrites=true",
                   "mongodb://u:p@h1:1,h2:2/db?replicaSet=rs0", "mongodb://[::1]:27017"})
    EXPECT_EQ(uri_problem(uri), std::nullopt) << uri;
}

TEST(UriTest, UriMustNameAHost) {
  for (auto uri : {"mongodb://", "mongodb://u:p@/db", "mongodb:///db", "mongodb+srv://?x=1"})
    EXPECT_TRUE(contains(uri_problem(uri).value_or(""), "names no host")) << uri;
  EXPECT_TRUE(
    contains(uri_problem("mongodb://h1,,h2").value_or(""), "empty entry in its host list"));
}

TEST(UriTest, SrvUriTakesOneHostWithoutPort) {
  EXPECT_TRUE(contains(uri_problem("mongodb+srv://a.example.net,b.example.net").value_or(""),
                       "exactly one host name"));
  EXPECT_TRUE(contains(uri_problem("mongodb+srv://a.example.net:27017").value_or(""), "no port"));
}

TEST(UriTest, ProblemQuotingAUriNeverContainsThePassword) {
  for (auto uri :
       {"mongdb://admin:hunter2@h", "mongodb://admin:hunter2@", "mongodb://admin:hunter2@h,,x",
        "mongodb+srv://admin:hunter2@h:1", "http://h/?tlsCertificateKeyFilePassword=hunter2"}) {
    auto problem = uri_problem(uri);
    ASSERT_TRUE(problem.has_value()) << uri;
    EXPECT_TRUE(lacks(*problem, "hunter2"));
    EXPECT_TRUE(contains(*problem, "***"));
  }
}

// -- uri_password and scrubbing ---------------------------------------------------------------

TEST(UriTest, UriPasswordIsTheUserinfosPasswordAsWritten) {
  EXPECT_EQ(uri_password("mongodb://user:pw1@h:27017/db?tls=true"), "pw1");
  EXPECT_EQ(uri_password("mongodb+srv://user:pw2@cluster0.example.net/"), "pw2");
  EXPECT_EQ(uri_password("mongodb://u:p%40w3@h"), "p%40w3"); // still encoded
  EXPECT_EQ(uri_password("user:pw4@h:27017"), "pw4");         // no scheme at all
}

TEST(UriTest, UriPasswordKeepsAnUnencodedSlashQuestionMarkOrAt) {
  EXPECT_EQ(uri_password("mongodb://u:pa/ss@h/db"), "pa/ss");
  EXPECT_EQ(uri_password("mongodb://u:pw5/x?y@h/db"), "pw5/x?y");
  EXPECT_EQ(uri_password("mongodb://u:p@ss@h"), "p@ss");
  EXPECT_EQ(uri_password("mongodb://u:a@b/c@h/db?tls=true"), "a@b/c");
  // An '@' in a query value is not the end of the userinfo.
  EXPECT_EQ(uri_password("mongodb://u:pw6@h/?appName=me@home"), "pw6");
}

TEST(UriTest, UriPasswordIsEmptyWithoutOne) {
  for (auto uri : {"", "mongodb://h", "mongodb://h:27017/db", "mongodb://user@h/?tls=true",
                   "mongodb://h/?appName=me@home", "mongodb://h/?password=pw7"})
    EXPECT_EQ(uri_password(uri), "") << uri;
}

TEST(UriTest, ScrubPasswordReplacesItAsWrittenAndDecoded) {
  const std::string uri = "mongodb://svc:p%40ss%2Fw0rd@db-1:27017/?tls=true";
  auto scrubbed = scrub_password("auth failed for " + uri + ": password p@ss/w0rd refused", uri);
  EXPECT_EQ(scrubbed,
            "auth failed for mongodb://svc:***@db-1:27017/?tls=true: password *** refused");
  EXPECT_TRUE(lacks(scrubbed, "p%40ss")) << scrubbed;
  EXPECT_TRUE(lacks(scrubbed, "p@ss")) << scrubbed;
}

TEST(UriTest, ScrubPasswordCatchesAnUnencodedSlashOrAt) {
  const std::string slash = "mongodb://u:se/cret@h/db";
  EXPECT_EQ(scrub_password("cannot connect to " + slash, slash),
            "cannot connect to mongodb://u:***@h/db");
  const std::string at = "mongodb://u:se@cret@h";
  EXPECT_EQ(scrub_password("bad auth: se@cret, se@cret again", at), "bad auth: ***, *** again");
}

TEST(UriTest, ScrubPasswordWithoutAPasswordChangesNothing) {
  const std::string text = "connection refused: h:27017 (user u, appName=me@home)";
  for (auto uri : {"mongodb://h:27017", "mongodb://u@h:27017", "mongodb://h/?appName=me@home", ""})
    EXPECT_EQ(scrub_password(text, uri), text) << uri;
}

TEST(UriTest, ScrubSecretReplacesEveryOccurrenceAndIgnoresAnEmptySecret) {
  EXPECT_EQ(scrub_secret("tok tok-tok", "tok"), "*** ***-***");
  EXPECT_EQ(scrub_secret("nothing to hide", ""), "nothing to hide");
}

} // namespace
} // namespace tenantrt
