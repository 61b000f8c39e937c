#pragma once
// tenantctl's terminal text: the aligned table, ANSI colours, compact durations and a sparkline.
//
// The building blocks of tools/tenantctl_render.hpp's output; they know no
// reply and no JSON. Tested by tests/tools/tenantctl_table_test.cpp.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tenantrt::ctl {

/// SGR parameters of the colours used across tenantctl's output.
namespace sgr {
inline constexpr const char* red = "31";
inline constexpr const char* green = "32";
inline constexpr const char* yellow = "33";
inline constexpr const char* bold_yellow = "1;33";
inline constexpr const char* bold = "1";
} // namespace sgr

/// text in the SGR colour (e.g. sgr::red) when enabled and color is not
/// empty; text as it is otherwise.
std::string paint(const std::string& text, const std::string& color, bool enabled);

/// One cell of a text_table: plain text plus an optional ANSI colour that
/// is applied after padding, so colour never shifts the columns.
struct table_cell {
  std::string text;
  /// An SGR parameter such as "31" (red) or "1;33"; empty: none.
  std::string color;
};

/// Column alignment.
enum class align { left, right };

/// An aligned plain-text table: a header row, data rows and an optional
/// footer (totals) separated by a rule.
class text_table {
public:
  /// One column per header; numbers usually right-aligned.
  text_table(std::vector<std::string> headers, std::vector<align> alignment);

  void add_row(std::vector<table_cell> cells);
  /// The totals row, printed under a rule.
  void set_footer(std::vector<table_cell> cells);

  /// The rendered table, one line per row, each ending in '\n'; trailing
  /// blanks trimmed. color=false drops every cell colour.
  std::string render(bool color) const;

private:
  std::vector<std::string> headers_;
  std::vector<align> alignment_;
  std::vector<std::vector<table_cell>> rows_;
  std::optional<std::vector<table_cell>> footer_;
};

/// "850ms", "12.3s", "4m05s", "2h07m", "3d04h"; "-" for negative values.
std::string format_duration_ms(int64_t ms);

/// Microseconds for humans: "740us", "1.9ms", "2.31s".
std::string format_micros(uint64_t us);

/// One character per value, scaled between 0 and the maximum with the
/// eight Unicode block elements (U+2581..U+2588); empty for no values.
std::string sparkline(const std::vector<uint64_t>& values);

} // namespace tenantrt::ctl
