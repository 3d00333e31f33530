// crypto/ocsp.cpp: the responder URL, the request, and the checks a response passes before it is
// stapled.
#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <ctime>

#include "crypto/crypto.h"
#include "support/test_pki.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

struct OcspTest : ::testing::Test {
    testing::TestCA root = testing::TestCA::make("OCSP Root");
    testing::TestCA inter = testing::TestCA::make("OCSP Intermediate", &root);
    PKey key = generate_key(KeyType::ecdsa_p256);
    X509Ptr leaf = inter.issue_with_ocsp(key.get(), {"ocsp.example"}, "http://ocsp.example/r");
    const int64_t now = time(nullptr);

    OcspStatus check(const std::string& der, const std::string& roots) {
        return check_ocsp_response(der, leaf.get(), inter.cert.get(), roots, now);
    }
    std::string error_of(const std::string& der, const std::string& roots) {
        try {
            check(der, roots);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }
};

TEST_F(OcspTest, ResponderUrlFromAuthorityInformationAccess) {
    EXPECT_EQ(ocsp_responder_url(leaf.get()), "http://ocsp.example/r");
    X509Ptr plain = inter.issue(key.get(), {"plain.example"});
    EXPECT_EQ(ocsp_responder_url(plain.get()), "");
    EXPECT_EQ(ocsp_responder_url(nullptr), "");
}

TEST_F(OcspTest, RequestNamesTheCertificate) {
    const std::string der = ocsp_request_der(leaf.get(), inter.cert.get());
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OCSP_REQUEST* req = d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(req, nullptr);
    ASSERT_EQ(OCSP_request_onereq_count(req), 1);
    OCSP_CERTID* want = OCSP_cert_to_id(EVP_sha1(), leaf.get(), inter.cert.get());
    EXPECT_EQ(OCSP_id_cmp(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0)), want), 0);
    OCSP_CERTID_free(want);
    OCSP_REQUEST_free(req);
    EXPECT_THROW(ocsp_request_der(leaf.get(), nullptr), Error);
}

TEST_F(OcspTest, AGoodCurrentResponseSignedByTheIssuer) {
    const std::string der = inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_GOOD, now - 60,
                                                now + 7 * 86400);
    OcspStatus st = check(der, root.pem());
    EXPECT_EQ(st.status, OcspStatus::Kind::good);
    EXPECT_EQ(st.this_update, now - 60);
    EXPECT_EQ(st.next_update, now + 7 * 86400);
    int64_t next = 0;
    EXPECT_TRUE(ocsp_staple_fits(der, leaf.get(), inter.cert.get(), now, &next));
    EXPECT_EQ(next, now + 7 * 86400);
    EXPECT_FALSE(ocsp_staple_fits(der, leaf.get(), inter.cert.get(), now + 8 * 86400, &next));
}

TEST_F(OcspTest, RevokedAndUnknownAreReportedAsSuch) {
    EXPECT_EQ(check(inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_REVOKED, now - 60,
                                        now + 86400), root.pem())
                  .status,
              OcspStatus::Kind::revoked);
    const std::string unknown = inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_UNKNOWN,
                                                    now - 60, now + 86400);
    EXPECT_EQ(check(unknown, root.pem()).status, OcspStatus::Kind::unknown);
    EXPECT_FALSE(ocsp_staple_fits(unknown, leaf.get(), inter.cert.get(), now, nullptr));
}

TEST_F(OcspTest, ResponsesThatMustNotBeStapledAreRefused) {
    const std::string good =
        inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_GOOD, now - 60, now + 86400);
    // Signed by a CA that did not issue the certificate.
    testing::TestCA other = testing::TestCA::make("Other Intermediate", &root);
    const std::string forged = other.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_GOOD, now - 60,
                                                   now + 86400);
    EXPECT_NE(error_of(forged, root.pem()), "");
    // Roots that the issuer does not chain up to.
    testing::TestCA stranger = testing::TestCA::make("Stranger Root");
    EXPECT_NE(error_of(good, stranger.pem()).find("does not verify"), std::string::npos);
    // Expired, or not valid yet.
    EXPECT_NE(error_of(inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_GOOD, now - 7200,
                                           now - 3600), root.pem())
                  .find("expired"),
              std::string::npos);
    EXPECT_NE(error_of(inter.ocsp_response(leaf.get(), V_OCSP_CERTSTATUS_GOOD, now + 3600,
                                           now + 7200), root.pem())
                  .find("not valid yet"),
              std::string::npos);
    // About another certificate.
    X509Ptr sibling = inter.issue_with_ocsp(key.get(), {"sibling.example"}, "http://o/");
    const std::string theirs =
        inter.ocsp_response(sibling.get(), V_OCSP_CERTSTATUS_GOOD, now - 60, now + 86400);
    EXPECT_NE(error_of(theirs, root.pem()).find("not about this certificate"), std::string::npos);
    EXPECT_FALSE(ocsp_staple_fits(theirs, leaf.get(), inter.cert.get(), now, nullptr));
    // Not an OCSP response at all, or an unsuccessful one.
    EXPECT_NE(error_of("garbage", root.pem()).find("not an OCSP response"), std::string::npos);
    OCSP_RESPONSE* later = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, nullptr);
    unsigned char* p = nullptr;
    const int len = i2d_OCSP_RESPONSE(later, &p);
    const std::string try_later(reinterpret_cast<char*>(p), len);
    OPENSSL_free(p);
    OCSP_RESPONSE_free(later);
    EXPECT_NE(error_of(try_later, root.pem()).find("trylater"), std::string::npos);
    EXPECT_FALSE(ocsp_staple_fits("garbage", leaf.get(), inter.cert.get(), now, nullptr));
}

}  // namespace
}  // namespace acme::crypto
