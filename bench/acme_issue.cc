// Benchmark: how long a new domain waits for a real certificate.
//
//   apply -> certificate served: 10 apps of the test app, each with a new
//     domain, applied one after another (`skiff apply --detach`) to a server
//     whose edge has a TLS listener and whose ACME directory is a real Pebble
//     (pebble-challtestsrv points every name at 127.0.0.1; HTTP-01 is
//     validated for real against the server's own edge). The time from the
//     apply to the first TLS handshake for that name whose chain verifies
//     against Pebble's root (until then the edge answers with its fallback).
//
// Pebble runs with PEBBLE_VA_NOSLEEP=1 (no artificial validation delay), so
// the figure is Skiff's part plus Pebble's own work; a public CA adds its
// network and queueing. Prints figures; never fails on time (exit 1 only when
// something did not work at all).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "e2e/pebble_server.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "fakes/tls_client.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::PebbleServer;
using skiff::testing::SkiffServer;
using skiff::testing::TlsClient;

constexpr int kDomains = 10;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

}  // namespace

int main() {
  SkiffServer server;
  auto pebble = PebbleServer::Start(PortOf(server.edge_addr()));
  if (!pebble) {
    std::fprintf(stderr, "Pebble: %s\n", pebble.error().ToString().c_str());
    return 1;
  }
  const std::string ca_file = server.WriteFile("pebble-ca.pem", (*pebble)->trust().ca_pem);
  const int tls_port = skiff::testing::FreePort();
  server.AddArgs({"--edge-tls-listen", "127.0.0.1:" + std::to_string(tls_port), "--acme-directory",
                  (*pebble)->directory_url(), "--acme-email", "ops@skiff.test", "--acme-ca-cert",
                  ca_file});
  if (!server.Start()) return 1;
  auto root = (*pebble)->IssuingRoot();
  if (!root) {
    std::fprintf(stderr, "Pebble's root: %s\n", root.error().ToString().c_str());
    return 1;
  }

  std::vector<double> waits;
  for (int i = 0; i < kDomains; ++i) {
    const std::string name = "app" + std::to_string(i);
    const std::string domain = name + ".skiff.test";
    const std::string spec =
        server.WriteFile(name + ".yaml", skiff::testing::TestAppSpec(name, 1, "[" + domain + "]"));
    const Clock::time_point start = Clock::now();
    if (server.Skiff({"apply", "-f", spec, "--detach"}).exit_code != 0) {
      std::fprintf(stderr, "apply %s failed\n", name.c_str());
      return 1;
    }
    bool served = false;
    while (Clock::now() - start < std::chrono::seconds(60)) {
      if (TlsClient::Connect(tls_port, {.sni = domain, .ca_pem = *root})) {
        served = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!served) {
      std::fprintf(stderr, "%s: no verified certificate within 60 s\n", domain.c_str());
      return 1;
    }
    waits.push_back(Ms(Clock::now() - start));
    std::printf("  %-18s %7.0f ms\n", domain.c_str(), waits.back());
  }
  std::sort(waits.begin(), waits.end());
  std::printf(
      "apply -> Pebble certificate served by the edge, %d new domains: p50 %.0f ms, max %.0f ms\n",
      kDomains, Percentile(waits, 0.5), waits.back());
  return 0;
}
