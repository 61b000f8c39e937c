// tenantctl's terminal text: the aligned table, ANSI colours, compact durations and a sparkline.
#include "tools/tenantctl_table.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace tenantrt::ctl {

namespace {

/// Characters on screen: UTF-8 continuation bytes take no column.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

} // namespace

std::string paint(const std::string& text, const std::string& color, bool enabled) {
  if (!enabled || color.empty())
    return text;
  return "\x1b[" + color + "m" + text + "\x1b[0m";
}

// --- text_table

text_table::text_table(std::vector<std::string> headers, std::vector<align> alignment)
  : headers_(std::move(headers)), alignment_(std::move(alignment)) {
  alignment_.resize(headers_.size(), align::left);
}

void text_table::add_row(std::vector<table_cell> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void text_table::set_footer(std::vector<table_cell> cells) {
  cells.resize(headers_.size());
  footer_ = std::move(cells);
}

std::string text_table::render(bool color) const {
  std::vector<std::size_t> widths;
  for (auto& header : headers_)
    widths.push_back(display_width(header));
  auto measure = [&](const std::vector<table_cell>& row) {
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i].text));
  };
  for (auto& row : rows_)
    measure(row);
  if (footer_)
    measure(*footer_);

  auto line = [&](const std::vector<table_cell>& row, bool header_row) {
    std::string out;
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::string pad(widths[i] - display_width(row[i].text), ' ');
      auto text = paint(row[i].text, header_row ? std::string{sgr::bold} : row[i].color, color);
      out += alignment_[i] == align::right ? pad + text : text + pad;
      if (i + 1 < row.size())
        out += "  ";
    }
    while (!out.empty() && out.back() == ' ')
      out.pop_back();
    return out + "\n";
  };

  std::vector<table_cell> header_cells;
  for (auto& header : headers_)
    header_cells.push_back({header, {}});
  std::string out = line(header_cells, true);
  for (auto& row : rows_)
    out += line(row, false);
  if (footer_) {
    std::size_t total_width = 0;
    for (auto w : widths)
      total_width += w;
    total_width += 2 * (widths.empty() ? 0 : widths.size() - 1);
    out += std::string(total_width, '-') + "\n";
    out += line(*footer_, false);
  }
  return out;
}

// --- small formats

std::string format_duration_ms(int64_t ms) {
  if (ms < 0)
    return "-";
  char buffer[32];
  if (ms < 1000) {
    std::snprintf(buffer, sizeof buffer, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms % 60'000 / 1000));
  } else if (ms < 86'400'000) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms % 3'600'000 / 60'000));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd%02lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms % 86'400'000 / 3'600'000));
  }
  return buffer;
}

std::string format_micros(uint64_t us) {
  char buffer[32];
  if (us < 1000)
    std::snprintf(buffer, sizeof buffer, "%lluus", static_cast<unsigned long long>(us));
  else if (us < 1'000'000)
    std::snprintf(buffer, sizeof buffer, "%.1fms", static_cast<double>(us) / 1e3);
  else
    std::snprintf(buffer, sizeof buffer, "%.2fs", static_cast<double>(us) / 1e6);
  return buffer;
}

std::string sparkline(const std::vector<uint64_t>& values) {
  static const char* const levels[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
  if (values.empty())
    return {};
  uint64_t top = *std::max_element(values.begin(), values.end());
  std::string out;
  for (auto value : values) {
    // Zero stays on the lowest block so the line keeps its length.
    std::size_t level = top == 0 ? 0 : static_cast<std::size_t>((value * 7 + top / 2) / top);
    out += levels[std::min<std::size_t>(level, 7)];
  }
  return out;
}

} // namespace tenantrt::ctl
