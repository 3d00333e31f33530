// RAII owners for every OpenSSL object the core uses. Logic code never calls *_free directly.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace acme::crypto {

template <typename T, void (*Free)(T*)>
struct OsslDeleter {
    void operator()(T* p) const noexcept {
        if (p) Free(p);
    }
};

using PKey = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OsslDeleter<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO, BIO_free_all>>;
using PKeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BIGNUM, BN_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OsslDeleter<X509_NAME, X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OsslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using Asn1OctetPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OsslDeleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

// A certificate chain: leaf first, then intermediates (as served in the TLS Certificate message).
using Chain = std::vector<X509Ptr>;

// Up-refs and wraps (for sharing a key or certificate between owners).
PKey share(EVP_PKEY* k);
X509Ptr share(X509* c);

// Throws Error(crypto) with `what` and the text of OpenSSL's error queue (which it clears).
[[noreturn]] void fail_openssl(const std::string& what);

}  // namespace acme::crypto
