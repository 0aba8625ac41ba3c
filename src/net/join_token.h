// The join token's text: "SKIFF1-<CA fingerprint>-<secret>". The
// fingerprint (hex SHA-256 of the server CA's DER) lets a joining agent or
// edge verify the server before it sends the token (kubeadm's
// --discovery-token-ca-cert-hash, Swarm's SWMTKN). A token of an earlier
// version is the bare secret: it carries no fingerprint.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "net/tls.h"

namespace skiff::net {

inline constexpr std::string_view kJoinTokenVersion = "SKIFF1";

struct ParsedJoinToken {
  std::string ca_fingerprint;  // empty for a bare (earlier) token
  std::string secret;          // what the server checks
};

// Splits `token`; anything not of the SKIFF1 form is a bare secret.
ParsedJoinToken ParseJoinToken(std::string_view token);

// "SKIFF1-<ca_fingerprint>-<secret>"; the bare secret when the fingerprint
// is empty.
std::string FormatJoinToken(std::string_view ca_fingerprint, std::string_view secret);

// Whether `text` is a CA fingerprint as tokens carry it: 64 lowercase hex
// digits (a SHA-256).
bool IsCaFingerprint(std::string_view text);

// Whether `host` (a name or IP, no port) is this machine's loopback:
// "localhost", 127.0.0.0/8, ::1.
bool IsLoopbackHost(std::string_view host);

// Whether a secret sent to base URL `url` would cross the network in clear:
// http:// to a host that is not loopback (IsLoopbackHost).
bool SendsInClear(std::string_view url);

// Whom a part that sends a secret (a join token, a node credential, a token)
// to `servers` trusts: the CAs in `ca_file` when given, else the pinned
// `ca_fingerprint` when given, else the system's roots. And, whatever the
// trust, no server of the list may be plain http:// off loopback: the secret
// would cross the network in clear.
// Errors: kFailedPrecondition naming the URL sent in clear; kInvalidArgument
// for a CA file that cannot be read (TlsTrust::FromCaFile) or a fingerprint
// that is not 64 lowercase hex digits.
Result<TlsTrust> TrustForSecrets(std::string_view servers, const std::string& ca_file,
                                 const std::string& ca_fingerprint);

}  // namespace skiff::net
