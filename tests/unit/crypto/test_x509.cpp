#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <functional>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::CertSpec;
using testing::error_queue_empty;
using testing::make_cert;
using testing::to_hex;

std::string der_of(X509* x) {
    unsigned char* out = nullptr;
    int len = i2d_X509(x, &out);
    std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    return der;
}

std::string pem_of(X509* x) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), x);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
}

// root -> intermediate -> leaf, made with OpenSSL directly.
class X509Test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        root_key_ = generate_key(KeyType::ecdsa_p256).release();
        inter_key_ = generate_key(KeyType::ecdsa_p256).release();
        other_key_ = generate_key(KeyType::ecdsa_p256).release();

        CertSpec root;
        root.cn = "Test Root";
        root.org = "Crypto Tests";
        root.ca = true;
        root.not_before = 1600000000;
        root.not_after = 2000000000;
        root_ = make_cert(root, root_key_, nullptr, root_key_).release();

        CertSpec other_root = root;
        other_root.cn = "Other Root";
        other_root_ = make_cert(other_root, other_key_, nullptr, other_key_).release();

        CertSpec inter;
        inter.cn = "Test Intermediate";
        inter.org = "Crypto Tests";
        inter.ca = true;
        inter.serial = 2;
        inter.not_before = 1650000000;
        inter.not_after = 1950000000;
        inter_ = make_cert(inter, inter_key_, root_, root_key_).release();
        // Same name as the intermediate, another key: a chain through it cannot verify.
        fake_inter_ = make_cert(inter, other_key_, root_, root_key_).release();

        CertSpec leaf;
        leaf.cn = "leaf.example.org";
        leaf.org = "Crypto Tests";
        leaf.dns = {"leaf.example.org", "*.Example.org", "www.leaf.example.org"};
        leaf.ips = {"192.0.2.10", "2001:db8::10"};
        leaf.serial_bytes = "\x8f\x01\x02";
        leaf.not_before = 1700000000;
        leaf.not_after = 1800000000;
        leaf_ = make_cert(leaf, cached_key(KeyType::ecdsa_p256), inter_, inter_key_).release();
    }
    static void TearDownTestSuite() {
        for (X509* x : {root_, other_root_, inter_, fake_inter_, leaf_}) X509_free(x);
        for (EVP_PKEY* k : {root_key_, inter_key_, other_key_}) EVP_PKEY_free(k);
    }

    static Chain chain_of(std::initializer_list<X509*> certs) {
        Chain c;
        for (X509* x : certs) c.push_back(share(x));
        return c;
    }

    static inline EVP_PKEY* root_key_ = nullptr;
    static inline EVP_PKEY* inter_key_ = nullptr;
    static inline EVP_PKEY* other_key_ = nullptr;
    static inline X509* root_ = nullptr;
    static inline X509* other_root_ = nullptr;
    static inline X509* inter_ = nullptr;
    static inline X509* fake_inter_ = nullptr;
    static inline X509* leaf_ = nullptr;
};

TEST_F(X509Test, CertInfoOfALeaf) {
    CertInfo info = cert_info(leaf_);
    EXPECT_TRUE(error_queue_empty());
    EXPECT_EQ(info.subject, "CN=leaf.example.org,O=Crypto Tests");
    EXPECT_EQ(info.issuer, "CN=Test Intermediate,O=Crypto Tests");
    EXPECT_EQ(info.issuer_cn, "Test Intermediate");
    EXPECT_EQ(info.serial_hex, "8f0102");
    EXPECT_EQ(info.not_before, 1700000000);
    EXPECT_EQ(info.not_after, 1800000000);
    EXPECT_EQ(info.dns_names, (std::vector<std::string>{"leaf.example.org", "*.Example.org",
                                                        "www.leaf.example.org"}));
    EXPECT_EQ(info.ip_addresses, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
    const std::string der = der_of(leaf_);
    unsigned char md[32];
    SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), md);
    EXPECT_EQ(info.sha256_fingerprint_hex, to_hex(std::string(reinterpret_cast<char*>(md), 32)));
    EXPECT_FALSE(info.is_ca);
}

TEST_F(X509Test, CertInfoOfCas) {
    CertInfo root = cert_info(root_);
    EXPECT_TRUE(root.is_ca);
    EXPECT_EQ(root.subject, root.issuer);
    EXPECT_EQ(root.issuer_cn, "Test Root");
    EXPECT_EQ(root.serial_hex, "01");
    EXPECT_TRUE(root.dns_names.empty());
    EXPECT_TRUE(root.ip_addresses.empty());
    EXPECT_TRUE(cert_info(inter_).is_ca);
}

TEST_F(X509Test, SerialHexKeepsOneLeadingZeroDigitAtMost) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    CertSpec spec;
    spec.cn = "serial";
    spec.serial_bytes = std::string("\x0a\xbc", 2);
    EXPECT_EQ(cert_info(make_cert(spec, key, nullptr, key).get()).serial_hex, "0abc");
    spec.serial_bytes = std::string("\x00\x00\xff\x01", 4);
    EXPECT_EQ(cert_info(make_cert(spec, key, nullptr, key).get()).serial_hex, "ff01");
    spec.serial_bytes.clear();
    spec.serial = 0;
    EXPECT_EQ(cert_info(make_cert(spec, key, nullptr, key).get()).serial_hex, "0");
}

TEST_F(X509Test, CertInfoOfAnIssuerWithoutCn) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    X509Ptr x(X509_new());
    X509_set_version(x.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 5);
    X509NamePtr name(X509_NAME_new());
    X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("Org, Inc."), -1, -1, 0);
    X509_set_subject_name(x.get(), name.get());
    X509_set_issuer_name(x.get(), name.get());
    ASN1_TIME_set(X509_getm_notBefore(x.get()), 0);
    ASN1_TIME_set(X509_getm_notAfter(x.get()), 86400);
    X509_set_pubkey(x.get(), key);
    ASSERT_GT(X509_sign(x.get(), key, EVP_sha256()), 0);
    CertInfo info = cert_info(x.get());
    EXPECT_EQ(info.issuer_cn, "");
    EXPECT_EQ(info.issuer, "O=Org\\, Inc.");  // RFC 2253 escaping
    EXPECT_EQ(info.not_before, 0);
    EXPECT_EQ(info.not_after, 86400);
    EXPECT_FALSE(info.is_ca);
}

TEST_F(X509Test, PemChainSkipsAPrivateKeyAndKeepsOrder) {
    const std::string pem =
        pem_of(leaf_) + "\n" + private_key_to_pem(cached_key(KeyType::rsa2048)) + pem_of(inter_);
    Chain chain = parse_pem_chain(pem);
    EXPECT_TRUE(error_queue_empty());
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(der_of(chain[0].get()), der_of(leaf_));
    EXPECT_EQ(der_of(chain[1].get()), der_of(inter_));
}

TEST_F(X509Test, PemChainAcceptsCrLf) {
    std::string pem = pem_of(leaf_) + pem_of(inter_) + pem_of(root_);
    std::string crlf;
    for (char c : pem) crlf += (c == '\n') ? std::string("\r\n") : std::string(1, c);
    Chain chain = parse_pem_chain(crlf);
    ASSERT_EQ(chain.size(), 3u);
    EXPECT_EQ(der_of(chain[2].get()), der_of(root_));
}

TEST_F(X509Test, PemRoundTrip) {
    const std::string pem = cert_to_pem(leaf_);
    EXPECT_EQ(pem, pem_of(leaf_));
    EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
    Chain back = parse_pem_chain(pem);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(X509_cmp(back[0].get(), leaf_), 0);
}

TEST_F(X509Test, DerRoundTrip) {
    const std::string der = cert_to_der(leaf_);
    EXPECT_EQ(der, der_of(leaf_));
    X509Ptr back = parse_der_cert(der);
    EXPECT_EQ(X509_cmp(back.get(), leaf_), 0);
    EXPECT_EQ(cert_to_der(back.get()), der);
    EXPECT_TRUE(error_queue_empty());
}

void expect_bad(const std::function<void()>& fn) {
    try {
        fn();
        ADD_FAILURE() << "accepted bad input";
    } catch (const Error& e) {
        EXPECT_TRUE(e.status() == Status::invalid || e.status() == Status::crypto) << e.what();
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST_F(X509Test, BadPemAndDerThrow) {
    expect_bad([] { parse_pem_chain(""); });
    expect_bad([] { parse_pem_chain("garbage\n"); });
    expect_bad([] { parse_pem_chain(private_key_to_pem(cached_key(KeyType::ecdsa_p256))); });
    expect_bad(
        [] { parse_pem_chain("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"); });
    expect_bad(
        [] { parse_pem_chain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"); });
    // A broken second certificate is an error, not a silently shorter chain.
    expect_bad([] {
        parse_pem_chain(pem_of(leaf_) +
                        "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");
    });
    expect_bad([] { parse_der_cert(""); });
    expect_bad([] { parse_der_cert("\x30\x03\x02\x01\x01"); });
    expect_bad([] { parse_der_cert(der_of(leaf_) + "x"); });           // trailing data
    expect_bad([] { parse_der_cert(der_of(leaf_).substr(0, 100)); });  // truncated
}

TEST_F(X509Test, CertMatchesKey) {
    EVP_PKEY* leaf_key = cached_key(KeyType::ecdsa_p256);
    EXPECT_TRUE(cert_matches_key(leaf_, leaf_key));
    PKey pub = testing::public_only(leaf_key);
    EXPECT_TRUE(cert_matches_key(leaf_, pub.get()));
    EXPECT_FALSE(cert_matches_key(leaf_, inter_key_));
    EXPECT_FALSE(cert_matches_key(leaf_, cached_key(KeyType::rsa2048)));
    EXPECT_TRUE(cert_matches_key(inter_, inter_key_));
    EXPECT_TRUE(error_queue_empty());
}

TEST_F(X509Test, CertCoversNames) {
    EXPECT_TRUE(cert_covers_names(leaf_, {"leaf.example.org"}));
    EXPECT_TRUE(cert_covers_names(leaf_, {"LEAF.Example.ORG", "www.leaf.example.org"}));
    EXPECT_TRUE(cert_covers_names(leaf_, {"*.example.org"}));     // same wildcard, other case
    EXPECT_FALSE(cert_covers_names(leaf_, {"foo.example.org"}));  // no wildcard matching
    EXPECT_FALSE(cert_covers_names(leaf_, {"*.leaf.example.org"}));
    EXPECT_TRUE(cert_covers_names(leaf_, {"192.0.2.10"}));
    EXPECT_TRUE(cert_covers_names(leaf_, {"2001:0db8:0:0::10"}));  // compared as addresses
    EXPECT_FALSE(cert_covers_names(leaf_, {"192.0.2.11"}));
    EXPECT_FALSE(cert_covers_names(leaf_, {"leaf.example.org", "missing.example.org"}));
    EXPECT_FALSE(cert_covers_names(leaf_, {""}));
    EXPECT_FALSE(cert_covers_names(root_, {"Test Root"}));  // the CN is not a SAN
    EXPECT_TRUE(error_queue_empty());
}

TEST_F(X509Test, VerifyChainAgainstTrustedRoots) {
    const std::string roots = pem_of(root_);
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), roots, 1750000000), "");
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_, root_}), roots, 1750000000), "");
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), pem_of(other_root_) + roots, 1750000000), "");
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), roots, 1850000000),
              "certificate has expired");
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), roots, 1690000000),
              "certificate is not yet valid");
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), pem_of(other_root_), 1750000000),
              "unable to get local issuer certificate");
    EXPECT_EQ(verify_chain(chain_of({leaf_}), roots, 1750000000),
              "unable to get local issuer certificate");
    EXPECT_NE(verify_chain(chain_of({leaf_, fake_inter_}), roots, 1750000000), "");
    // An intermediate in the trusted bundle is no anchor, and no stand-in for one left out.
    EXPECT_NE(verify_chain(chain_of({leaf_}), pem_of(inter_), 1750000000), "");
    EXPECT_EQ(verify_chain(chain_of({leaf_}), pem_of(inter_) + roots, 1750000000),
              "the chain lacks an intermediate certificate that clients need");
    EXPECT_NE(verify_chain(Chain{}, roots, 1750000000), "");
    EXPECT_TRUE(error_queue_empty());
    expect_bad([&] { verify_chain(chain_of({leaf_, inter_}), "not a pem", 1750000000); });
}

TEST_F(X509Test, VerifyChainWithoutRootsUsesTheSystemTrustStore) {
    // The test roots are not in the system store.
    EXPECT_EQ(verify_chain(chain_of({leaf_, inter_}), "", 1750000000),
              "unable to get local issuer certificate");
    EXPECT_EQ(verify_chain(chain_of({leaf_}), "", 1750000000),
              "unable to get local issuer certificate");
    EXPECT_NE(verify_chain(Chain{}, "", 1750000000), "");
    EXPECT_TRUE(error_queue_empty());
}

TEST_F(X509Test, AriCertIdOfTheRfc9773Example) {
    // RFC 9773 appendix A: AKI 69:88:5B:..., serial 0x87654321 (encoded 00 87 65 43 21).
    Chain c = parse_pem_chain(testing::read_test_file("rfc9773-example-cert.pem"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(ari_cert_id(c[0].get()), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    // Its odd validity (year 1) still decodes.
    CertInfo info = cert_info(c[0].get());
    EXPECT_EQ(info.serial_hex, "87654321");
    EXPECT_EQ(info.issuer_cn, "Example CA");
    EXPECT_EQ(info.subject, "CN=example.com");
    EXPECT_EQ(info.not_before, -62135596800);  // 0001-01-01T00:00:00Z
    EXPECT_TRUE(error_queue_empty());
}

TEST_F(X509Test, AriCertIdSerialContentOctets) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    CertSpec spec;
    spec.cn = "ari";
    spec.aki = "\x01\x02\x03";
    struct Case {
        std::string serial;
        std::string want;
    };
    for (const Case& c :
         {Case{"\x80", "AQID.AIA"}, Case{"\x7f", "AQID.fw"},
          Case{std::string("\x01\x00", 2), "AQID.AQA"}, Case{"\xff\xff", "AQID.AP__"}}) {
        spec.serial_bytes = c.serial;
        X509Ptr x = make_cert(spec, key, nullptr, key);
        EXPECT_EQ(ari_cert_id(x.get()), c.want);
    }
    // A 20-byte serial with the top bit set: 21 content octets.
    spec.serial_bytes = std::string(20, '\xee');
    X509Ptr x = make_cert(spec, key, nullptr, key);
    EXPECT_EQ(ari_cert_id(x.get()),
              "AQID." + base64url_encode(std::string(1, '\0') + spec.serial_bytes));
}

TEST_F(X509Test, AriCertIdUsesTheIssuersKeyIdentifier) {
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(inter_);
    ASSERT_NE(ski, nullptr);
    const std::string want_prefix =
        base64url_encode(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                                     static_cast<size_t>(ASN1_STRING_length(ski)))) +
        ".";
    EXPECT_EQ(ari_cert_id(leaf_),
              want_prefix + base64url_encode(std::string("\x00\x8f\x01\x02", 4)));
}

TEST_F(X509Test, AriCertIdNeedsAnAki) {
    try {
        ari_cert_id(root_);  // self-signed without an AKI
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
    }
    EXPECT_TRUE(error_queue_empty());
}

}  // namespace
}  // namespace acme::crypto
