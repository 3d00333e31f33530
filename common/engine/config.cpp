#include "engine/config.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "engine/scheduler.h"
#include "store/layout.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/fs.h"

namespace acme::engine {
namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

[[noreturn]] void invalid(const std::string& msg) { throw Error(Status::invalid, msg, true); }

// Runs `check`; an Error it throws that names no setting yet is about `field` (the member of
// acme_cert_config / acme_account_config that servers map to a directive).
template <typename F>
void in_field(const char* field, F&& check) {
    try {
        check();
    } catch (Error& e) {
        if (e.field().empty()) e.set_field(field);
        throw;
    }
}

bool valid_label(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    }
    return true;
}

bool is_wildcard(const std::string& name) { return name.rfind("*.", 0) == 0; }

}  // namespace

const char* challenge_name(ChallengeType t) noexcept {
    switch (t) {
        case ChallengeType::http01: return "http-01";
        case ChallengeType::tls_alpn01: return "tls-alpn-01";
        case ChallengeType::dns01: return "dns-01";
    }
    return "?";
}

ChallengeType parse_challenge(std::string_view name) {
    if (name == "http-01") return ChallengeType::http01;
    if (name == "tls-alpn-01") return ChallengeType::tls_alpn01;
    if (name == "dns-01") return ChallengeType::dns01;
    invalid("unknown challenge type " + quoted(name) + " (use http-01, tls-alpn-01 or dns-01)");
}

bool is_ip_literal(std::string_view name) noexcept {
    std::string s(name);
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string normalize_name(std::string_view raw) {
    std::string name(raw);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.empty()) invalid("empty domain name");
    unsigned char buf[16];
    if (inet_pton(AF_INET, name.c_str(), buf) == 1) return name;
    if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, buf, text, sizeof text);
        return text;
    }
    if (name.back() == '.') name.pop_back();
    if (name.size() > 253) invalid("domain name " + quoted(raw) + " is longer than 253 characters");
    std::string_view rest = name;
    if (is_wildcard(name)) rest.remove_prefix(2);
    if (rest.empty()) invalid("invalid domain name " + quoted(raw));
    size_t labels = 0;
    while (!rest.empty()) {
        size_t dot = rest.find('.');
        std::string_view label = rest.substr(0, dot);
        if (label == "*") invalid("wildcard in " + quoted(raw) + " must be the whole leftmost label");
        if (!valid_label(label)) {
            invalid("invalid domain name " + quoted(raw) +
                    " (labels are 1-63 letters, digits or '-', not starting or ending with '-')");
        }
        ++labels;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
        if (rest.empty()) invalid("invalid domain name " + quoted(raw));
    }
    if (is_wildcard(name) && labels < 2)
        invalid("wildcard " + quoted(raw) + " must have at least two labels after \"*.\"");
    return name;
}

void validate(AccountConfig& a) {
    in_field("ca_urls", [&] {
        if (a.ca_urls.empty()) invalid("no ACME CA directory URL is configured");
        std::set<std::string> seen;
        for (const std::string& url : a.ca_urls) {
            if (url.rfind("https://", 0) != 0 || url.size() <= 8) {
                invalid("CA directory URL " + quoted(url) +
                        " must start with https:// (RFC 8555 section 6.1)");
            }
            if (url.find_first_of(" \t\r\n\"") != std::string::npos)
                invalid("invalid CA directory URL " + quoted(url));
            const std::string host = url.substr(8, url.find_first_of("/?#", 8) - 8);
            if (host.empty() || host.front() == ':' || host.back() == '@')
                invalid("CA directory URL " + quoted(url) + " names no host");
            if (!seen.insert(url).second)
                invalid("CA directory URL " + quoted(url) + " is listed twice");
        }
    });
    in_field("ca_root", [&] {
        if (!a.ca_root.empty() && ::access(a.ca_root.c_str(), R_OK) != 0)
            invalid("CA root file " + quoted(a.ca_root) + " is not readable");
    });
    in_field("chain_roots", [&] {
        if (a.chain_roots.empty()) return;
        std::string pem;
        try {
            pem = fs::read_file(a.chain_roots);
        } catch (const Error& e) {
            invalid("chain roots file " + quoted(a.chain_roots) + " is not readable: " + e.what());
        }
        try {
            crypto::parse_pem_chain(pem);
        } catch (const Error& e) {
            invalid("chain roots file " + quoted(a.chain_roots) + " holds no usable certificate (" +
                    e.what() + ")");
        }
    });
    in_field("contacts", [&] {
        for (std::string& c : a.contacts) {
            if (c.size() >= 7 && strncasecmp(c.c_str(), "mailto:", 7) == 0) c = c.substr(7);
            c = "mailto:" + c;
            std::string addr = c.substr(7);
            size_t at = addr.find('@');
            if (at == std::string::npos || at == 0 || at + 1 >= addr.size() ||
                addr.find_first_of(" ,;<>\"\r\n\t") != std::string::npos) {
                invalid("invalid contact email address " + quoted(addr));
            }
        }
    });
    in_field("eab_hmac_key", [&] {
        if (!a.eab_hmac_key_file.empty()) {
            if (!a.eab_hmac_key.empty())
                invalid("the external account binding HMAC key is given twice (inline and as a "
                        "file)");
            a.eab_hmac_key = fs::read_secret_file(a.eab_hmac_key_file, "EAB HMAC key file");
        }
        if (a.eab_kid.empty() != a.eab_hmac_key.empty())
            invalid("external account binding needs both a key id and an HMAC key");
        if (!a.eab_hmac_key.empty() && !is_base64url(a.eab_hmac_key))
            invalid("the external account binding HMAC key is not base64url-encoded");
    });
    in_field("eab_alg", [&] {
        if (a.eab_hmac_key.empty()) return;
        if (a.eab_alg.empty()) a.eab_alg = "HS256";
        if (a.eab_alg != "HS256" && a.eab_alg != "HS384" && a.eab_alg != "HS512")
            invalid("unknown EAB MAC algorithm " + quoted(a.eab_alg) +
                    " (use HS256, HS384 or HS512)");
    });
}

void validate(CertConfig& c) {
    in_field("domains", [&] {
        if (c.domains.empty()) invalid("no domain names for the certificate");
        if (c.domains.size() > 100) invalid("more than 100 names in one certificate");
        std::vector<std::string> names;
        std::set<std::string> seen;
        for (const std::string& d : c.domains) {
            std::string n = normalize_name(d);
            if (seen.insert(n).second) names.push_back(n);
        }
        c.domains = names;
    });

    in_field("key_types", [&] {
        if (c.key_types.empty()) c.key_types.push_back(crypto::KeyType::ecdsa_p256);
        if (c.key_types.size() > 2) invalid("at most two key types (one ECDSA, one RSA)");
        if (c.key_types.size() == 2 &&
            crypto::is_rsa(c.key_types[0]) == crypto::is_rsa(c.key_types[1])) {
            invalid(std::string("two key types must be one ECDSA and one RSA type, not ") +
                    crypto::key_type_name(c.key_types[0]) + " and " +
                    crypto::key_type_name(c.key_types[1]));
        }
    });

    // A name the challenge cannot validate: about the name.
    in_field("domains", [&] {
        for (const std::string& n : c.domains) {
            if (is_wildcard(n) && c.challenge != ChallengeType::dns01) {
                invalid("wildcard name " + quoted(n) + " needs the dns-01 challenge (the CA " +
                        "validates wildcards only through DNS)");
            }
            if (is_ip_literal(n) && c.challenge == ChallengeType::dns01)
                invalid("IP address " + quoted(n) +
                        " cannot be validated with dns-01 (use http-01 or tls-alpn-01)");
        }
    });
    in_field("challenge", [&] {
        if (c.challenge == ChallengeType::dns01 && c.dns_hook.empty())
            invalid("the dns-01 challenge needs a DNS hook program");
    });
    in_field("dns_hook", [&] {
        if (c.challenge != ChallengeType::dns01) return;
        struct stat st;
        if (::stat(c.dns_hook.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            ::access(c.dns_hook.c_str(), X_OK) != 0) {
            invalid("DNS hook " + quoted(c.dns_hook) + " is not an executable file");
        }
    });
    in_field("dns_propagation_seconds", [&] {
        if (c.dns_propagation_seconds < 0 || c.dns_propagation_seconds > 3600)
            invalid("DNS propagation wait must be between 0 and 3600 seconds");
    });
    in_field("profile", [&] {
        for (char ch : c.profile) {
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
                invalid("invalid ACME profile name " + quoted(c.profile));
        }
    });
    in_field("renew_window", [&] {
        if (!c.renew_window.empty()) parse_renew_window(c.renew_window);
    });
    in_field("name", [&] {
        std::string derived = c.domains.front();
        // The colons of an IPv6 literal are not store-name characters.
        if (is_ip_literal(derived)) std::replace(derived.begin(), derived.end(), ':', '_');
        c.name = layout::cert_name(c.name.empty() ? derived : c.name);
    });
    validate(c.account);
}

std::string CertConfig::hash() const {
    std::string s = "v1\n" + name + "\n";
    for (const std::string& d : domains) s += "d:" + d + "\n";
    for (crypto::KeyType k : key_types) s += std::string("k:") + crypto::key_type_name(k) + "\n";
    s += std::string("c:") + challenge_name(challenge) + "\nh:" + dns_hook + "\np:" + profile +
         "\nw:" + renew_window + "\nchain:" + preferred_chain + "\n";
    for (const std::string& u : account.ca_urls) s += "ca:" + u + "\n";
    s += "root:" + account.ca_root + "\n";
    if (!account.chain_roots.empty()) s += "chain-roots:" + account.chain_roots + "\n";
    for (const std::string& m : account.contacts) s += "m:" + m + "\n";
    s += "tos:" + std::to_string(account.agree_tos) + "\neab:" + account.eab_kid + "\n";
    return base64url_encode(crypto::sha256(s)).substr(0, 16);
}

}  // namespace acme::engine
