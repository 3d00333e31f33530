// Helpers for the crypto unit tests: cached keys and a small certificate factory built directly on
// OpenSSL (independent of the code under test, so the tests can check it).
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/crypto.h"

namespace acme::crypto::testing {

inline const std::vector<KeyType>& all_key_types() {
    static const std::vector<KeyType> types = {KeyType::ecdsa_p256, KeyType::ecdsa_p384,
                                               KeyType::rsa2048, KeyType::rsa3072,
                                               KeyType::rsa4096};
    return types;
}

// Test name suffix for a KeyType parameter ("ecdsa_p256").
struct KeyParamName {
    std::string operator()(const ::testing::TestParamInfo<KeyType>& param) const {
        std::string n = key_type_name(param.param);
        for (char& c : n)
            if (c == '-') c = '_';
        return n;
    }
};

// One key per type for the whole test binary (RSA-4096 generation is slow).
inline EVP_PKEY* cached_key(KeyType t) {
    static std::map<KeyType, PKey> keys;
    auto it = keys.find(t);
    if (it == keys.end()) it = keys.emplace(t, generate_key(t)).first;
    return it->second.get();
}

inline bool error_queue_empty() {
    return ERR_peek_error() == 0;
}

inline std::string read_test_file(const std::string& name) {
    std::ifstream in(std::string(ACME_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Fails the test (and throws) if an OpenSSL call in a helper fails.
inline void check(bool ok, const char* what) {
    if (!ok) {
        ERR_print_errors_fp(stderr);
        throw std::runtime_error(std::string("test helper: ") + what);
    }
}

struct CertSpec {
    std::string cn;
    std::string org;  // optional O= in the subject
    std::vector<std::string> dns;
    std::vector<std::string> ips;  // textual, parsed with a2i_IPADDRESS
    bool ca = false;
    long serial = 1;
    std::string serial_bytes;  // when set, the serial's magnitude bytes (overrides `serial`)
    std::string aki;           // when set, this authorityKeyIdentifier keyIdentifier
    bool ski = true;           // subjectKeyIdentifier (and AKI from the issuer's SKI)
    int64_t not_before = 1700000000;
    int64_t not_after = 1800000000;
};

// Certificate for `subject_key`, issued by (`issuer`, `issuer_key`), or self-signed when `issuer`
// is null.
inline X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                         EVP_PKEY* issuer_key) {
    X509Ptr x(X509_new());
    check(x != nullptr, "X509_new");
    check(X509_set_version(x.get(), X509_VERSION_3) == 1, "version");
    if (!spec.serial_bytes.empty()) {
        BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(spec.serial_bytes.data()),
                               static_cast<int>(spec.serial_bytes.size()), nullptr));
        check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) != nullptr, "serial");
    } else {
        check(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial) == 1, "serial");
    }
    X509NamePtr name(X509_NAME_new());
    if (!spec.org.empty())
        X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(spec.org.c_str()), -1, -1,
                                   0);
    X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
    check(X509_set_subject_name(x.get(), name.get()) == 1, "subject");
    check(X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name.get()) == 1,
          "issuer");
    check(ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(spec.not_before)) !=
              nullptr,
          "notBefore");
    check(
        ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(spec.not_after)) != nullptr,
        "notAfter");
    check(X509_set_pubkey(x.get(), subject_key) == 1, "pubkey");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
        X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
        check(ext && X509_add_ext(x.get(), ext.get(), -1) == 1, "extension");
    };
    add(NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (spec.ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
    if (spec.ski) add(NID_subject_key_identifier, "hash");
    if (!spec.aki.empty()) {
        AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
        akid->keyid = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>(spec.aki.data()),
                              static_cast<int>(spec.aki.size()));
        check(X509_add1_ext_i2d(x.get(), NID_authority_key_identifier, akid, 0,
                                X509V3_ADD_DEFAULT) == 1,
              "aki");
        AUTHORITY_KEYID_free(akid);
    } else if (issuer && spec.ski) {
        add(NID_authority_key_identifier, "keyid:always");
    }
    std::string san;
    for (const auto& d : spec.dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& i : spec.ips) san += (san.empty() ? "" : ",") + std::string("IP:") + i;
    if (!san.empty()) add(NID_subject_alt_name, san);
    check(X509_sign(x.get(), issuer_key, EVP_sha256()) > 0, "sign");
    return x;
}

// Public-only copy of `key` (what a PUBKEY PEM gives).
inline PKey public_only(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PUBKEY(bio.get(), key) == 1, "write PUBKEY");
    PKey pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    check(pub != nullptr, "read PUBKEY");
    return pub;
}

inline std::string to_hex(const std::string& bytes) {
    static const char d[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

}  // namespace acme::crypto::testing
