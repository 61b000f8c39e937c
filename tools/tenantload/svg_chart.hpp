#pragma once
// The --plot chart: two panels over the same time axis (seconds since each
// mode started, so modes running the same scenario line up), established
// connections to the server (peak per 1 s window, linear) and p99 latency
// (per 1 s window, log scale), one line per mode, phase boundaries dashed,
// axes, ticks and a legend. Plain SVG 1.1, no script, no external resource.

#include <string>

#include "tools/tenantload/load_report.hpp"

namespace tenantrt::load {

/// A standalone SVG document.
std::string render_svg(const run_report& report);

} // namespace tenantrt::load
