// The store key layout: name sanitisation, refusals, token validation and every key builder.
#include "store/layout.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "util/error.h"

namespace acme {
namespace {

void expect_invalid(const std::function<void()>& f, const std::string& needle = "") {
    try {
        f();
        FAIL() << "expected Error(invalid)";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << e.what();
        if (!needle.empty()) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
                << "message '" << e.what() << "' lacks '" << needle << "'";
        }
    }
}

TEST(Layout, CertNameLowercasesAndTranslatesWildcard) {
    EXPECT_EQ(layout::cert_name("example.org"), "example.org");
    EXPECT_EQ(layout::cert_name("WWW.Example.ORG"), "www.example.org");
    EXPECT_EQ(layout::cert_name("*.example.org"), "_wildcard.example.org");
    EXPECT_EQ(layout::cert_name("xn--bcher-kva.example"), "xn--bcher-kva.example");
    EXPECT_EQ(layout::cert_name("192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(layout::cert_name("a_b-c"), "a_b-c");
}

TEST(Layout, CertNameRefusals) {
    for (const char* bad :
         {"", ".", "..", "../x", "a/b", "/etc", ".hidden", "a b", "a\\b", "a*b", "*", "*.", "**.x",
          "a.*.b", "ex\xc3\xa4mple.org", "tab\there", "nul\x01", "a:b", "*/x"}) {
        SCOPED_TRACE(bad);
        expect_invalid([&] { layout::cert_name(bad); }, "invalid certificate name");
    }
    // The value is named (printable) in the message.
    expect_invalid([] { layout::cert_name("../x"); }, "'../x'");
    expect_invalid([] { layout::cert_name(std::string("a\0b", 3)); });
    expect_invalid([] { layout::cert_name(std::string(300, 'a')); });
    EXPECT_EQ(layout::cert_name(std::string(230, 'a')), std::string(230, 'a'));
    expect_invalid([] { layout::cert_name(std::string(231, 'a')); });
}

TEST(Layout, CaIdFromDirectoryUrl) {
    EXPECT_EQ(layout::ca_id("https://acme-v02.api.letsencrypt.org/directory"),
              "acme-v02.api.letsencrypt.org-directory-5e76d315");
    EXPECT_EQ(layout::ca_id("https://127.0.0.1:14000/dir"), "127.0.0.1_14000-dir-6d8ba56d");
    // IPv6 literal, trailing slash.
    EXPECT_EQ(layout::ca_id("https://[::1]:14000/dir/"), "___1__14000-dir-6f12e873");
    // Credentials never reach the path; the host is lowercased; the query is dropped (the hash
    // still covers the whole URL).
    EXPECT_EQ(layout::ca_id("https://user:pw@CA.Example.ORG/acme/v2/directory?x=1"),
              "ca.example.org-acme-v2-directory-7988c08d");
    // Path case is folded (ids are names, usable in lock names); the hash keeps case-distinct URLs
    // apart.
    EXPECT_EQ(layout::ca_id("https://acme.zerossl.com/v2/DV90"),
              "acme.zerossl.com-v2-dv90-562d2d8e");
    EXPECT_NE(layout::ca_id("https://acme.zerossl.com/v2/dv90"),
              layout::ca_id("https://acme.zerossl.com/v2/DV90"));
    // Different URLs give different ids even when the readable part is the same.
    EXPECT_NE(layout::ca_id("https://ca.example/dir"), layout::ca_id("http://ca.example/dir"));
    // Every id is usable as an account key segment.
    EXPECT_EQ(layout::account_json(layout::ca_id("https://127.0.0.1:14000/dir")),
              "accounts/127.0.0.1_14000-dir-6d8ba56d/account.json");
    std::string long_url = "https://ca.example/" + std::string(500, 'p');
    std::string id = layout::ca_id(long_url);
    EXPECT_LE(id.size(), 130u);
    EXPECT_NO_THROW(layout::account_key(id));
}

TEST(Layout, AccountIdIsPerCaAndEabKeyId) {
    const std::string url = "https://127.0.0.1:14000/dir";
    EXPECT_EQ(layout::account_id(url, ""), layout::ca_id(url));
    const std::string a = layout::account_id(url, "kid-a"), b = layout::account_id(url, "kid-b");
    EXPECT_EQ(a.rfind(layout::ca_id(url) + "-eab-", 0), 0u) << a;
    EXPECT_NE(a, b);
    EXPECT_EQ(a, layout::account_id(url, "kid-a"));
    // Any key id, even one with '/' or "..", gives a usable key segment.
    EXPECT_NO_THROW(layout::account_json(layout::account_id(url, "../../etc/passwd")));
}

TEST(Layout, CaIdRefusesNonUrls) {
    expect_invalid([] { layout::ca_id(""); });
    expect_invalid([] { layout::ca_id("acme-v02.api.letsencrypt.org/directory"); });
    expect_invalid([] { layout::ca_id("https:///directory"); });
}

TEST(Layout, TokenValidation) {
    EXPECT_TRUE(layout::valid_token("a"));
    EXPECT_TRUE(layout::valid_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
    EXPECT_TRUE(layout::valid_token("-_09azAZ"));
    EXPECT_TRUE(layout::valid_token(std::string(128, 'x')));
    EXPECT_FALSE(layout::valid_token(std::string(129, 'x')));
    EXPECT_FALSE(layout::valid_token(""));
    for (const char* bad : {"abc=", "a+b", "a/b", "..", ".", "../etc/passwd", "a b", "a.b", "a%2fb",
                            "tok\n", "\xc3\xa4"}) {
        EXPECT_FALSE(layout::valid_token(bad)) << bad;
    }
    EXPECT_FALSE(layout::valid_token(std::string("ab\0cd", 5)));
}

TEST(Layout, IdentifierFileName) {
    EXPECT_EQ(layout::identifier_file_name("Example.ORG"), "example.org");
    EXPECT_EQ(layout::identifier_file_name("192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(layout::identifier_file_name("2001:DB8::1"), "2001:db8::1");
    for (const char* bad : {"", ".", "..", ".example.org", "a/b", "../x", "*.example.org",
                            "ex\xc3\xa4mple.org", "a b"}) {
        expect_invalid([&] { layout::identifier_file_name(bad); });
    }
    expect_invalid([] { layout::identifier_file_name(std::string(300, 'a')); });
}

TEST(Layout, KeyBuilders) {
    const std::string ca = layout::ca_id("https://127.0.0.1:14000/dir");
    EXPECT_EQ(layout::account_key(ca), "accounts/" + ca + "/account.key");
    EXPECT_EQ(layout::cert_dir("example.org"), "certs/example.org");
    EXPECT_EQ(layout::cert_bundle("example.org", "ecdsa-p256"), "certs/example.org/ecdsa-p256.pem");
    EXPECT_EQ(layout::cert_meta("example.org"), "certs/example.org/meta.json");
    EXPECT_EQ(layout::cert_archive_dir("example.org"), "certs/example.org/archive");
    EXPECT_EQ(layout::cert_archive("example.org", "rsa-2048", 1735689600),
              "certs/example.org/archive/1735689600-rsa-2048.pem");
    EXPECT_EQ(layout::order_json("example.org", "ecdsa-p384"),
              "orders/example.org.ecdsa-p384.json");
    EXPECT_EQ(layout::order_key("example.org", "ecdsa-p384"), "orders/example.org.ecdsa-p384.key");
    EXPECT_EQ(layout::http01_challenge("tok_en-1"), "challenges/http-01/tok_en-1");
    EXPECT_EQ(layout::tls_alpn01_challenge("WWW.example.org"),
              "challenges/tls-alpn-01/www.example.org.pem");
    EXPECT_EQ(layout::fallback_bundle("_wildcard.example.org", "ecdsa-p256"),
              "fallback/_wildcard.example.org/ecdsa-p256.pem");
    EXPECT_STREQ(layout::kCertsDir, "certs");
    EXPECT_STREQ(layout::kAccountsDir, "accounts");
    EXPECT_STREQ(layout::kOrdersDir, "orders");
}

TEST(Layout, KeyBuildersRefuseUnsanitisedParts) {
    expect_invalid([] { layout::http01_challenge("../../etc/passwd"); });
    expect_invalid([] { layout::http01_challenge(""); });
    expect_invalid([] { layout::cert_dir("../x"); });
    expect_invalid([] { layout::cert_dir("Example.org"); });  // not passed through cert_name
    expect_invalid([] { layout::cert_bundle("example.org", "../key"); });
    expect_invalid([] { layout::cert_bundle("example.org", "ecdsa.p256"); });
    expect_invalid([] { layout::cert_bundle("example.org", ""); });
    expect_invalid([] { layout::order_json("a/b", "rsa-2048"); });
    expect_invalid([] { layout::order_key("example.org", "x/y"); });
    expect_invalid([] { layout::fallback_bundle("", "rsa-2048"); });
    expect_invalid([] { layout::account_json("../other"); });
    expect_invalid([] { layout::account_json(""); });
    expect_invalid([] { layout::account_json("Upper-1234abcd"); });
    expect_invalid([] { layout::tls_alpn01_challenge("a/b"); });
    expect_invalid([] { layout::cert_archive("example.org", "rsa-2048", -1); });
}

}  // namespace
}  // namespace acme
