// Private helpers shared by the crypto/*.cpp files. Not part of the crypto API: nothing outside
// common/crypto includes this header.
//
// Contract: the same as crypto.h. Helpers throw acme::Error (crypto for OpenSSL failures, invalid
// for bad input); public functions put an ErrorQueueGuard first so OpenSSL's error queue is empty
// when they return or throw. Everything here is stateless and thread-safe.
#pragma once

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"
#include "crypto/ossl.h"

namespace acme::crypto::detail {

// Clears OpenSSL's (thread-local) error queue when the enclosing public function returns or
// throws. fail_openssl() reads the queue before the guard's destructor runs.
class ErrorQueueGuard {
public:
    ErrorQueueGuard() = default;
    ErrorQueueGuard(const ErrorQueueGuard&) = delete;
    ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
    ~ErrorQueueGuard() { ERR_clear_error(); }
};

// Drains the error queue into one line ("lib:func:reason; ..."); "" when it was empty.
std::string drain_errors();

// Owners for the OpenSSL objects only the crypto files use.
inline void free_x509_stack(STACK_OF(X509) * s) {
    sk_X509_free(s);
}  // does not free the certs
inline void free_ext_stack(STACK_OF(X509_EXTENSION) * s) {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
inline void free_openssl_string(char* p) {
    OPENSSL_free(p);
}

using X509StackPtr = std::unique_ptr<STACK_OF(X509), OsslDeleter<STACK_OF(X509), free_x509_stack>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION),
                                    OsslDeleter<STACK_OF(X509_EXTENSION), free_ext_stack>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
// The roots of `roots_pem` (a PEM bundle), or the system trust store when it is empty. Throws
// Error(invalid) for a bundle without certificates, Error(crypto) naming `what` otherwise.
X509StorePtr trust_store(std::string_view roots_pem, const char* what);

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OsslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OsslDeleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using OpensslStringPtr = std::unique_ptr<char, OsslDeleter<char, free_openssl_string>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OsslDeleter<GENERAL_NAME, GENERAL_NAME_free>>;

// A read-only memory BIO over `data` (which must outlive the BIO).
BioPtr read_bio(std::string_view data);
// A writable memory BIO, and its contents.
BioPtr write_bio();
std::string bio_contents(BIO* bio);

// Lowercase hex of `len` bytes, no separators.
std::string hex_lower(const unsigned char* data, size_t len);

// Parses `name` as an IPv4 or IPv6 address with inet_pton; on success stores the 4 or 16 network
// order bytes in `*bytes` and returns true.
bool parse_ip(const std::string& name, std::string* bytes);

// SAN GENERAL_NAMES for `names`: addresses become iPAddress, everything else dNSName. Throws
// Error(invalid) naming `what` for an empty list, an empty name, or a name with bytes outside
// printable ASCII (internationalised names must already be A-labels).
GeneralNamesPtr make_general_names(const std::vector<std::string>& names, const char* what);

// The first name that is not an IP address, when it fits in a 64-byte commonName; else "".
std::string first_dns_common_name(const std::vector<std::string>& names);

// An X509_NAME holding just CN=`cn` (an empty name when `cn` is empty).
X509NamePtr make_cn_name(const std::string& cn);

// The message digest used with `key` for certificates and CSRs we sign.
const EVP_MD* signing_digest(KeyType t);

}  // namespace acme::crypto::detail
