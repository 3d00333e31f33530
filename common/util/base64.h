// Base64 and base64url (RFC 4648). ACME uses unpadded base64url everywhere (RFC 8555 section 6.1).
#pragma once

#include <string>
#include <string_view>

namespace acme {

std::string base64url_encode(std::string_view data);  // no padding
// Accepts unpadded or padded input; throws Error(invalid) on a character outside the alphabet.
std::string base64url_decode(std::string_view text);
std::string base64_encode(std::string_view data);  // standard alphabet, padded
std::string base64_decode(std::string_view text);  // skips whitespace; throws on bad input
// True when `s` is non-empty and every character is in the base64url alphabet (no padding).
bool is_base64url(std::string_view s) noexcept;

}  // namespace acme
