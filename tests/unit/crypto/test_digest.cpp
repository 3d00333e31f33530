#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::error_queue_empty;
using testing::to_hex;

TEST(Digest, Sha256KnownAnswers) {
    EXPECT_EQ(to_hex(sha256("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256(std::string("a\0b", 3)).size(), 32u);
    EXPECT_NE(sha256(std::string("a\0b", 3)), sha256("a"));  // not stopped by NUL
}

TEST(Digest, HmacRfc4231TestCase2) {
    const std::string key = "Jefe", data = "what do ya want for nothing?";
    EXPECT_EQ(to_hex(hmac("HS256", key, data)),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(to_hex(hmac("HS384", key, data)),
              "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
              "8e2240ca5e69e2c78b3239ecfab21649");
    EXPECT_EQ(to_hex(hmac("HS512", key, data)),
              "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
              "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    EXPECT_TRUE(error_queue_empty());
}

TEST(Digest, HmacRfc4231TestCase6LongKey) {
    const std::string key(131, '\xaa');
    EXPECT_EQ(to_hex(hmac("HS256", key, "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Digest, HmacWithAnEmptyKeyAndMessage) {
    EXPECT_EQ(to_hex(hmac("HS256", "", "")),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    EXPECT_TRUE(error_queue_empty());
}

TEST(Digest, HmacRejectsUnknownAlgorithms) {
    for (const char* alg : {"", "HS1", "hs256", "RS256", "SHA256"}) {
        try {
            hmac(alg, "k", "d");
            ADD_FAILURE() << "accepted " << alg;
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid);
        }
    }
}

TEST(Random, BytesHaveTheRequestedLengthAndDiffer) {
    EXPECT_EQ(random_bytes(0), "");
    EXPECT_EQ(random_bytes(1).size(), 1u);
    const std::string a = random_bytes(32), b = random_bytes(32);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
    EXPECT_NE(random_u64(), random_u64());  // fails with probability 2^-64
}

TEST(Random, BetweenStaysInRange) {
    EXPECT_EQ(random_between(5, 5), 5);
    EXPECT_EQ(random_between(-7, -7), -7);
    for (int i = 0; i < 2000; ++i) {
        int64_t v = random_between(-3, 4);
        EXPECT_GE(v, -3);
        EXPECT_LE(v, 4);
    }
    const int64_t lo = std::numeric_limits<int64_t>::min(),
                  hi = std::numeric_limits<int64_t>::max();
    std::set<bool> signs;
    for (int i = 0; i < 64; ++i) signs.insert(random_between(lo, hi) < 0);
    EXPECT_EQ(signs.size(), 2u);  // the full range is reachable on both sides
    for (int i = 0; i < 100; ++i) {
        int64_t v = random_between(hi - 1, hi);
        EXPECT_TRUE(v == hi - 1 || v == hi);
        v = random_between(lo, lo + 1);
        EXPECT_TRUE(v == lo || v == lo + 1);
    }
}

TEST(Random, BetweenHitsEveryValueRoughlyEvenly) {
    // 3 values, 30000 draws: each count is ~10000 with a standard deviation of ~82; the bounds are
    // more than 7 standard deviations wide.
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 30000; ++i) ++counts[random_between(10, 12) - 10];
    for (int c : counts) {
        EXPECT_GT(c, 9400);
        EXPECT_LT(c, 10600);
    }
}

TEST(Random, BetweenRejectsAnEmptyRange) {
    try {
        random_between(2, 1);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
    }
}

}  // namespace
}  // namespace acme::crypto
