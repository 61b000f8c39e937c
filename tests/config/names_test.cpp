// The one quoting of untrusted text (config/names.hpp, printable_quoted):
// what every problem and error message quoting a value uses. The tenant-id
// and database-name rules are tested with the resolver that applies them, in
// tests/runtime/tenant_naming_test.cpp.
#include "config/names.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

TEST(NamesTest, PrintableQuotedQuotesPrintableAsciiAsIs) {
  EXPECT_EQ(printable_quoted(""), "\"\"");
  EXPECT_EQ(printable_quoted("org-42_a"), "\"org-42_a\"");
  EXPECT_EQ(printable_quoted("127.0.0.1:7070 ~!"), "\"127.0.0.1:7070 ~!\"");
}

TEST(NamesTest, PrintableQuotedEscapesQuotesAndBackslashes) {
  EXPECT_EQ(printable_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(NamesTest, PrintableQuotedShowsControlBytesAsHex) {
  EXPECT_EQ(printable_quoted(std::string{"a\0b", 3}), "\"a\\x00b\"");
  EXPECT_EQ(printable_quoted("\x01\t\n\r\x1b\x7f"), "\"\\x01\\x09\\x0A\\x0D\\x1B\\x7F\"");
}

TEST(NamesTest, PrintableQuotedShowsNonAsciiBytesAsHex) {
  EXPECT_EQ(printable_quoted("caf\xC3\xA9"), "\"caf\\xC3\\xA9\"");  // UTF-8 é, byte by byte
  EXPECT_EQ(printable_quoted("\xFF\x80"), "\"\\xFF\\x80\"");       // not UTF-8 at all
}

TEST(NamesTest, PrintableQuotedKeepsSixtyFourBytesWhole) {
  std::string text(64, 'a');
  EXPECT_EQ(printable_quoted(text), "\"" + text + "\"");
}

TEST(NamesTest, PrintableQuotedCutsPastSixtyFourBytesAndSaysHowLong) {
  EXPECT_EQ(printable_quoted(std::string(65, 'a')),
            "\"" + std::string(64, 'a') + "...\" (65 bytes)");
  EXPECT_EQ(printable_quoted(std::string(10000, 'b')),
            "\"" + std::string(64, 'b') + "...\" (10000 bytes)");
}

TEST(NamesTest, PrintableQuotedCutsBytesBeforeEscapingThem) {
  // 64 input bytes are shown, each escaped; the count is of the input.
  std::string expected = "\"";
  for (int i = 0; i < 64; ++i)
    expected += "\\x01";
  expected += "...\" (100 bytes)";
  EXPECT_EQ(printable_quoted(std::string(100, '\x01')), expected);
}

} // namespace
} // namespace tenantrt
