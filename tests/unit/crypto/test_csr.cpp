#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::error_queue_empty;

struct ParsedCsr {
    X509ReqPtr req;
    std::string cn;
    bool has_subject_entries = false;
    std::vector<std::pair<int, std::string>> sans;  // (GEN_DNS|GEN_IPADD, value bytes)
    bool san_critical = false;
};

ParsedCsr parse(const std::string& der) {
    ParsedCsr out;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    out.req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    EXPECT_NE(out.req, nullptr);
    if (!out.req) return out;
    EXPECT_EQ(static_cast<size_t>(p - reinterpret_cast<const unsigned char*>(der.data())),
              der.size());
    X509_NAME* name = X509_REQ_get_subject_name(out.req.get());
    out.has_subject_entries = X509_NAME_entry_count(name) > 0;
    char cn[256] = {0};
    if (X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof cn) > 0) out.cn = cn;

    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(out.req.get());
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
        X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
        out.san_critical = X509_EXTENSION_get_critical(ext) == 1;
        GENERAL_NAMES* gens = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
        for (int j = 0; j < sk_GENERAL_NAME_num(gens); ++j) {
            GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, j);
            int type = 0;
            auto* v = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(g, &type));
            out.sans.emplace_back(
                type, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                  static_cast<size_t>(ASN1_STRING_length(v))));
        }
        GENERAL_NAMES_free(gens);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return out;
}

std::string ip_bytes(int af, const char* text) {
    unsigned char buf[16];
    EXPECT_EQ(inet_pton(af, text, buf), 1);
    return std::string(reinterpret_cast<char*>(buf), af == AF_INET ? 4 : 16);
}

class CsrByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(CsrByType, CarriesEveryNameTheKeyAndAValidSignature) {
    EVP_PKEY* key = cached_key(GetParam());
    const std::vector<std::string> names = {"example.org", "*.example.org", "192.0.2.1",
                                            "2001:db8::1", "www.example.org"};
    const std::string der = make_csr_der(key, names);
    EXPECT_TRUE(error_queue_empty());
    ParsedCsr csr = parse(der);
    ASSERT_NE(csr.req, nullptr);

    EXPECT_EQ(csr.cn, "example.org");
    const std::vector<std::pair<int, std::string>> want = {
        {GEN_DNS, "example.org"},
        {GEN_DNS, "*.example.org"},
        {GEN_IPADD, ip_bytes(AF_INET, "192.0.2.1")},
        {GEN_IPADD, ip_bytes(AF_INET6, "2001:db8::1")},
        {GEN_DNS, "www.example.org"},
    };
    EXPECT_EQ(csr.sans, want);
    EXPECT_FALSE(csr.san_critical);

    EVP_PKEY* pub = X509_REQ_get0_pubkey(csr.req.get());
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(pub, key), 1);
    EXPECT_EQ(X509_REQ_verify(csr.req.get(), pub), 1);
    const int sig_nid = X509_REQ_get_signature_nid(csr.req.get());
    int md_nid = 0, pk_nid = 0;
    ASSERT_EQ(OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid), 1);
    EXPECT_EQ(md_nid, GetParam() == KeyType::ecdsa_p384 ? NID_sha384 : NID_sha256);
    EXPECT_EQ(X509_REQ_get_version(csr.req.get()), X509_REQ_VERSION_1);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CsrByType, ::testing::ValuesIn(testing::all_key_types()),
                         testing::KeyParamName());

TEST(Csr, TamperedCsrFailsVerification) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    std::string der = make_csr_der(key, {"tamper.example"});
    const size_t at = der.find("tamper.example");
    ASSERT_NE(at, std::string::npos);
    der[at] = 'x';
    ParsedCsr csr = parse(der);
    ASSERT_NE(csr.req, nullptr);
    EXPECT_NE(X509_REQ_verify(csr.req.get(), key), 1);
    ERR_clear_error();
}

TEST(Csr, CommonNameIsTheFirstDnsName) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    ParsedCsr csr = parse(make_csr_der(key, {"198.51.100.7", "b.example", "a.example"}));
    EXPECT_EQ(csr.cn, "b.example");
    EXPECT_EQ(csr.sans.size(), 3u);
    EXPECT_EQ(csr.sans[0].first, GEN_IPADD);
}

TEST(Csr, NoCommonNameWhenTheFirstDnsNameIsTooLong) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    const std::string n64 = std::string(60, 'a') + ".org";  // exactly 64 bytes
    const std::string n65 = std::string(61, 'a') + ".org";
    ParsedCsr fits = parse(make_csr_der(key, {n64}));
    EXPECT_EQ(fits.cn, n64);
    ParsedCsr too_long = parse(make_csr_der(key, {n65, "short.example"}));
    EXPECT_EQ(too_long.cn, "");
    EXPECT_FALSE(too_long.has_subject_entries);
    EXPECT_TRUE(too_long.san_critical);  // RFC 5280: critical with an empty subject
    EXPECT_EQ(too_long.sans.size(), 2u);
    EXPECT_EQ(X509_REQ_verify(too_long.req.get(), key), 1);
}

TEST(Csr, OnlyAddressesMeansNoCommonName) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    ParsedCsr csr = parse(make_csr_der(key, {"::1", "127.0.0.1"}));
    EXPECT_FALSE(csr.has_subject_entries);
    EXPECT_EQ(csr.sans, (std::vector<std::pair<int, std::string>>{
                            {GEN_IPADD, ip_bytes(AF_INET6, "::1")},
                            {GEN_IPADD, ip_bytes(AF_INET, "127.0.0.1")}}));
}

void expect_invalid(EVP_PKEY* key, const std::vector<std::string>& names) {
    try {
        make_csr_der(key, names);
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << e.what();
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST(Csr, RejectsBadInput) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    expect_invalid(key, {});
    expect_invalid(key, {""});
    expect_invalid(key, {"ok.example", ""});
    expect_invalid(key, {"b\xc3\xbc"
                         "cher.example"});  // not an A-label
    expect_invalid(key, {"space in.example"});
    PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    expect_invalid(ed.get(), {"ok.example"});
    expect_invalid(nullptr, {"ok.example"});
}

}  // namespace
}  // namespace acme::crypto
