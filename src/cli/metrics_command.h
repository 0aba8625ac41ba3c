// `skiff metrics APP`: an app's metrics history as a table per step with a
// header of sparklines, or (-f) its live figures, a row per event of
// GET /v1/apps/{app}/metrics/live. -o json prints the API's JSON (with -f one
// object per line).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli.h"

namespace skiff::cli {

// Runs the parsed `metrics` invocation; the exit code as RunClientCommand's.
int RunMetrics(const Invocation& inv, ApiClient* client, std::ostream& out, std::ostream& err);

// ▁▂▃▄▅▆▇█ scaled from 0 (or the lowest value, when negative) to the highest
// value; a missing value is a space.
std::string Sparkline(const std::vector<std::optional<double>>& values);

}  // namespace skiff::cli
