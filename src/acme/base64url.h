// Base64url without padding (RFC 4648 §5, as RFC 7515 §2 uses it): how every
// binary value in an ACME message (JWS parts, key coordinates, the CSR) is
// written.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::acme {

std::string Base64UrlEncode(std::string_view bytes);

// Accepts text with or without '=' padding.
// Errors: kInvalidArgument for a character outside the url alphabet or a
// length no encoding has.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace skiff::acme
