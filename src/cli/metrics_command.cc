#include "cli/metrics_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "cli/json_fields.h"
#include "cli/table.h"

namespace skiff::cli {
namespace {

namespace json = boost::json;

std::optional<double> MetricsNumber(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  if (f.is_double()) return f.get_double();
  if (f.is_int64()) return static_cast<double>(f.get_int64());
  if (f.is_uint64()) return static_cast<double>(f.get_uint64());
  return std::nullopt;
}

std::string MetricsBytes(double b) {
  constexpr double kGi = 1 << 30;
  constexpr double kMi = 1 << 20;
  if (b >= kGi) return fmt::format("{:.1f}Gi", b / kGi);
  if (b >= kMi) return fmt::format("{:.0f}Mi", b / kMi);
  return fmt::format("{:.0f}", b);
}

// "2026-12-07T10:01:00.000Z" -> "12-07 10:01".
std::string ShortTime(const std::string& t) {
  if (t.size() < 16) return t;
  return t.substr(5, 5) + " " + t.substr(11, 5);
}

std::string Cell(std::optional<double> v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : "-";
}

std::vector<std::string> MetricsRow(const json::value& p) {
  auto memory = MetricsNumber(p, "memory_bytes");
  return {ShortTime(Str(p, "time")),
          Cell(MetricsNumber(p, "requests_per_second"), "{:.1f}"),
          Cell(MetricsNumber(p, "errors_per_second"), "{:.2f}"),
          Cell(MetricsNumber(p, "p50_ms"), "{:.1f}ms"),
          Cell(MetricsNumber(p, "p95_ms"), "{:.1f}ms"),
          Cell(MetricsNumber(p, "p99_ms"), "{:.1f}ms"),
          Cell(MetricsNumber(p, "cpu_millis"), "{:.0f}m"),
          memory ? MetricsBytes(*memory) : "-"};
}

const std::vector<std::string> kMetricsHeaders = {"TIME", "REQ/S", "5XX/S", "P50",
                                                  "P95",  "P99",   "CPU",   "MEMORY"};

int MetricsFail(const Error& e, const Invocation& inv, std::ostream& err) {
  err << "error: " << Explain(e, inv.options.addr) << "\n";
  return 1;
}

int FollowMetrics(const Invocation& inv, ApiClient* client, std::ostream& out, std::ostream& err) {
  const bool as_json = inv.options.output == "json";
  bool header = false;
  bool error_event = false;
  bool failed = false;
  Status s =
      client->StreamLines("/v1/apps/" + inv.app + "/metrics/live", [&](std::string_view line) {
        if (line.starts_with("event: error")) {
          error_event = true;
          return true;
        }
        if (!line.starts_with("data: ")) return true;  // blank lines end events
        const std::string_view data = line.substr(6);
        boost::system::error_code ec;
        json::value event = json::parse(data, ec);
        if (error_event || (!ec && event.is_object() && event.as_object().contains("error"))) {
          err << "error: " << (ec ? std::string(data) : Str(Field(event, "error"), "message"))
              << "\n";
          failed = true;
          return false;
        }
        if (as_json) {
          out << data << "\n";
        } else if (!ec) {
          Table t(kMetricsHeaders);
          t.AddRow(MetricsRow(event));
          std::string text = t.Render();
          // The header once, then one row per event.
          if (header) text = text.substr(text.find('\n') + 1);
          header = true;
          out << text;
        }
        out.flush();
        return true;
      });
  if (!s) return MetricsFail(s.error(), inv, err);
  return failed ? 1 : 0;
}

}  // namespace

std::string Sparkline(const std::vector<std::optional<double>>& values) {
  static const char* kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double low = 0;
  double high = 0;
  for (const auto& v : values) {
    if (!v) continue;
    low = std::min(low, *v);
    high = std::max(high, *v);
  }
  std::string out;
  for (const auto& v : values) {
    if (!v) {
      out += " ";
      continue;
    }
    const int i = high > low ? static_cast<int>((*v - low) / (high - low) * 7 + 0.5) : 0;
    out += kBars[std::clamp(i, 0, 7)];
  }
  return out;
}

int RunMetrics(const Invocation& inv, ApiClient* client, std::ostream& out, std::ostream& err) {
  if (inv.follow) return FollowMetrics(inv, client, out, err);
  std::string query = "since=" + inv.metrics_since;
  if (!inv.metrics_until.empty()) query += "&until=" + inv.metrics_until;
  if (!inv.metrics_step.empty()) query += "&step=" + inv.metrics_step;
  auto reply = client->Call("GET", "/v1/apps/" + inv.app + "/metrics?" + query);
  if (!reply) return MetricsFail(reply.error(), inv, err);
  if (inv.options.output == "json") {
    out << (reply->body.is_null() ? reply->text : json::serialize(reply->body)) << "\n";
    return 0;
  }
  const json::array& points = Array(reply->body, "points");
  std::vector<std::optional<double>> rps, p95, cpu, memory;
  Table t(kMetricsHeaders);
  for (const json::value& p : points) {
    rps.push_back(MetricsNumber(p, "requests_per_second"));
    p95.push_back(MetricsNumber(p, "p95_ms"));
    cpu.push_back(MetricsNumber(p, "cpu_millis"));
    memory.push_back(MetricsNumber(p, "memory_bytes"));
    t.AddRow(MetricsRow(p));
  }
  auto most = [](const std::vector<std::optional<double>>& v) {
    double m = 0;
    for (const auto& x : v) m = std::max(m, x.value_or(0));
    return m;
  };
  out << fmt::format("{}  {} to {}, every {}s\n", inv.app, Str(reply->body, "since"),
                     Str(reply->body, "until"), Int(reply->body, "step"));
  out << fmt::format("  req/s   {}  max {:.1f}\n", Sparkline(rps), most(rps));
  out << fmt::format("  p95     {}  max {:.1f}ms\n", Sparkline(p95), most(p95));
  out << fmt::format("  cpu     {}  max {:.0f}m\n", Sparkline(cpu), most(cpu));
  out << fmt::format("  memory  {}  max {}\n\n", Sparkline(memory), MetricsBytes(most(memory)));
  out << t.Render();
  return 0;
}

}  // namespace skiff::cli
