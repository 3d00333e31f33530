// Key types, key generation and PEM encoding of keys.
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <cstring>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {

namespace {

struct KeyTypeEntry {
    KeyType type;
    const char* name;
};

const KeyTypeEntry kKeyTypes[] = {
    {KeyType::ecdsa_p256, "ecdsa-p256"}, {KeyType::ecdsa_p384, "ecdsa-p384"},
    {KeyType::rsa2048, "rsa-2048"},      {KeyType::rsa3072, "rsa-3072"},
    {KeyType::rsa4096, "rsa-4096"},
};

// Never prompts: an encrypted key in a store is a configuration error, not a reason to block on a
// terminal that a server process does not have.
int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
    return -1;
}

int ec_curve_nid(EVP_PKEY* key) {
    char group[80];
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1)
        return NID_undef;
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    return nid;
}

}  // namespace

const char* key_type_name(KeyType t) noexcept {
    for (const auto& e : kKeyTypes) {
        if (e.type == t) return e.name;
    }
    return "unknown";
}

KeyType parse_key_type(std::string_view name) {
    for (const auto& e : kKeyTypes) {
        if (name == e.name) return e.type;
    }
    std::string list;
    for (const auto& e : kKeyTypes) {
        if (!list.empty()) list += ", ";
        list += e.name;
    }
    fail_invalid("unknown key type '" + std::string(name) + "' (expected one of " + list + ")");
}

bool is_rsa(KeyType t) noexcept {
    return t == KeyType::rsa2048 || t == KeyType::rsa3072 || t == KeyType::rsa4096;
}

PKey generate_key(KeyType t) {
    detail::ErrorQueueGuard guard;
    EVP_PKEY* k = nullptr;
    switch (t) {
        case KeyType::ecdsa_p256:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
            break;
        case KeyType::ecdsa_p384:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
            break;
        case KeyType::rsa2048:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
            break;
        case KeyType::rsa3072:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072));
            break;
        case KeyType::rsa4096:
            k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
            break;
        default:
            fail_invalid("key: unknown key type");
    }
    if (!k) fail_openssl(std::string("key: generate ") + key_type_name(t));
    return PKey(k);
}

KeyType key_type_of(EVP_PKEY* key) {
    detail::ErrorQueueGuard guard;
    if (!key) fail_invalid("key: no key");
    if (EVP_PKEY_is_a(key, "RSA")) {
        switch (EVP_PKEY_get_bits(key)) {
            case 2048:
                return KeyType::rsa2048;
            case 3072:
                return KeyType::rsa3072;
            case 4096:
                return KeyType::rsa4096;
            default:
                fail_invalid("key: unsupported RSA key size " +
                             std::to_string(EVP_PKEY_get_bits(key)) +
                             " bits (expected 2048, 3072 or 4096)");
        }
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        switch (ec_curve_nid(key)) {
            case NID_X9_62_prime256v1:
                return KeyType::ecdsa_p256;
            case NID_secp384r1:
                return KeyType::ecdsa_p384;
            default:
                fail_invalid("key: unsupported elliptic curve (expected P-256 or P-384)");
        }
    }
    const char* name = EVP_PKEY_get0_type_name(key);
    fail_invalid(std::string("key: unsupported key type ") + (name ? name : "(unknown)") +
                 " (expected RSA or ECDSA P-256/P-384)");
}

std::string private_key_to_pem(EVP_PKEY* key) {
    detail::ErrorQueueGuard guard;
    if (!key) fail_invalid("key: no key");
    BioPtr bio = detail::write_bio();
    // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted.
    if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        fail_openssl("key: write private key PEM");
    return detail::bio_contents(bio.get());
}

PKey private_key_from_pem(std::string_view pem) {
    detail::ErrorQueueGuard guard;
    BioPtr bio = detail::read_bio(pem);
    // Skips blocks of other types (certificates before the key in a combined file).
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
    if (!k) {
        std::string reason = detail::drain_errors();
        fail_invalid("key: no usable private key in PEM (unencrypted PKCS#8, RSA or EC expected)" +
                     (reason.empty() ? std::string() : ": " + reason));
    }
    return PKey(k);
}

std::string public_key_to_pem(EVP_PKEY* key) {
    detail::ErrorQueueGuard guard;
    if (!key) fail_invalid("key: no key");
    BioPtr bio = detail::write_bio();
    if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) fail_openssl("key: write public key PEM");
    return detail::bio_contents(bio.get());
}

}  // namespace acme::crypto
