// JWS in the flattened JSON serialization (RFC 7515 section 7.2.2) as ACME uses it (RFC 8555
// section 6.2), and the External Account Binding JWS (RFC 8555 section 7.3.4).
#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {

namespace {

const EVP_MD* jws_digest(KeyType t) {
    return t == KeyType::ecdsa_p384 ? EVP_sha384() : EVP_sha256();
}

// Width in bytes of each of r and s for an ECDSA key type (RFC 7518 section 3.4).
int ec_coordinate_width(KeyType t) {
    return t == KeyType::ecdsa_p384 ? 48 : 32;
}

// DER ECDSA-Sig-Value -> fixed-width r||s.
std::string der_to_raw(const std::string& der, int width) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    detail::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) fail_openssl("jws: decode ECDSA signature");
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::string out(static_cast<size_t>(2 * width), '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(r, o, width) != width || BN_bn2binpad(s, o + width, width) != width)
        fail_openssl("jws: encode ECDSA signature");
    return out;
}

// Fixed-width r||s -> DER ECDSA-Sig-Value.
std::string raw_to_der(const std::string& raw) {
    const int width = static_cast<int>(raw.size() / 2);
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    BignumPtr r(BN_bin2bn(p, width, nullptr));
    BignumPtr s(BN_bin2bn(p + width, width, nullptr));
    detail::EcdsaSigPtr sig(ECDSA_SIG_new());
    if (!r || !s || !sig) fail_openssl("jws: allocate ECDSA signature");
    if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) fail_openssl("jws: ECDSA_SIG_set0");
    r.release();
    s.release();
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) fail_openssl("jws: encode ECDSA signature");
    std::string der(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &out) != len) fail_openssl("jws: encode ECDSA signature");
    return der;
}

std::string sign_input(EVP_PKEY* key, KeyType t, const std::string& input) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) fail_openssl("jws: EVP_MD_CTX_new");
    // RSA keys default to PKCS#1 v1.5 padding: RS256.
    if (EVP_DigestSignInit(ctx.get(), nullptr, jws_digest(t), nullptr, key) != 1)
        fail_openssl("jws: sign init");
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
        fail_openssl("jws: sign");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                       input.size()) != 1)
        fail_openssl("jws: sign");
    sig.resize(len);
    if (is_rsa(t)) return sig;
    return der_to_raw(sig, ec_coordinate_width(t));
}

bool verify_input(EVP_PKEY* key, KeyType t, const std::string& input, std::string sig) {
    if (!is_rsa(t)) {
        if (sig.size() != static_cast<size_t>(2 * ec_coordinate_width(t))) return false;
        sig = raw_to_der(sig);
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) fail_openssl("jws: EVP_MD_CTX_new");
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, jws_digest(t), nullptr, key) != 1)
        fail_openssl("jws: verify init");
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

Json copy_header(const Json& header) {
    if (header.is_null()) return Json::object();
    if (!header.is_object()) fail_invalid("jws: protected header is not a JSON object");
    // The caller's Json may be shared; never add "alg" to their value.
    Json copy = Json::adopt(json_deep_copy(header.raw()));
    if (copy.is_null()) fail(Status::internal, "jws: copy protected header");
    return copy;
}

}  // namespace

Json jws_sign(EVP_PKEY* key, Json protected_header, std::string_view payload) {
    detail::ErrorQueueGuard guard;
    KeyType t = key_type_of(key);
    Json header = copy_header(protected_header);
    header.set("alg", jws_alg(key));
    const std::string protected_b64 = base64url_encode(header.dump());
    const std::string payload_b64 = base64url_encode(payload);  // "" stays "" (POST-as-GET)
    const std::string signature = sign_input(key, t, protected_b64 + "." + payload_b64);
    Json out = Json::object();
    out.set("protected", protected_b64);
    out.set("payload", payload_b64);
    out.set("signature", base64url_encode(signature));
    return out;
}

bool jws_verify(EVP_PKEY* key, const Json& jws) {
    detail::ErrorQueueGuard guard;
    KeyType t = key_type_of(key);
    if (!jws.is_object()) return false;
    Json p = jws.get("protected"), pl = jws.get("payload"), s = jws.get("signature");
    if (!p.is_string() || !pl.is_string() || !s.is_string()) return false;
    const std::string protected_b64 = p.as_string();
    const std::string payload_b64 = pl.as_string();
    std::string signature;
    try {
        if (!is_base64url(protected_b64) || !is_base64url(s.as_string())) return false;
        if (!payload_b64.empty() && !is_base64url(payload_b64)) return false;
        Json header = Json::parse(base64url_decode(protected_b64));
        if (header.str("alg") != jws_alg(key)) return false;
        base64url_decode(payload_b64);  // must at least be well-formed
        signature = base64url_decode(s.as_string());
    } catch (const Error&) {
        return false;  // malformed base64url or JSON
    }
    return verify_input(key, t, protected_b64 + "." + payload_b64, std::move(signature));
}

Json eab_jws(std::string_view kid, std::string_view hmac_key_b64url, EVP_PKEY* account_key,
             std::string_view new_account_url, std::string_view alg) {
    detail::ErrorQueueGuard guard;
    if (alg != "HS256" && alg != "HS384" && alg != "HS512")
        fail_invalid("eab: unsupported MAC algorithm '" + std::string(alg) +
                     "' (expected HS256, HS384 or HS512)");
    if (kid.empty()) fail_invalid("eab: empty key identifier");
    // Never put the key (or any part of it) in a message.
    std::string_view unpadded = hmac_key_b64url;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
    if (!is_base64url(unpadded)) fail_invalid("eab: the HMAC key is not base64url");
    std::string mac_key;
    try {
        mac_key = base64url_decode(hmac_key_b64url);
    } catch (const Error&) {
        fail_invalid("eab: the HMAC key is not valid base64url");
    }
    if (mac_key.empty()) fail_invalid("eab: the HMAC key is empty");

    Json header = Json::object();
    header.set("alg", alg);
    header.set("kid", kid);
    header.set("url", new_account_url);
    const std::string protected_b64 = base64url_encode(header.dump());
    const std::string payload_b64 = base64url_encode(jwk(account_key).dump());
    const std::string mac = hmac(alg, mac_key, protected_b64 + "." + payload_b64);
    Json out = Json::object();
    out.set("protected", protected_b64);
    out.set("payload", payload_b64);
    out.set("signature", base64url_encode(mac));
    return out;
}

}  // namespace acme::crypto
