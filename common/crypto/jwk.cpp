// Public JWKs (RFC 7517/7518), RFC 7638 thumbprints and the JWS algorithm of a key.
#include <openssl/core_names.h>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {

namespace {

BignumPtr get_bn(EVP_PKEY* key, const char* param) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1 || !bn)
        fail_openssl(std::string("jwk: read key parameter '") + param + "'");
    return BignumPtr(bn);
}

// Big-endian unsigned bytes; `width` 0 means minimal (no leading zero bytes), otherwise
// left-padded to exactly `width` bytes.
std::string bn_bytes(const BIGNUM* bn, int width) {
    int n = width ? width : BN_num_bytes(bn);
    std::string out(static_cast<size_t>(n), '\0');
    int written = width ? BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width)
                        : BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    if (written != n) fail_openssl("jwk: encode key parameter");
    return out;
}

}  // namespace

Json jwk(EVP_PKEY* key) {
    detail::ErrorQueueGuard guard;
    KeyType t = key_type_of(key);
    Json j = Json::object();
    if (is_rsa(t)) {
        BignumPtr n = get_bn(key, OSSL_PKEY_PARAM_RSA_N);
        BignumPtr e = get_bn(key, OSSL_PKEY_PARAM_RSA_E);
        j.set("e", base64url_encode(bn_bytes(e.get(), 0)));
        j.set("kty", "RSA");
        j.set("n", base64url_encode(bn_bytes(n.get(), 0)));
    } else {
        const int width = t == KeyType::ecdsa_p256 ? 32 : 48;
        BignumPtr x = get_bn(key, OSSL_PKEY_PARAM_EC_PUB_X);
        BignumPtr y = get_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y);
        j.set("crv", t == KeyType::ecdsa_p256 ? "P-256" : "P-384");
        j.set("kty", "EC");
        j.set("x", base64url_encode(bn_bytes(x.get(), width)));
        j.set("y", base64url_encode(bn_bytes(y.get(), width)));
    }
    return j;
}

std::string jwk_thumbprint(EVP_PKEY* key) {
    // jwk() holds only the required members and dump() is compact with sorted keys: exactly the
    // RFC 7638 section 3.3 canonical form (no member needs escaping).
    return base64url_encode(sha256(jwk(key).dump()));
}

const char* jws_alg(EVP_PKEY* key) {
    switch (key_type_of(key)) {
        case KeyType::ecdsa_p256:
            return "ES256";
        case KeyType::ecdsa_p384:
            return "ES384";
        case KeyType::rsa2048:
        case KeyType::rsa3072:
        case KeyType::rsa4096:
            return "RS256";
    }
    fail_invalid("jws: unknown key type");
}

}  // namespace acme::crypto
