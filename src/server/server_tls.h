// The server's own CA and its API certificate (DESIGN.md, "Trust"): made on
// the first start in the data directory, kept there (keys 0600), the
// certificate reissued when it no longer names the server's addresses or
// nears its end. Join tokens carry the CA's fingerprint; clients trust the
// CA (`--ca DATA/ca.crt`; the CLI finds it on the server's machine).
//
// Several servers on one PostgreSQL database share one CA: the first server's
// ca.crt and ca.key are copied into the others' data directories before their
// first start (docs/security.md). The CA's key never goes into the database.
//
// Thread-safety: free functions; one server per data directory (DirLock).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/authority.h"

namespace skiff::server {

inline constexpr const char* kCaCertFile = "ca.crt";
inline constexpr const char* kCaKeyFile = "ca.key";
inline constexpr const char* kServerCertFile = "server.crt";
inline constexpr const char* kServerKeyFile = "server.key";
// Present while the CA is being made (LoadOrCreateServerTls): a start that
// finds it beside a CA key with no certificate makes the CA again.
inline constexpr const char* kCaMakingFile = "ca.making";

// The CA lives ten years; the API's certificate one, reissued within its
// last thirty days.
inline constexpr std::chrono::hours kCaLifetime{24 * 365 * 10};
inline constexpr std::chrono::hours kServerCertLifetime{24 * 365};
inline constexpr std::chrono::hours kReissueBefore{24 * 30};

struct ServerTls {
  std::string ca_cert_pem;
  std::string ca_fingerprint;   // hex SHA-256 of the CA's DER
  crypto::CertifiedKey server;  // the API's chain (leaf, CA) and key
  bool ca_created = false;      // made by this call
  bool server_issued = false;   // issued by this call
};

// Loads `data_dir`'s CA, making it when neither of its files exists, and the
// API certificate for `names` (DNS names and IPs), issuing it again when it is
// missing or does not fit (crypto::ServerCertificateFits with kReissueBefore).
// Errors: kFailedPrecondition when only one of the CA's files exists (but a
// key left by a making cut short: the CA is made again), they do not parse
// or a key file is readable by others; kUnavailable when a file
// cannot be read or written; kInvalidArgument for a name that is neither a
// DNS name nor an IP.
Result<ServerTls> LoadOrCreateServerTls(const std::string& data_dir,
                                        const std::vector<std::string>& names,
                                        std::chrono::system_clock::time_point now);

// The names the API's certificate must carry: the hosts of `listen` and
// `advertise` (a URL; either may be empty or bind every address, then left
// out), `extra` (--tls-name), and, when `listen` binds every address,
// `machine` (MachineNames: what agents on other machines dial), then
// localhost, 127.0.0.1 and ::1. Once each.
std::vector<std::string> ServerCertificateNames(const std::string& listen,
                                                const std::string& advertise,
                                                const std::vector<std::string>& extra = {},
                                                const std::vector<std::string>& machine = {});

// This machine's host name (agent::MachineName, which a server listening on
// every address advertises) and its interfaces' addresses but link-local
// IPv6 ones (getifaddrs; none when it fails).
std::vector<std::string> MachineNames();

// Whether the API serves HTTPS: when asked (`https`), or when `listen` is not
// a loopback address and plain HTTP was not asked for (`insecure_http`).
bool ServesTls(const std::string& listen, bool https, bool insecure_http);

// kInvalidArgument (field "https") when both --https and --insecure-http are
// given: they ask for opposite things, and one used to win silently.
Status CheckTlsFlags(bool https, bool insecure_http);

// Whether tokens and credentials cross the network in clear: the API serves
// plain HTTP (`serves_tls` false, --insecure-http) on a `listen` address
// that is not loopback. The server warns then.
bool ServesClearOffLoopback(const std::string& listen, bool serves_tls);

}  // namespace skiff::server
