#include "server/server_tls.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <filesystem>

#include "agent/machine.h"
#include "common/files.h"
#include "common/logging.h"
#include "crypto/x509.h"
#include "net/host_port.h"
#include "net/join_token.h"
#include "server/advertise.h"

namespace skiff::server {
namespace {

std::string PathIn(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// A host worth naming: not empty and not an address binding every address.
bool Nameable(const std::string& host) {
  if (host.empty()) return false;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return ec || !address.is_unspecified();
}

// The file's text, or "" when it does not exist.
Result<std::string> ReadIfThere(const std::string& path, bool private_only) {
  auto text = ReadPrivateFile(path, private_only);
  if (text) return *text;
  if (text.error().code == ErrorCode::kNotFound) return std::string();
  return tl::unexpected(text.error());
}

Result<crypto::CertifiedKey> LoadOrCreateCa(const std::string& data_dir,
                                            std::chrono::system_clock::time_point now,
                                            bool* created) {
  const std::string cert_path = PathIn(data_dir, kCaCertFile);
  const std::string key_path = PathIn(data_dir, kCaKeyFile);
  SKIFF_ASSIGN_OR_RETURN(std::string cert, ReadIfThere(cert_path, /*private_only=*/false));
  SKIFF_ASSIGN_OR_RETURN(std::string key, ReadIfThere(key_path, /*private_only=*/true));
  // The CA is made under a marker, written before its key and removed after
  // its certificate: a key alone beside the marker is a making cut short
  // (kill -9, power loss), whose certificate no one can have trusted, so it
  // is made anew; a key alone without it is a CA that lost its certificate,
  // which is refused below rather than replaced.
  const std::string marker_path = PathIn(data_dir, kCaMakingFile);
  std::error_code ec;
  const bool making = std::filesystem::exists(marker_path, ec);
  if (cert.empty() && (key.empty() || making)) {
    SKIFF_ASSIGN_OR_RETURN(crypto::CertifiedKey ca,
                           crypto::MakeAuthority("skiff server CA", now, kCaLifetime));
    SKIFF_RETURN_IF_ERROR(
        WriteFileAtomically(marker_path, "skiff: the server's CA is being made\n", 0600));
    // The key first: a CA certificate without its key would stop the next start.
    SKIFF_RETURN_IF_ERROR(WriteFileAtomically(key_path, ca.key_pem, 0600));
    SKIFF_RETURN_IF_ERROR(WriteFileAtomically(cert_path, ca.cert_pem, 0644));
    // A marker left beside a whole CA would let a later loss of ca.crt
    // replace the CA: its removal must last, or the start stops.
    SKIFF_RETURN_IF_ERROR(RemoveFileDurably(marker_path));
    *created = true;
    return ca;
  }
  // A making cut short after the certificate was written: the CA is whole.
  if (making && !cert.empty() && !key.empty()) {
    SKIFF_RETURN_IF_ERROR(RemoveFileDurably(marker_path));
  }
  if (cert.empty() || key.empty()) {
    return FailedPrecondition(
        "the server's CA is half there: " + (cert.empty() ? cert_path : key_path) +
        " is missing; put it back (copy it from the server it came from) "
        "or remove both to make a new CA (join tokens then change)");
  }
  auto parsed = crypto::ParseCertificatePem(cert);
  auto parsed_key = crypto::ParsePrivateKeyPem(key);
  if (!parsed || !parsed_key) {
    return FailedPrecondition("the server's CA in " + cert_path + " and " + key_path +
                              " does not parse");
  }
  if (X509_check_private_key(parsed->get(), parsed_key->get()) != 1) {
    crypto::TakeOpensslErrors();
    return FailedPrecondition(key_path + " is not the key of " + cert_path);
  }
  return crypto::CertifiedKey{std::move(cert), std::move(key)};
}

}  // namespace

Result<ServerTls> LoadOrCreateServerTls(const std::string& data_dir,
                                        const std::vector<std::string>& names,
                                        std::chrono::system_clock::time_point now) {
  ServerTls tls;
  SKIFF_ASSIGN_OR_RETURN(crypto::CertifiedKey ca, LoadOrCreateCa(data_dir, now, &tls.ca_created));
  tls.ca_cert_pem = ca.cert_pem;
  SKIFF_ASSIGN_OR_RETURN(auto ca_cert, crypto::ParseCertificatePem(ca.cert_pem));
  tls.ca_fingerprint = crypto::CertificateFingerprint(ca_cert.get());

  const std::string cert_path = PathIn(data_dir, kServerCertFile);
  const std::string key_path = PathIn(data_dir, kServerKeyFile);
  SKIFF_ASSIGN_OR_RETURN(tls.server.cert_pem, ReadIfThere(cert_path, /*private_only=*/false));
  SKIFF_ASSIGN_OR_RETURN(tls.server.key_pem, ReadIfThere(key_path, /*private_only=*/true));
  if (!tls.server.key_pem.empty() &&
      crypto::ServerCertificateFits(ca.cert_pem, tls.server.cert_pem, names, now, kReissueBefore)) {
    return tls;
  }
  SKIFF_ASSIGN_OR_RETURN(tls.server,
                         crypto::IssueServerCertificate(ca, names, now, kServerCertLifetime));
  SKIFF_RETURN_IF_ERROR(WriteFileAtomically(key_path, tls.server.key_pem, 0600));
  SKIFF_RETURN_IF_ERROR(WriteFileAtomically(cert_path, tls.server.cert_pem, 0644));
  tls.server_issued = true;
  return tls;
}

std::vector<std::string> ServerCertificateNames(const std::string& listen,
                                                const std::string& advertise,
                                                const std::vector<std::string>& extra,
                                                const std::vector<std::string>& machine) {
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    if (Nameable(name) && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  auto parsed = net::ParseHostPort(listen, "listen address");
  if (parsed) add(parsed->host);
  if (auto url = boost::urls::parse_uri(advertise)) {
    std::string host = url->host_address();
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    add(host);
  }
  for (const std::string& name : extra) add(name);
  if (parsed && BindsEveryAddress(parsed->host)) {
    for (const std::string& name : machine) add(name);
  }
  for (const char* loopback : {"localhost", "127.0.0.1", "::1"}) add(loopback);
  return names;
}

std::vector<std::string> MachineNames() {
  std::vector<std::string> names{agent::MachineName()};
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return names;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                  sizeof text);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& address = reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr;
      // A link-local address needs its interface: no URL names it alone.
      if (IN6_IS_ADDR_LINKLOCAL(&address)) continue;
      ::inet_ntop(AF_INET6, &address, text, sizeof text);
    } else {
      continue;
    }
    if (text[0] != '\0') names.emplace_back(text);
  }
  ::freeifaddrs(list);
  return names;
}

bool ServesTls(const std::string& listen, bool https, bool insecure_http) {
  if (https) return true;
  auto parsed = net::ParseHostPort(listen, "listen address");
  const bool loopback = parsed && net::IsLoopbackHost(parsed->host);
  return !loopback && !insecure_http;
}

Status CheckTlsFlags(bool https, bool insecure_http) {
  if (!https || !insecure_http) return OkStatus();
  return InvalidArgument(
      "--https and --insecure-http ask for opposite things: give one (--https serves HTTPS on "
      "loopback too; --insecure-http serves plain HTTP off loopback)",
      "https");
}

bool ServesClearOffLoopback(const std::string& listen, bool serves_tls) {
  return !serves_tls && ServesTls(listen, /*https=*/false, /*insecure_http=*/false);
}

}  // namespace skiff::server
