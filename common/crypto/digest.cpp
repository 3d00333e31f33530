// Digests, HMAC and randomness.
#include <openssl/rand.h>

#include <climits>
#include <cstring>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {

std::string sha256(std::string_view data) {
    detail::ErrorQueueGuard guard;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        fail_openssl("sha256");
    return std::string(reinterpret_cast<char*>(md), len);
}

std::string hmac(std::string_view alg, std::string_view key, std::string_view data) {
    detail::ErrorQueueGuard guard;
    const char* digest = nullptr;
    if (alg == "HS256") {
        digest = "SHA256";
    } else if (alg == "HS384") {
        digest = "SHA384";
    } else if (alg == "HS512") {
        digest = "SHA512";
    } else {
        fail_invalid("hmac: unsupported algorithm '" + std::string(alg) +
                     "' (expected HS256, HS384 or HS512)");
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t len = 0;
    // A zero-length key still needs a valid pointer.
    static const unsigned char kEmpty[1] = {0};
    const void* key_ptr = key.empty() ? kEmpty : static_cast<const void*>(key.data());
    if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key_ptr, key.size(),
                   reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                   sizeof out, &len))
        fail_openssl("hmac: " + std::string(alg));
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string random_bytes(size_t n) {
    detail::ErrorQueueGuard guard;
    if (n > static_cast<size_t>(INT_MAX)) fail_invalid("random: request too large");
    std::string out(n, '\0');
    if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        fail_openssl("random: RAND_bytes");
    return out;
}

uint64_t random_u64() {
    std::string b = random_bytes(sizeof(uint64_t));
    uint64_t v;
    std::memcpy(&v, b.data(), sizeof v);
    return v;
}

int64_t random_between(int64_t lo, int64_t hi) {
    if (lo > hi)
        fail_invalid("random: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "]");
    // Work in uint64_t: hi - lo cannot overflow there (two's complement wrap-around).
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    uint64_t offset;
    if (span == UINT64_MAX) {
        offset = random_u64();
    } else {
        const uint64_t n = span + 1;
        // 2^64 mod n: draws below it belong to an incomplete last block and would bias the
        // result towards small offsets, so they are rejected (probability < 1/2 per draw).
        const uint64_t reject_below = (0 - n) % n;
        uint64_t x;
        do {
            x = random_u64();
        } while (x < reject_below);
        offset = x % n;
    }
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + offset);
}

}  // namespace acme::crypto
