#include "tools/tenantload/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string_view>
#include <vector>

namespace tenantrt::load {

namespace {

constexpr double width = 900;
constexpr double panel_height = 240;
constexpr double left = 70;
constexpr double right = 160; // legend column
constexpr double top = 40;
constexpr double gap = 60;
constexpr double plot_width = width - left - right;

const char* color_of(const std::string& mode) {
  if (mode == "runtime") return "#1f77b4";
  if (mode == "runtime-async") return "#17becf";
  if (mode == "daemon") return "#2ca02c";
  if (mode == "naive") return "#d62728";
  if (mode == "pool-per-tenant") return "#ff7f0e";
  if (mode == "direct") return "#7f7f7f";
  return "#9467bd";
}

std::string num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` ticks.
double nice_step(double span, int ticks) {
  double raw = span / ticks;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * power)
      return m * power;
  return 10 * power;
}

std::string tick_label(double value) {
  char buffer[32];
  if (value >= 1000 || value == std::floor(value))
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  else if (value >= 1)
    std::snprintf(buffer, sizeof buffer, "%.1f", value);
  else
    std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

struct panel {
  double y0;  // top of the plot area
  std::string title;
  std::string y_label;
  bool log_scale;
  double y_min;
  double y_max;

  double y_of(double value) const {
    double fraction;
    if (log_scale) {
      value = std::max(value, y_min);
      fraction = (std::log10(value) - std::log10(y_min)) / (std::log10(y_max) - std::log10(y_min));
    } else {
      fraction = (value - y_min) / (y_max - y_min);
    }
    return y0 + panel_height * (1 - std::clamp(fraction, 0.0, 1.0));
  }
};

} // namespace

std::string render_svg(const run_report& report) {
  double t_max = 1;
  double conn_max = 1;
  double p99_min = 1e9;
  double p99_max = 0;
  for (auto& m : report.modes)
    for (auto& w : m.windows) {
      t_max = std::max(t_max, w.t_s);
      conn_max = std::max(conn_max, static_cast<double>(w.connections_peak));
      if (w.ops > 0) {
        p99_min = std::min(p99_min, w.p99_us / 1000.0);
        p99_max = std::max(p99_max, w.p99_us / 1000.0);
      }
    }
  if (p99_max <= 0) {
    p99_min = 0.1;
    p99_max = 10;
  }
  double conn_step = nice_step(conn_max, 5);
  conn_max = std::ceil(conn_max * 1.05 / conn_step) * conn_step;
  double lat_lo = std::pow(10.0, std::floor(std::log10(std::max(p99_min, 0.001))));
  double lat_hi = std::pow(10.0, std::ceil(std::log10(std::max(p99_max, lat_lo * 10))));
  if (lat_hi <= lat_lo)
    lat_hi = lat_lo * 10;

  panel panels[2] = {
    {top, "Established connections to the server (peak per 1 s)", "connections", false, 0,
     conn_max},
    {top + panel_height + gap, "p99 latency per 1 s window (log scale)", "p99 ms", true, lat_lo,
     lat_hi},
  };
  double height = top + 2 * panel_height + gap + 50;
  auto x_of = [&](double t) { return left + plot_width * std::clamp(t / t_max, 0.0, 1.0); };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(width)
         + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height)
         + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<title>tenantload " + escaped(report.scenario) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + num(width) + "\" height=\"" + num(height)
         + "\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(left) + "\" y=\"18\" font-size=\"14\" font-weight=\"bold\">tenantload: "
         + escaped(report.scenario) + " (" + escaped(report.started_at) + ")</text>\n";

  double x_step = nice_step(t_max, 8);
  for (auto& p : panels) {
    svg += "<g class=\"panel\">\n";
    svg += "<text x=\"" + num(left) + "\" y=\"" + num(p.y0 - 8) + "\" font-size=\"12\">"
           + escaped(p.title) + "</text>\n";
    // y ticks and grid
    std::vector<double> ticks;
    if (p.log_scale) {
      for (double decade = p.y_min; decade <= p.y_max * 1.0001; decade *= 10)
        for (double m : {1.0, 2.0, 5.0})
          if (decade * m <= p.y_max * 1.0001)
            ticks.push_back(decade * m);
    } else {
      double step = nice_step(p.y_max - p.y_min, 5);
      for (double v = p.y_min; v <= p.y_max + step / 2; v += step)
        ticks.push_back(v);
    }
    for (double v : ticks) {
      double y = p.y_of(v);
      svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + plot_width)
             + "\" y2=\"" + num(y) + "\" stroke=\"#e5e5e5\"/>\n";
      svg += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y + 4)
             + "\" text-anchor=\"end\">" + tick_label(v) + "</text>\n";
    }
    for (double t = 0; t <= t_max + x_step / 2; t += x_step) {
      double x = x_of(t);
      svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(p.y0 + panel_height) + "\" x2=\"" + num(x)
             + "\" y2=\"" + num(p.y0 + panel_height + 4) + "\" stroke=\"black\"/>\n";
      svg += "<text x=\"" + num(x) + "\" y=\"" + num(p.y0 + panel_height + 16)
             + "\" text-anchor=\"middle\">" + tick_label(t) + "</text>\n";
    }
    // phase boundaries of the first mode that ran
    for (auto& m : report.modes) {
      if (!m.failure.empty())
        continue;
      for (size_t k = 0; k < m.phases.size(); ++k) {
        double x = x_of(m.phases[k].start_s);
        if (k > 0)
          svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(p.y0) + "\" x2=\"" + num(x)
                 + "\" y2=\"" + num(p.y0 + panel_height)
                 + "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
        svg += "<text x=\"" + num(x + 3) + "\" y=\"" + num(p.y0 + 11) + "\" fill=\"#666\">"
               + escaped(m.phases[k].name) + "</text>\n";
      }
      break;
    }
    // axes
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(p.y0) + "\" x2=\"" + num(left) + "\" y2=\""
           + num(p.y0 + panel_height) + "\" stroke=\"black\"/>\n";
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(p.y0 + panel_height) + "\" x2=\""
           + num(left + plot_width) + "\" y2=\"" + num(p.y0 + panel_height)
           + "\" stroke=\"black\"/>\n";
    svg += "<text transform=\"translate(16 " + num(p.y0 + panel_height / 2)
           + ") rotate(-90)\" text-anchor=\"middle\">" + escaped(p.y_label) + "</text>\n";
    svg += "<text x=\"" + num(left + plot_width / 2) + "\" y=\"" + num(p.y0 + panel_height + 32)
           + "\" text-anchor=\"middle\">seconds since the mode started</text>\n";
    // one line per mode
    bool latency = p.log_scale;
    for (auto& m : report.modes) {
      if (!m.failure.empty())
        continue;
      std::string points;
      for (auto& w : m.windows) {
        if (latency && w.ops == 0) {
          // a gap: no operation, no latency
          if (!points.empty()) {
            svg += "<polyline class=\"series\" data-mode=\"" + escaped(m.mode)
                   + "\" fill=\"none\" stroke=\"" + color_of(m.mode)
                   + "\" stroke-width=\"1.5\" points=\"" + points + "\"/>\n";
            points.clear();
          }
          continue;
        }
        double value = latency ? w.p99_us / 1000.0 : static_cast<double>(w.connections_peak);
        points += (points.empty() ? "" : " ") + num(x_of(w.t_s)) + "," + num(p.y_of(value));
      }
      if (!points.empty())
        svg += "<polyline class=\"series\" data-mode=\"" + escaped(m.mode)
               + "\" fill=\"none\" stroke=\"" + color_of(m.mode)
               + "\" stroke-width=\"1.5\" points=\"" + points + "\"/>\n";
    }
    svg += "</g>\n";
  }
  // legend
  double ly = top + 10;
  svg += "<g class=\"legend\">\n";
  for (auto& m : report.modes) {
    double lx = left + plot_width + 20;
    svg += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 24) + "\" y2=\""
           + num(ly) + "\" stroke=\"" + color_of(m.mode) + "\" stroke-width=\"3\"/>\n";
    svg += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(ly + 4) + "\">" + escaped(m.mode)
           + (m.failure.empty() ? "" : " (failed)") + "</text>\n";
    ly += 18;
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

} // namespace tenantrt::load
