// engine/config: validation messages (each names the offending value) and normalisation.
#include "engine/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace acme::engine {
namespace {

CertConfig base_config() {
    CertConfig c;
    c.domains = {"example.org"};
    c.account.ca_urls = {"https://acme.example/directory"};
    return c;
}

// The message of the Error that validate() throws, "" when it accepts.
std::string refusal(CertConfig c) {
    try {
        validate(c);
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << e.what();
        EXPECT_TRUE(e.permanent()) << e.what();
        return e.what();
    }
    return "";
}

#define EXPECT_REFUSED(cfg, ...)                           \
    do {                                                   \
        const std::string msg_ = refusal(cfg);             \
        EXPECT_FALSE(msg_.empty()) << "accepted";          \
        for (const char* part_ : {__VA_ARGS__})            \
            EXPECT_NE(msg_.find(part_), std::string::npos) \
                << "'" << part_ << "' not in: " << msg_;   \
    } while (0)

struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/acme-config-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name, const std::string& content, mode_t mode) {
        std::string p = path + "/" + name;
        std::ofstream(p) << content;
        chmod(p.c_str(), mode);
        return p;
    }
    std::string path;
};

TEST(Config, AcceptsAPlainConfiguration) {
    CertConfig c = base_config();
    EXPECT_EQ(refusal(c), "");
}

TEST(Config, RegexLikeNames) {
    for (const char* n : {"~^www\\.example\\.org$", "www.example.*", "(www|mail).example.org",
                          "example.org/path", "exa mple.org"}) {
        CertConfig c = base_config();
        c.domains = {n};
        EXPECT_REFUSED(c, n);
    }
}

TEST(Config, BadLabels) {
    const std::string long_label(64, 'a');
    const std::string long_name = std::string(60, 'a') + "." + std::string(60, 'b') + "." +
                                  std::string(60, 'c') + "." + std::string(60, 'd') +
                                  ".example.org";
    for (std::string n :
         {std::string("-bad.example.org"), std::string("bad-.example.org"),
          std::string("a..example.org"), std::string("exa_mple.org"), std::string(".example.org"),
          long_label + ".example.org", std::string("例え.jp")}) {
        CertConfig c = base_config();
        c.domains = {n};
        EXPECT_REFUSED(c, n.c_str());
    }
    CertConfig c = base_config();
    c.domains = {long_name};
    EXPECT_REFUSED(c, long_name.c_str(), "253");
    c.domains = {""};
    EXPECT_REFUSED(c, "empty");
    c.domains = {};
    EXPECT_REFUSED(c, "no domain names");
    c.domains.clear();
    for (int i = 0; i < 101; ++i) c.domains.push_back("n" + std::to_string(i) + ".example.org");
    EXPECT_REFUSED(c, "100");
}

TEST(Config, WildcardRules) {
    CertConfig c = base_config();
    c.domains = {"example.org", "*.example.org"};
    EXPECT_REFUSED(c, "\"*.example.org\"", "dns-01");
    c.challenge = ChallengeType::tls_alpn01;
    EXPECT_REFUSED(c, "\"*.example.org\"", "dns-01");
    c = base_config();
    c.domains = {"www.*.example.org"};
    EXPECT_REFUSED(c, "www.*.example.org", "leftmost");
    c.domains = {"*.org"};
    c.challenge = ChallengeType::dns01;
    c.dns_hook = "/bin/true";
    EXPECT_REFUSED(c, "*.org");
    c.domains = {"*w.example.org"};
    EXPECT_REFUSED(c, "*w.example.org");
    c.domains = {"*.example.org"};
    EXPECT_EQ(refusal(c), "");
}

TEST(Config, IpAddressWithDns01) {
    CertConfig c = base_config();
    c.domains = {"example.org", "192.0.2.1"};
    c.challenge = ChallengeType::dns01;
    c.dns_hook = "/bin/true";
    EXPECT_REFUSED(c, "\"192.0.2.1\"", "dns-01");
    c.domains = {"2001:db8::1"};
    EXPECT_REFUSED(c, "\"2001:db8::1\"", "dns-01");
    c.challenge = ChallengeType::http01;
    EXPECT_EQ(refusal(c), "");
    // An IPv6-only certificate gets a usable store name.
    validate(c);
    EXPECT_EQ(c.name, "2001_db8__1");
    CertConfig v4 = base_config();
    v4.domains = {"192.0.2.1"};
    validate(v4);
    EXPECT_EQ(v4.name, "192.0.2.1");
}

TEST(Config, KeyTypes) {
    CertConfig c = base_config();
    c.key_types = {crypto::KeyType::ecdsa_p256, crypto::KeyType::ecdsa_p384};
    EXPECT_REFUSED(c, "ecdsa-p256", "ecdsa-p384", "one ECDSA and one RSA");
    c.key_types = {crypto::KeyType::rsa2048, crypto::KeyType::rsa4096};
    EXPECT_REFUSED(c, "rsa-2048", "rsa-4096");
    c.key_types = {crypto::KeyType::rsa2048, crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa3072};
    EXPECT_REFUSED(c, "at most two");
    c.key_types = {crypto::KeyType::rsa2048, crypto::KeyType::ecdsa_p256};
    EXPECT_EQ(refusal(c), "");
}

TEST(Config, DnsHook) {
    TempDir tmp;
    CertConfig c = base_config();
    c.challenge = ChallengeType::dns01;
    EXPECT_REFUSED(c, "DNS hook");
    c.dns_hook = tmp.file("hook.sh", "#!/bin/sh\nexit 0\n", 0644);
    EXPECT_REFUSED(c, c.dns_hook.c_str(), "not an executable");
    c.dns_hook = tmp.path + "/missing.sh";
    EXPECT_REFUSED(c, c.dns_hook.c_str());
    c.dns_hook = tmp.path;  // a directory
    EXPECT_REFUSED(c, tmp.path.c_str());
    c.dns_hook = tmp.file("ok.sh", "#!/bin/sh\nexit 0\n", 0755);
    EXPECT_EQ(refusal(c), "");
    c.dns_propagation_seconds = -1;
    EXPECT_REFUSED(c, "propagation");
    c.dns_propagation_seconds = 3601;
    EXPECT_REFUSED(c, "propagation");
}

TEST(Config, CaUrls) {
    CertConfig c = base_config();
    c.account.ca_urls = {"http://acme.example/directory"};
    EXPECT_REFUSED(c, "\"http://acme.example/directory\"", "https://");
    c.account.ca_urls = {"acme.example/directory"};
    EXPECT_REFUSED(c, "acme.example/directory");
    c.account.ca_urls = {"https://"};
    EXPECT_REFUSED(c, "\"https://\"");
    for (const char* url : {"https:///dir", "https://:14000/dir", "https://user@/dir",
                            "https://?x", "https://#y"}) {
        c.account.ca_urls = {url};
        EXPECT_REFUSED(c, url, "names no host");
    }
    c.account.ca_urls = {"https://127.0.0.1:14000/dir"};
    EXPECT_EQ(refusal(c), "");
    c.account.ca_urls = {"https://a.example/dir", "https://a.example/dir"};
    EXPECT_REFUSED(c, "https://a.example/dir", "twice");
    c.account.ca_urls = {};
    EXPECT_REFUSED(c, "no ACME CA");
    c.account.ca_urls = {"https://a.example/dir"};
    c.account.ca_root = "/nonexistent/root.pem";
    EXPECT_REFUSED(c, "/nonexistent/root.pem");
}

TEST(Config, Contacts) {
    CertConfig c = base_config();
    c.account.contacts = {"not-an-email"};
    EXPECT_REFUSED(c, "\"not-an-email\"");
    c.account.contacts = {"ops@example.org, dev@example.org"};
    EXPECT_REFUSED(c, "ops@example.org, dev@example.org");
    c.account.contacts = {"@example.org"};
    EXPECT_REFUSED(c, "@example.org");
    c.account.contacts = {"ops@"};
    EXPECT_REFUSED(c, "ops@");
    c.account.contacts = {"mailto:"};
    EXPECT_REFUSED(c, "contact");
    c.account.contacts = {"ops@example.org", "mailto:dev@example.org", "MAILTO:sec@example.org"};
    validate(c);
    EXPECT_EQ(c.account.contacts,
              (std::vector<std::string>{"mailto:ops@example.org", "mailto:dev@example.org",
                                        "mailto:sec@example.org"}));
}

TEST(Config, ExternalAccountBinding) {
    CertConfig c = base_config();
    c.account.eab_kid = "kid-1";
    EXPECT_REFUSED(c, "both");
    c.account.eab_kid = "";
    c.account.eab_hmac_key = "c2VjcmV0";
    EXPECT_REFUSED(c, "both");
    c.account.eab_kid = "kid-1";
    c.account.eab_hmac_key = "not+base64url/==";
    const std::string msg = refusal(c);
    EXPECT_NE(msg.find("base64url"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("not+base64url/=="), std::string::npos) << "the HMAC key leaked: " << msg;
    c.account.eab_hmac_key = "c2VjcmV0LWtleS0xMjM0NTY3ODkwYWJjZGVm";
    c.account.eab_alg = "HS1";
    EXPECT_REFUSED(c, "\"HS1\"");
    c.account.eab_alg = "";
    validate(c);
    EXPECT_EQ(c.account.eab_alg, "HS256");
}

TEST(Config, RenewWindow) {
    CertConfig c = base_config();
    c.renew_window = "40x";
    EXPECT_REFUSED(c, "40x");
    c.renew_window = "150%";
    EXPECT_REFUSED(c, "150%");
    c.renew_window = "30d";
    EXPECT_EQ(refusal(c), "");
    c.renew_window = "33%";
    EXPECT_EQ(refusal(c), "");
}

TEST(Config, ProfileCharacters) {
    CertConfig c = base_config();
    for (const char* p : {"short lived", "short\"lived", "a/b", "x\ny"}) {
        c.profile = p;
        EXPECT_REFUSED(c, p);
    }
    c.profile = "tls-server_2025.v1";
    EXPECT_EQ(refusal(c), "");
}

TEST(Config, StoreName) {
    CertConfig c = base_config();
    c.name = "../etc";
    EXPECT_REFUSED(c, "../etc");
    c.name = "My Site";
    EXPECT_REFUSED(c, "My Site");
}

TEST(Config, Normalisation) {
    CertConfig c = base_config();
    c.domains = {"WWW.Example.ORG.", "www.example.org", "2001:DB8:0:0::1",
                 "2001:db8::1",      "192.0.2.10",      "Example.org"};
    validate(c);
    EXPECT_EQ(c.domains, (std::vector<std::string>{"www.example.org", "2001:db8::1", "192.0.2.10",
                                                   "example.org"}));
    EXPECT_EQ(c.name, "www.example.org");
    EXPECT_EQ(c.key_types, std::vector<crypto::KeyType>{crypto::KeyType::ecdsa_p256});

    CertConfig w = base_config();
    w.domains = {"*.Example.org"};
    w.challenge = ChallengeType::dns01;
    w.dns_hook = "/bin/true";
    validate(w);
    EXPECT_EQ(w.domains, std::vector<std::string>{"*.example.org"});
    EXPECT_EQ(w.name, "_wildcard.example.org");

    CertConfig n = base_config();
    n.name = "Shop";
    validate(n);
    EXPECT_EQ(n.name, "shop");
}

TEST(Config, NormalizeNameAndIpLiterals) {
    EXPECT_EQ(normalize_name("Example.ORG."), "example.org");
    EXPECT_EQ(normalize_name("2001:DB8::0:1"), "2001:db8::1");
    EXPECT_EQ(normalize_name("::FFFF:192.0.2.1"), "::ffff:192.0.2.1");
    EXPECT_EQ(normalize_name("*.EXAMPLE.org"), "*.example.org");
    EXPECT_TRUE(is_ip_literal("192.0.2.1"));
    EXPECT_TRUE(is_ip_literal("2001:db8::1"));
    EXPECT_FALSE(is_ip_literal("192.0.2"));
    EXPECT_FALSE(is_ip_literal("example.org"));
    EXPECT_FALSE(is_ip_literal("256.0.0.1"));
}

TEST(Config, ChallengeNames) {
    EXPECT_EQ(parse_challenge("http-01"), ChallengeType::http01);
    EXPECT_EQ(parse_challenge("tls-alpn-01"), ChallengeType::tls_alpn01);
    EXPECT_EQ(parse_challenge("dns-01"), ChallengeType::dns01);
    try {
        parse_challenge("http-02");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("\"http-02\""), std::string::npos) << e.what();
    }
    EXPECT_STREQ(challenge_name(ChallengeType::tls_alpn01), "tls-alpn-01");
}

TEST(Config, HashFollowsWhatIsOrdered) {
    CertConfig a = base_config(), b = base_config();
    validate(a);
    validate(b);
    EXPECT_EQ(a.hash(), b.hash());
    b.domains.push_back("www.example.org");
    EXPECT_NE(a.hash(), b.hash());
    CertConfig p = base_config();
    p.profile = "shortlived";
    validate(p);
    EXPECT_NE(a.hash(), p.hash());
    CertConfig k = base_config();
    k.key_types = {crypto::KeyType::rsa2048};
    validate(k);
    EXPECT_NE(a.hash(), k.hash());
    CertConfig e = base_config();
    e.account.eab_kid = "kid";
    e.account.eab_hmac_key = "c2VjcmV0";
    validate(e);
    CertConfig e2 = e;
    e2.account.eab_hmac_key = "b3RoZXI";
    EXPECT_EQ(e.hash(), e2.hash());  // the HMAC key is not part of it
}

}  // namespace
}  // namespace acme::engine
