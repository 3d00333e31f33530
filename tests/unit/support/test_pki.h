// Test-only PKI helpers (header-only, so every unit binary may include it without linking more
// components than it has): a small CA that signs CSRs, public keys from JWKs, JWS decoding.
#pragma once

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/ocsp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "json/json.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::testing {

using ParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD, crypto::OsslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, crypto::OsslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)>;

inline void free_ext_stack(STACK_OF(X509_EXTENSION) * s) {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}

// The public key a JWK (RFC 7517: EC P-256/P-384 or RSA) describes. Throws on anything else.
inline crypto::PKey pkey_from_jwk(const Json& jwk) {
    const std::string kty = jwk.str("kty");
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    crypto::BignumPtr n, e;
    std::string point;
    const char* type = nullptr;
    if (kty == "EC") {
        const std::string crv = jwk.str("crv");
        const char* group = crv == "P-256" ? "prime256v1" : crv == "P-384" ? "secp384r1" : nullptr;
        if (!group) fail_invalid("jwk: unsupported curve " + crv);
        point = std::string(1, '\x04') + base64url_decode(jwk.str("x")) +
                base64url_decode(jwk.str("y"));
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size());
        type = "EC";
    } else if (kty == "RSA") {
        const std::string nb = base64url_decode(jwk.str("n")), eb = base64url_decode(jwk.str("e"));
        n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(nb.data()),
                          static_cast<int>(nb.size()), nullptr));
        e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(eb.data()),
                          static_cast<int>(eb.size()), nullptr));
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
        type = "RSA";
    } else {
        fail_invalid("jwk: unsupported kty '" + kty + "'");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    crypto::PKeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        crypto::fail_openssl("jwk: build public key");
    }
    return crypto::PKey(raw);
}

// A flattened JWS taken apart.
struct DecodedJws {
    Json jws;
    Json header;          // protected header
    std::string payload;  // decoded payload ("" for POST-as-GET)
    Json payload_json;    // parsed payload, null when empty
};

inline DecodedJws decode_jws(const std::string& body) {
    DecodedJws d;
    d.jws = Json::parse(body);
    d.header = Json::parse(base64url_decode(d.jws.str("protected")));
    d.payload = base64url_decode(d.jws.str("payload"));
    if (!d.payload.empty()) d.payload_json = Json::parse(d.payload);
    return d;
}

// The signing input of a flattened JWS: protected "." payload (both as sent, base64url).
inline std::string jws_signing_input(const Json& jws) {
    return jws.str("protected") + "." + jws.str("payload");
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
    crypto::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || !X509_add_ext(cert, ext.get(), -1)) crypto::fail_openssl("test pki: extension");
}

inline void set_validity(X509* cert, int64_t not_before, int64_t not_after) {
    ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(not_before));
    ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(not_after));
}

inline void set_random_serial(X509* cert) {
    crypto::BignumPtr bn(BN_new());
    BN_rand(bn.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
    BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
}

inline void set_cn(X509_NAME* name, const std::string& cn) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

// A CA: self-signed root (issuer == nullptr) or an intermediate signed by `issuer`.
struct TestCA {
    crypto::PKey key;
    crypto::X509Ptr cert;
    std::string cn;

    static TestCA make(const std::string& cn, const TestCA* issuer = nullptr,
                       crypto::KeyType type = crypto::KeyType::ecdsa_p256) {
        TestCA ca;
        ca.cn = cn;
        ca.key = crypto::generate_key(type);
        ca.cert.reset(X509_new());
        X509* c = ca.cert.get();
        X509_set_version(c, 2);
        set_random_serial(c);
        set_cn(X509_get_subject_name(c), cn);
        X509_set_issuer_name(
            c, issuer ? X509_get_subject_name(issuer->cert.get()) : X509_get_subject_name(c));
        const int64_t now = time(nullptr);
        set_validity(c, now - 3600, now + 10 * 365 * 86400LL);
        X509_set_pubkey(c, ca.key.get());
        add_ext(c, nullptr, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(c, nullptr, NID_subject_key_identifier, "hash");
        if (issuer) add_ext(c, issuer->cert.get(), NID_authority_key_identifier, "keyid:always");
        if (!X509_sign(c, issuer ? issuer->key.get() : ca.key.get(), EVP_sha256()))
            crypto::fail_openssl("test pki: sign CA");
        return ca;
    }

    std::string pem() const { return crypto::cert_to_pem(cert.get()); }

    // A leaf for `pub` with SANs `names` (DNS names and IP literals), signed by this CA.
    crypto::X509Ptr issue(EVP_PKEY* pub, const std::vector<std::string>& names, int64_t not_before,
                          int64_t not_after) const {
        crypto::X509Ptr leaf(X509_new());
        X509* c = leaf.get();
        X509_set_version(c, 2);
        set_random_serial(c);
        if (!names.empty() && names.front().size() < 64)
            set_cn(X509_get_subject_name(c), names.front());
        X509_set_issuer_name(c, X509_get_subject_name(cert.get()));
        set_validity(c, not_before, not_after);
        X509_set_pubkey(c, pub);
        std::string san;
        for (const std::string& n : names) {
            bool ip = n.find(':') != std::string::npos ||
                      n.find_first_not_of("0123456789.") == std::string::npos;
            san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
        }
        add_ext(c, cert.get(), NID_basic_constraints, "critical,CA:FALSE");
        add_ext(c, cert.get(), NID_ext_key_usage, "serverAuth");
        add_ext(c, cert.get(), NID_authority_key_identifier, "keyid:always");
        if (!san.empty()) add_ext(c, cert.get(), NID_subject_alt_name, san.c_str());
        if (!X509_sign(c, key.get(), EVP_sha256())) crypto::fail_openssl("test pki: sign leaf");
        return leaf;
    }

    crypto::X509Ptr issue(EVP_PKEY* pub, const std::vector<std::string>& names) const {
        const int64_t now = time(nullptr);
        return issue(pub, names, now - 60, now + 90 * 86400);
    }

    // issue(), with an Authority Information Access naming `ocsp_url` as OCSP responder.
    crypto::X509Ptr issue_with_ocsp(EVP_PKEY* pub, const std::vector<std::string>& names,
                                    const std::string& ocsp_url) const {
        crypto::X509Ptr leaf = issue(pub, names);
        add_ext(leaf.get(), cert.get(), NID_info_access, ("OCSP;URI:" + ocsp_url).c_str());
        if (!X509_sign(leaf.get(), key.get(), EVP_sha256())) crypto::fail_openssl("test pki: sign");
        return leaf;
    }

    // A DER OCSPResponse about `leaf` (issued by this CA), signed by this CA: `status` is
    // V_OCSP_CERTSTATUS_GOOD / _REVOKED / _UNKNOWN.
    std::string ocsp_response(X509* leaf, int status, int64_t this_update,
                              int64_t next_update) const {
        OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), leaf, cert.get());
        OCSP_BASICRESP* bs = OCSP_BASICRESP_new();
        ASN1_TIME* tu = ASN1_TIME_set(nullptr, static_cast<time_t>(this_update));
        ASN1_TIME* nu = ASN1_TIME_set(nullptr, static_cast<time_t>(next_update));
        ASN1_TIME* rev = ASN1_TIME_set(nullptr, static_cast<time_t>(this_update));
        if (!id || !bs || !tu || !nu || !rev ||
            !OCSP_basic_add1_status(bs, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? 1 : -1,
                                    status == V_OCSP_CERTSTATUS_REVOKED ? rev : nullptr, tu, nu) ||
            !OCSP_basic_sign(bs, cert.get(), key.get(), EVP_sha256(), nullptr, 0))
            crypto::fail_openssl("test pki: OCSP response");
        OCSP_RESPONSE* r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
        unsigned char* der = nullptr;
        const int len = r ? i2d_OCSP_RESPONSE(r, &der) : -1;
        std::string out = len > 0 ? std::string(reinterpret_cast<char*>(der), len) : "";
        OPENSSL_free(der);
        OCSP_RESPONSE_free(r);
        OCSP_BASICRESP_free(bs);
        OCSP_CERTID_free(id);
        ASN1_TIME_free(tu);
        ASN1_TIME_free(nu);
        ASN1_TIME_free(rev);
        if (out.empty()) crypto::fail_openssl("test pki: encode OCSP response");
        return out;
    }
};

// The public key and SAN names of a DER CSR (checks its self-signature).
struct CsrInfo {
    crypto::PKey key;
    std::vector<std::string> names;  // dNSName and iPAddress, as text
};

inline CsrInfo parse_csr(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    crypto::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    if (!req) crypto::fail_openssl("test pki: parse CSR");
    CsrInfo out;
    out.key.reset(X509_REQ_get_pubkey(req.get()));
    if (!out.key || X509_REQ_verify(req.get(), out.key.get()) != 1)
        crypto::fail_openssl("test pki: CSR signature");
    ExtStackPtr exts(X509_REQ_get_extensions(req.get()), free_ext_stack);
    if (exts) {
        crypto::GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
            X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
        for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
            if (gn->type == GEN_DNS) {
                const ASN1_STRING* s = gn->d.dNSName;
                out.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                       static_cast<size_t>(ASN1_STRING_length(s)));
            } else if (gn->type == GEN_IPADD) {
                const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
                char buf[INET6_ADDRSTRLEN];
                const int af = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
                if (!inet_ntop(af, ASN1_STRING_get0_data(ip), buf, sizeof buf)) continue;
                out.names.emplace_back(buf);
            }
        }
    }
    return out;
}

}  // namespace acme::testing
