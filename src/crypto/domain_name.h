// What a DNS name is, and which names a certificate's domain covers: the one
// rule the edge's SNI table, the certificate store's checks, the certificates
// made here and the ACME orderer share.
#pragma once

#include <string_view>

namespace skiff::crypto {

// Whether `pattern` ("web.com", or "*.web.com") covers `host`: equal names,
// or a wildcard standing for exactly one leftmost label ("*.web.com" covers
// "a.web.com", not "web.com" nor "a.b.web.com"), as RFC 6125 §6.4.3 allows
// and browsers do. Case-insensitive; neither may carry a port or a trailing dot.
bool DomainCovers(std::string_view pattern, std::string_view host);

// Whether `name` is a hostname: dot-separated labels of letters, digits and
// inner hyphens, each of 1 to 63, 253 in all; case-insensitive; no trailing dot.
bool IsHostname(std::string_view name);

// Whether `name` is a hostname, or a wildcard of one leftmost label over one
// ("*.web.com"), as a certificate may name.
bool IsDnsName(std::string_view name);

}  // namespace skiff::crypto
