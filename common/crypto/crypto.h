// Crypto for ACME (OpenSSL 3 only). Keys, JWK/JWS, EAB, CSR, X.509 parsing, certificate checks, and
// the two certificates we make ourselves: the self-signed fallback and the RFC 8737 tls-alpn-01
// validation certificate.
//
// Contract: every function throws acme::Error (crypto for OpenSSL failures, invalid for bad input)
// and leaves OpenSSL's error queue empty. No function logs key material. All are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ossl.h"
#include "json/json.h"

namespace acme::crypto {

// ---- keys -----------------------------------------------------------------------------------

enum class KeyType { ecdsa_p256, ecdsa_p384, rsa2048, rsa3072, rsa4096 };

// Canonical names: "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096".
// parse_key_type() accepts only these and throws Error(invalid) naming the value and listing them.
const char* key_type_name(KeyType t) noexcept;
KeyType parse_key_type(std::string_view name);
bool is_rsa(KeyType t) noexcept;

PKey generate_key(KeyType t);
KeyType key_type_of(EVP_PKEY* key);          // throws Error(invalid) for unsupported keys
std::string private_key_to_pem(EVP_PKEY* key);  // PKCS#8, unencrypted
PKey private_key_from_pem(std::string_view pem);  // first private key in `pem`; throws if none
std::string public_key_to_pem(EVP_PKEY* key);

// ---- JWK / JWS (RFC 7515, 7517, 7638, 8555 section 6.2) --------------------------------------

// Public JWK with only the required members (RSA: e, kty, n; EC: crv, kty, x, y), coordinates
// left-padded to the curve size.
Json jwk(EVP_PKEY* key);
// RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)).
std::string jwk_thumbprint(EVP_PKEY* key);
// "RS256" for RSA, "ES256" for P-256, "ES384" for P-384.
const char* jws_alg(EVP_PKEY* key);

// Flattened JWS JSON serialization {"protected","payload","signature"}. `protected_header` gets
// "alg" added. An empty `payload` is kept empty (POST-as-GET). ECDSA signatures are the fixed-width
// r||s concatenation of RFC 7518 section 3.4, not DER.
Json jws_sign(EVP_PKEY* key, Json protected_header, std::string_view payload);
// Verifies a flattened JWS made by jws_sign with the public part of `key` (for tests and for
// checking our own output); returns false on any mismatch.
bool jws_verify(EVP_PKEY* key, const Json& jws);

// External Account Binding (RFC 8555 section 7.3.4): a JWS over the account's public JWK, MAC'd
// with the CA-provided HMAC key. `hmac_key_b64url` is the base64url key as CAs hand it out; `alg`
// is "HS256" (default), "HS384" or "HS512".
Json eab_jws(std::string_view kid, std::string_view hmac_key_b64url, EVP_PKEY* account_key,
             std::string_view new_account_url, std::string_view alg = "HS256");

// ---- digests / random ----------------------------------------------------------------------------

std::string sha256(std::string_view data);  // raw 32 bytes
std::string hmac(std::string_view alg /* HS256|HS384|HS512 */, std::string_view key,
                 std::string_view data);
std::string random_bytes(size_t n);
uint64_t random_u64();
// Uniform in [lo, hi] (inclusive); lo <= hi.
int64_t random_between(int64_t lo, int64_t hi);

// ---- CSR ------------------------------------------------------------------------------------

// DER CSR signed by `key` with every name as a SAN: names that parse as IPv4/IPv6 addresses become
// iPAddress SANs, all others dNSName (wildcards allowed). The subject CN is the first DNS name
// when it fits in 64 bytes, else empty. Throws Error(invalid) for an empty list.
std::string make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names);

// ---- X.509 ------------------------------------------------------------------------------------

struct CertInfo {
    std::string subject;       // one-line RFC 2253 form
    std::string issuer;        // one-line RFC 2253 form
    std::string issuer_cn;     // issuer commonName, "" when absent
    std::string serial_hex;    // lowercase hex, no leading zeros beyond one byte
    int64_t not_before = 0;    // Unix seconds
    int64_t not_after = 0;
    std::vector<std::string> dns_names;  // SAN dNSName, as written
    std::vector<std::string> ip_addresses;  // SAN iPAddress, textual form
    std::string sha256_fingerprint_hex;
    bool is_ca = false;
};

CertInfo cert_info(X509* cert);
// Every certificate in `pem`, in order. Throws Error(invalid) if there is none.
Chain parse_pem_chain(std::string_view pem);
X509Ptr parse_der_cert(std::string_view der);
std::string cert_to_pem(X509* cert);
std::string cert_to_der(X509* cert);
bool cert_matches_key(X509* cert, EVP_PKEY* key);
// True when every name in `names` is covered by the certificate's SANs (exact match; a wildcard
// name must appear as the same wildcard). Comparison is case-insensitive.
bool cert_covers_names(X509* cert, const std::vector<std::string>& names);
// Verifies `chain` (leaf first, as a server would send it) the way a TLS client that trusts
// only `roots_pem` (a bundle of root certificates), or the system trust store when `roots_pem` is
// empty, would: every certificate valid at `at_time`, each signed by the next, ending at a
// self-signed root of the trust store. Every certificate between the leaf and that root must be
// in `chain` itself (clients hold roots, not intermediates). Returns "" when it verifies, else
// the reason. Throws Error(invalid) when `roots_pem` holds no certificate.
std::string verify_chain(const Chain& chain, std::string_view roots_pem, int64_t at_time);

// ---- OCSP (RFC 6960), for stapling ---------------------------------------------------------

struct OcspStatus {
    enum class Kind { good, revoked, unknown };
    Kind status = Kind::unknown;
    int64_t this_update = 0;
    int64_t next_update = 0;
    int64_t revoked_at = 0;  // revoked only
};

// The first OCSP responder URL of the certificate's Authority Information Access; "" when none.
std::string ocsp_responder_url(X509* leaf);
// DER OCSPRequest for `leaf` (issued by `issuer`), SHA-1 certificate id, no nonce (responses are
// cached and stapled).
std::string ocsp_request_der(X509* leaf, X509* issuer);
// Checks a responder's answer the way a client checks a staple: a successful basic response,
// signed by `issuer` or by a responder it delegated to that chains up to `roots_pem` (the system
// trust store when empty), about `leaf`, current at `now` (thisUpdate at most 5 minutes ahead,
// nextUpdate present and ahead). Returns the status it reports. Throws Error(protocol) for an
// unusable answer and Error(verify) for one that does not verify.
OcspStatus check_ocsp_response(std::string_view der, X509* leaf, X509* issuer,
                               std::string_view roots_pem, int64_t now);
// Whether a stored response (checked when it was fetched) still fits: about `leaf`, "good",
// nextUpdate after `now` (returned in *next_update). No signature check. For the cache, when it
// loads a staple.
bool ocsp_staple_fits(std::string_view der, X509* leaf, X509* issuer, int64_t now,
                      int64_t* next_update) noexcept;

// RFC 9773 (ARI) CertID: base64url(AKI keyIdentifier) "." base64url(serial DER content bytes).
// Throws Error(invalid) when the certificate has no AKI keyIdentifier.
std::string ari_cert_id(X509* cert);

// ---- certificates we make -------------------------------------------------------------------

// Self-signed certificate for `names` (SANs as in make_csr_der) valid from now-1h for
// `valid_seconds`, subject CN "acme fallback <first name>", so a server has something to present
// before the real certificate arrives.
X509Ptr make_self_signed(EVP_PKEY* key, const std::vector<std::string>& names,
                         int64_t valid_seconds);

// RFC 8737 validation certificate for `identifier` (DNS name or IP), carrying the critical
// id-pe-acmeIdentifier extension (1.3.6.1.5.5.7.1.31) whose value is the DER OCTET STRING of
// SHA-256(key_authorization).
X509Ptr make_tls_alpn_cert(EVP_PKEY* key, const std::string& identifier,
                           const std::string& key_authorization);

}  // namespace acme::crypto
