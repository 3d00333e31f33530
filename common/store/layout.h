// The one place that builds store keys. Nothing else concatenates store paths.
//
//   accounts/<account-id>/account.json, account.key one account per CA and EAB key id
//   certs/<name>/<keytype>.pem                      private key + leaf + chain, one value
//   certs/<name>/meta.json                          names, issuer, not-after, ARI, schedule state
//   certs/<name>/<keytype>.ocsp                     OCSP response to staple (DER)
//   certs/<name>/archive/<unix-time>-<keytype>.pem  replaced bundles
//   orders/<name>.<keytype>.json, .key              order in progress (resumable after a crash)
//   challenges/http-01/<token>                      http-01 key authorizations
//   challenges/tls-alpn-01/<identifier>.pem         tls-alpn-01 validation key + certificate
//   fallback/<name>/<keytype>.pem                   self-signed stand-in until the first issuance
//   generation                                      shared counter, bumped after every install
//   locks/<lock-name>.lock                          driver and per-certificate locks
//   locks/driver-<config-id>.json                   who drives that configuration, doing what
#pragma once

#include <string>
#include <string_view>

namespace acme::layout {

// A certificate's store name from its first domain: lowercased, the "*" of a leading "*."
// becomes "_wildcard", and anything outside [a-z0-9._-] is refused (throws Error(invalid) naming
// the value). "." and ".." and names starting with "." are refused, and so are names longer than
// 230 characters (the longest key built from a name must fit NAME_MAX).
std::string cert_name(std::string_view requested);
// A CA's id from its directory URL: "<host>[_<port>]<path with / as ->-<8 hex of sha256(url)>",
// lowercased, other characters outside [a-z0-9._-] as '_' (a valid name, also inside lock names).
std::string ca_id(std::string_view directory_url);
// An account's id: ca_id() for an account without external account binding, else ca_id() +
// "-eab-" + 8 hex of sha256(key id), so that two EAB keys at one CA are two accounts. (Stores made
// before this kept an EAB account under ca_id() alone; acme/account.cpp still finds it there.)
std::string account_id(std::string_view directory_url, std::string_view eab_kid);
// True for a well-formed http-01 token (base64url alphabet, 1..128 characters). Checked before
// any lookup.
bool valid_token(std::string_view token) noexcept;
// A DNS name or IP literal usable as a file name (lowercased; only [a-z0-9._:-], refuses '/',
// '*' and a leading '.'; at most 250 characters). Throws Error(invalid).
std::string identifier_file_name(std::string_view identifier);

// Key builders check their parts (a name as cert_name() returns it, a ca_id() value, a key type
// of [a-z0-9-]) and throw Error(invalid) for anything else.
std::string account_json(const std::string& ca_id);
std::string account_key(const std::string& ca_id);
std::string cert_dir(const std::string& name);
std::string cert_bundle(const std::string& name, std::string_view key_type);
std::string cert_meta(const std::string& name);
// The OCSP response stapled with the certificate of that key type (DER).
std::string cert_ocsp(const std::string& name, std::string_view key_type);
std::string cert_archive_dir(const std::string& name);
std::string cert_archive(const std::string& name, std::string_view key_type, long long unix_time);
std::string order_json(const std::string& name, std::string_view key_type);
std::string order_key(const std::string& name, std::string_view key_type);
std::string http01_challenge(std::string_view token);  // token must be valid_token()
std::string tls_alpn01_challenge(std::string_view identifier);
std::string fallback_bundle(const std::string& name, std::string_view key_type);
std::string driver_state(const std::string& config_id);

// The directories of pending challenges (entries: what http01_challenge / tls_alpn01_challenge
// put there).
constexpr const char* kHttp01Dir = "challenges/http-01";
constexpr const char* kTlsAlpn01Dir = "challenges/tls-alpn-01";

constexpr const char* kCertsDir = "certs";
constexpr const char* kAccountsDir = "accounts";
constexpr const char* kOrdersDir = "orders";

}  // namespace acme::layout
