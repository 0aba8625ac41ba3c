#include "e2e/pebble_server.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "crypto/authority.h"
#include "fakes/tls_client.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

constexpr const char* kPebble = "/usr/bin/pebble";
constexpr const char* kChalltestsrv = "/usr/bin/pebble-challtestsrv";
constexpr const char* kSetpriv = "/usr/bin/setpriv";

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return Unavailable("cannot write " + path);
  return OkStatus();
}

std::string Tail(const std::string& text) {
  return text.size() > 1500 ? text.substr(text.size() - 1500) : text;
}

// Waits until `client` answers GET `path` with a 200 (at most 20 s), or
// `process` exits.
Status AwaitUp(const net::HttpClient& client, const std::string& path, Subprocess& process,
               const std::string& name) {
  std::string last;
  const bool up = PollUntil(
      [&] {
        if (!process.Running()) return true;
        auto response = client.Do("GET", path, {}, {}, std::chrono::seconds(2));
        if (response && response->status == 200) return true;
        last = response ? "HTTP " + std::to_string(response->status) : response.error().message;
        return false;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!up || !process.Running()) {
    return Unavailable(name + " did not come up (" + last + "): " + Tail(process.Output()));
  }
  return OkStatus();
}

// How many times Start picks fresh ports when a child exits at once (a
// port FreePort gave was taken before the child bound it).
constexpr int kStartAttempts = 3;

// Pebble's behaviour, set whatever this process's environment says: real
// validation without its random sleeps, no authorization reused, and its
// default 5 % of nonces refused so badNonce retries are exercised.
const std::map<std::string, std::string>& PebbleEnv() {
  static const std::map<std::string, std::string> env{{"PEBBLE_VA_NOSLEEP", "1"},
                                                      {"PEBBLE_VA_ALWAYS_VALID", "0"},
                                                      {"PEBBLE_AUTHZREUSE", "0"},
                                                      {"PEBBLE_WFE_NONCEREJECT", "5"}};
  return env;
}

}  // namespace

Result<std::unique_ptr<PebbleServer>> PebbleServer::Start(int http01_port,
                                                          std::chrono::seconds validity) {
  for (const char* bin : {kPebble, kChalltestsrv, kSetpriv}) {
    if (!std::filesystem::exists(bin)) {
      return Unavailable(std::string(bin) + " is missing (Debian's pebble: scripts/setup.sh)");
    }
  }
  Result<std::unique_ptr<PebbleServer>> started = Unavailable("not started");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    bool exited = false;
    started = StartOnce(http01_port, validity, &exited);
    if (started || !exited) break;
  }
  return started;
}

Result<std::unique_ptr<PebbleServer>> PebbleServer::StartOnce(int http01_port,
                                                              std::chrono::seconds validity,
                                                              bool* exited) {
  std::unique_ptr<PebbleServer> server(new PebbleServer());
  const auto now = std::chrono::system_clock::now();
  SKIFF_ASSIGN_OR_RETURN(crypto::CertifiedKey ca,
                         crypto::MakeAuthority("Pebble test TLS CA", now, std::chrono::hours(24)));
  SKIFF_ASSIGN_OR_RETURN(
      crypto::CertifiedKey tls,
      crypto::IssueServerCertificate(ca, {"127.0.0.1", "localhost"}, now, std::chrono::hours(24)));
  server->trust_.ca_pem = ca.cert_pem;
  const TempDir& dir = server->dir_;
  SKIFF_RETURN_IF_ERROR(WriteFile(dir.File("cert.pem"), tls.cert_pem));
  SKIFF_RETURN_IF_ERROR(WriteFile(dir.File("key.pem"), tls.key_pem));

  const int dns_port = FreePort();
  const int challtestsrv_management = FreePort();
  server->acme_port_ = FreePort();
  server->management_port_ = FreePort();
  const std::string loopback = "127.0.0.1:";
  // Pebble's config; tlsPort is where it would validate TLS-ALPN-01, which
  // no test asks for: a port nothing listens on.
  const std::string config =
      R"({"pebble": {"listenAddress": ")" + loopback + std::to_string(server->acme_port_) +
      R"(", "managementListenAddress": ")" + loopback + std::to_string(server->management_port_) +
      R"(", "certificate": ")" + dir.File("cert.pem") + R"(", "privateKey": ")" +
      dir.File("key.pem") + R"(", "httpPort": )" + std::to_string(http01_port) +
      R"(, "tlsPort": )" + std::to_string(FreePort()) +
      R"(, "ocspResponderURL": "", "externalAccountBindingRequired": false)" +
      (validity.count() > 0
           ? R"(, "certificateValidityPeriod": )" + std::to_string(validity.count())
           : std::string()) +
      "}}";
  SKIFF_RETURN_IF_ERROR(WriteFile(dir.File("pebble.json"), config));

  try {
    server->challtestsrv_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kSetpriv, "--pdeathsig", "KILL", "--", kChalltestsrv,
                                 "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01",
                                 loopback + std::to_string(dns_port), "-http01", "", "-https01", "",
                                 "-tlsalpn01", "", "-management",
                                 loopback + std::to_string(challtestsrv_management)},
        std::map<std::string, std::string>{}, dir.File("challtestsrv.log"));
    server->pebble_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kSetpriv, "--pdeathsig", "KILL", "--", kPebble, "-config",
                                 dir.File("pebble.json"), "-dnsserver",
                                 loopback + std::to_string(dns_port)},
        PebbleEnv(), dir.File("pebble.log"));
  } catch (const std::exception& e) {
    return Unavailable(std::string("cannot start Pebble: ") + e.what());
  }
  // challtestsrv's management interface answers 404 at / once it is up; its
  // DNS listener starts before it.
  net::HttpClient challtestsrv("http://" + loopback + std::to_string(challtestsrv_management));
  std::string last;
  const bool dns_up = PollUntil(
      [&] {
        auto response = challtestsrv.Do("GET", "/", {}, {}, std::chrono::seconds(2));
        return !server->challtestsrv_->Running() || response.has_value();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!dns_up || !server->challtestsrv_->Running()) {
    *exited = !server->challtestsrv_->Running();
    return Unavailable("pebble-challtestsrv did not come up: " +
                       Tail(server->challtestsrv_->Output()));
  }
  net::HttpClient pebble("https://" + loopback + std::to_string(server->acme_port_),
                         server->trust_);
  if (Status up = AwaitUp(pebble, "/dir", *server->pebble_, "pebble"); !up) {
    *exited = !server->pebble_->Running();
    return tl::unexpected(up.error());
  }
  return server;
}

PebbleServer::~PebbleServer() = default;

std::string PebbleServer::directory_url() const {
  return "https://127.0.0.1:" + std::to_string(acme_port_) + "/dir";
}

Result<std::string> PebbleServer::IssuingRoot() const {
  std::lock_guard lock(root_mu_);
  if (!root_.empty()) return root_;
  net::HttpClient management("https://127.0.0.1:" + std::to_string(management_port_), trust_);
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response, management.Do("GET", "/roots/0"));
  if (response.status != 200) {
    return Unavailable("Pebble's /roots/0 answered " + std::to_string(response.status));
  }
  root_ = response.body;
  return root_;
}

Result<std::string> PebbleServer::ServedFingerprint(int port, const std::string& sni) const {
  SKIFF_ASSIGN_OR_RETURN(std::string root, IssuingRoot());
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<TlsClient> client,
                         TlsClient::Connect(port, {.sni = sni, .ca_pem = root}));
  return client->PeerFingerprint();
}

}  // namespace skiff::testing
