#include "runtime/errc.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

TEST(Errc, EveryCodeHasADistinctNonEmptyWireString) {
  std::set<std::string_view> seen;
  for (auto code : all_errcs) {
    auto text = to_string(code);
    EXPECT_FALSE(text.empty()) << "code " << static_cast<int>(code);
    EXPECT_TRUE(seen.insert(text).second) << "duplicate wire string " << text;
  }
  EXPECT_EQ(seen.size(), std::size(all_errcs));
}

TEST(Errc, WireStringsAreLowerSnakeCase) {
  for (auto code : all_errcs)
    for (char c : to_string(code))
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << to_string(code);
}

TEST(Errc, FromStringRoundTripsEveryCode) {
  for (auto code : all_errcs) {
    auto parsed = errc_from_string(to_string(code));
    ASSERT_TRUE(parsed.has_value()) << to_string(code);
    EXPECT_EQ(*parsed, code);
  }
}

TEST(Errc, FromStringRejectsUnknownText) {
  EXPECT_FALSE(errc_from_string("").has_value());
  EXPECT_FALSE(errc_from_string("no_such_error").has_value());
  EXPECT_FALSE(errc_from_string("Timeout").has_value());
}

TEST(Errc, AllErrcsListsEveryValueInOrder) {
  // all_errcs is kept by hand: it must cover 0..internal without gaps.
  auto expected = 0;
  for (auto code : all_errcs)
    EXPECT_EQ(static_cast<int>(code), expected++);
  EXPECT_EQ(static_cast<int>(errc::internal), expected - 1);
}

TEST(Errc, DefaultConstructedCodeIsNone) {
  EXPECT_EQ(errc{}, errc::none);
  EXPECT_EQ(to_string(errc{}), "none");
}

} // namespace
} // namespace tenantrt
