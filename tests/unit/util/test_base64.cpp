#include "util/base64.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace acme {
namespace {

TEST(Base64Url, Rfc4648Vectors) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
}

TEST(Base64Url, UsesUrlAlphabet) {
    std::string bytes = "\xfb\xff\xbf";
    EXPECT_EQ(base64url_encode(bytes), "-_-_");
    EXPECT_EQ(base64_encode(bytes), "+/+/");
    EXPECT_EQ(base64url_decode("-_-_"), bytes);
}

TEST(Base64Url, RoundTripsAllByteValues) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    EXPECT_EQ(base64url_decode(base64url_encode(all)), all);
    EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64Url, RejectsBadInput) {
    EXPECT_THROW(base64url_decode("Zm9v+"), Error);
    EXPECT_THROW(base64url_decode("Z"), Error);
    EXPECT_THROW(base64url_decode("Zg=x"), Error);
    EXPECT_EQ(base64url_decode("Zg=="), "f");
}

TEST(Base64Url, IsBase64Url) {
    EXPECT_TRUE(is_base64url("abc-_09"));
    EXPECT_FALSE(is_base64url(""));
    EXPECT_FALSE(is_base64url("a/b"));
    EXPECT_FALSE(is_base64url("../etc"));
    EXPECT_FALSE(is_base64url("ab="));
}

}  // namespace
}  // namespace acme
