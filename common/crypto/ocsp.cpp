// OCSP (RFC 6960) for stapling: the request the driver sends, and the checks a response must pass
// before a server staples it.
#include <openssl/ocsp.h>

#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using OcspRequestPtr =
    std::unique_ptr<OCSP_REQUEST, OsslDeleter<OCSP_REQUEST, OCSP_REQUEST_free>>;
using OcspResponsePtr =
    std::unique_ptr<OCSP_RESPONSE, OsslDeleter<OCSP_RESPONSE, OCSP_RESPONSE_free>>;
using OcspBasicPtr =
    std::unique_ptr<OCSP_BASICRESP, OsslDeleter<OCSP_BASICRESP, OCSP_BASICRESP_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, OsslDeleter<OCSP_CERTID, OCSP_CERTID_free>>;

// A few minutes of clock skew between us and the responder are normal.
constexpr long kOcspSkewSeconds = 300;

int64_t generalized_time(const ASN1_GENERALIZEDTIME* t) {
    if (!t) return 0;
    struct tm tm = {};
    if (ASN1_TIME_to_tm(t, &tm) != 1) fail_invalid("ocsp: malformed time in the response");
    return static_cast<int64_t>(timegm(&tm));
}

OcspCertIdPtr cert_id(X509* leaf, X509* issuer) {
    // SHA-1, as OCSP responders (and OpenSSL's own client) expect by default.
    OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), leaf, issuer));
    if (!id) fail_openssl("ocsp: certificate id");
    return id;
}

// A parsed response and the status it gives `leaf`.
struct Found {
    OcspResponsePtr resp;
    OcspBasicPtr basic;
    int status = -1;
    ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
};

// Parses `der` as a successful basic response and finds `leaf`'s status in it; throws
// Error(protocol) naming what is wrong.
Found find_status(std::string_view der, X509* leaf, X509* issuer) {
    Found f;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    f.resp.reset(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    if (!f.resp || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
        throw Error(Status::protocol, "ocsp: the responder's answer is not an OCSP response");
    const int rs = OCSP_response_status(f.resp.get());
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL)
        throw Error(Status::protocol, std::string("ocsp: the responder answered \"") +
                                          OCSP_response_status_str(rs) + "\"");
    f.basic.reset(OCSP_response_get1_basic(f.resp.get()));
    if (!f.basic) throw Error(Status::protocol, "ocsp: the response has no basic response");
    OcspCertIdPtr id = cert_id(leaf, issuer);
    int reason = -1;
    if (OCSP_resp_find_status(f.basic.get(), id.get(), &f.status, &reason, &f.revoked,
                              &f.this_update, &f.next_update) != 1)
        throw Error(Status::protocol, "ocsp: the response is not about this certificate");
    return f;
}

}  // namespace

std::string ocsp_responder_url(X509* leaf) {
    detail::ErrorQueueGuard guard;
    if (!leaf) return "";
    STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(leaf);
    std::string url;
    if (urls && sk_OPENSSL_STRING_num(urls) > 0) url = sk_OPENSSL_STRING_value(urls, 0);
    X509_email_free(urls);
    return url;
}

std::string ocsp_request_der(X509* leaf, X509* issuer) {
    detail::ErrorQueueGuard guard;
    if (!leaf || !issuer) fail_invalid("ocsp: a request needs the certificate and its issuer");
    OcspRequestPtr req(OCSP_REQUEST_new());
    if (!req) fail_openssl("ocsp: OCSP_REQUEST_new");
    OcspCertIdPtr id = cert_id(leaf, issuer);
    if (!OCSP_request_add0_id(req.get(), id.get())) fail_openssl("ocsp: add the certificate id");
    id.release();  // owned by the request now
    unsigned char* der = nullptr;
    const int len = i2d_OCSP_REQUEST(req.get(), &der);
    if (len <= 0) fail_openssl("ocsp: encode the request");
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

OcspStatus check_ocsp_response(std::string_view der, X509* leaf, X509* issuer,
                               std::string_view roots_pem, int64_t now) {
    detail::ErrorQueueGuard guard;
    if (!leaf || !issuer)
        fail_invalid("ocsp: a response is checked against a certificate and its issuer");
    Found f = find_status(der, leaf, issuer);

    // Signed by the issuer itself, or by a responder certificate it delegated to (which must
    // chain up to the trusted roots and carry the OCSP signing purpose).
    detail::X509StorePtr store = detail::trust_store(roots_pem, "ocsp");
    detail::X509StackPtr untrusted(sk_X509_new_null());
    if (!untrusted || !sk_X509_push(untrusted.get(), issuer)) fail_openssl("ocsp: sk_X509_push");
    if (OCSP_basic_verify(f.basic.get(), untrusted.get(), store.get(), 0) != 1) {
        const std::string why = detail::drain_errors();
        throw Error(Status::verify, "ocsp: the response's signature does not verify" +
                                        (why.empty() ? std::string() : " (" + why + ")"));
    }

    if (!f.next_update)
        throw Error(Status::protocol, "ocsp: the response has no nextUpdate (nothing to staple)");
    // Checked against `now`, not the system clock, so that the caller decides the time.
    OcspStatus out;
    out.this_update = generalized_time(f.this_update);
    out.next_update = generalized_time(f.next_update);
    if (out.this_update > now + kOcspSkewSeconds)
        throw Error(Status::protocol, "ocsp: the response is not valid yet (thisUpdate ahead)");
    if (out.next_update <= now)
        throw Error(Status::protocol, "ocsp: the response has expired (nextUpdate passed)");
    if (out.next_update < out.this_update)
        throw Error(Status::protocol, "ocsp: the response ends before it begins");
    switch (f.status) {
        case V_OCSP_CERTSTATUS_GOOD:
            out.status = OcspStatus::Kind::good;
            break;
        case V_OCSP_CERTSTATUS_REVOKED:
            out.status = OcspStatus::Kind::revoked;
            out.revoked_at = generalized_time(f.revoked);
            break;
        default:
            out.status = OcspStatus::Kind::unknown;
            break;
    }
    return out;
}

bool ocsp_staple_fits(std::string_view der, X509* leaf, X509* issuer, int64_t now,
                      int64_t* next_update_out) noexcept {
    try {
        detail::ErrorQueueGuard guard;
        Found f = find_status(der, leaf, issuer);
        if (f.status != V_OCSP_CERTSTATUS_GOOD || !f.next_update) return false;
        const int64_t nu = generalized_time(f.next_update);
        if (next_update_out) *next_update_out = nu;
        return nu > now;
    } catch (...) {
        return false;
    }
}

}  // namespace acme::crypto
