// tenantctl's terminal text: table alignment with and without colour, the
// compact durations and the sparkline.

#include "tools/tenantctl_table.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace tenantrt::ctl;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

TEST(TextTableTest, AlignsColumnsAndIgnoresColourWhenMeasuring) {
  text_table table{{"NAME", "N"}, {align::left, align::right}};
  table.add_row({{"a", "31"}, {"1", {}}});
  table.add_row({{"longer", {}}, {"100", "33"}});
  table.set_footer({{"total", {}}, {"101", {}}});
  auto plain = lines_of(table.render(false));
  ASSERT_EQ(plain.size(), 5u);
  EXPECT_EQ(plain[0], "NAME      N");
  EXPECT_EQ(plain[1], "a         1");
  EXPECT_EQ(plain[2], "longer  100");
  EXPECT_EQ(plain[3], "-----------");
  EXPECT_EQ(plain[4], "total   101");
  auto colored = table.render(true);
  EXPECT_NE(colored.find("\x1b[31ma\x1b[0m"), std::string::npos);
  EXPECT_EQ(table.render(false).find('\x1b'), std::string::npos);
}

TEST(FormatTest, DurationsAndMicrosReadAtAGlance) {
  EXPECT_EQ(format_duration_ms(850), "850ms");
  EXPECT_EQ(format_duration_ms(12345), "12.3s");
  EXPECT_EQ(format_duration_ms(245000), "4m05s");
  EXPECT_EQ(format_duration_ms(7620000), "2h07m");
  EXPECT_EQ(format_duration_ms(-1), "-");
  EXPECT_EQ(format_micros(740), "740us");
  EXPECT_EQ(format_micros(1900), "1.9ms");
  EXPECT_EQ(format_micros(2310000), "2.31s");
}

TEST(SparklineTest, ScalesToTheMaximumOneCharacterPerValue) {
  EXPECT_EQ(sparkline({}), "");
  EXPECT_EQ(sparkline({0, 0}), "\u2581\u2581");
  EXPECT_EQ(sparkline({0, 4, 8}), "\u2581\u2585\u2588");
  EXPECT_EQ(sparkline({5}), "\u2588");
}

} // namespace
