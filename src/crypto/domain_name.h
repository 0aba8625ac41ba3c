// Which names a certificate's domain covers: the one rule the edge's SNI
// table, the certificate store's checks and the ACME orderer share.
#pragma once

#include <string_view>

namespace skiff::crypto {

// Whether `pattern` ("web.com", or "*.web.com") covers `host`: equal names,
// or a wildcard standing for exactly one leftmost label ("*.web.com" covers
// "a.web.com", not "web.com" nor "a.b.web.com"), as RFC 6125 §6.4.3 allows
// and browsers do. Case-insensitive; neither may carry a port or a trailing dot.
bool DomainCovers(std::string_view pattern, std::string_view host);

}  // namespace skiff::crypto
