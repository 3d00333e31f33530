// The one place that builds store keys (see layout.h).
#include "store/layout.h"

#include <openssl/evp.h>

#include <cctype>
#include <string>

#include "util/error.h"

namespace acme::layout {
namespace {

// Longest certificate name: "orders/<name>.<key-type>.json" must stay within NAME_MAX (255) for
// key types of up to 19 characters.
constexpr size_t kMaxNameLength = 230;
// Longest identifier file name: "<identifier>.pem" within NAME_MAX.
constexpr size_t kMaxIdentifierLength = 250;
constexpr size_t kMaxTokenLength = 128;

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// A printable rendering of a refused value for error messages (no control bytes, bounded).
std::string shown(std::string_view v) {
    std::string out;
    for (char c : v.substr(0, 80)) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            static const char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    if (v.size() > 80) out += "...";
    return "'" + out + "'";
}

// A single path segment built from already-sanitised parts: [a-z0-9._-], not starting with '.'.
void check_name(std::string_view what, std::string_view v) {
    bool ok = !v.empty() && v.size() <= kMaxNameLength && v.front() != '.';
    for (char c : v) ok = ok && name_char(c);
    if (!ok) fail_invalid("store: invalid " + std::string(what) + " " + shown(v));
}

// Key types are "ecdsa-p256", "rsa-2048", ...: [a-z0-9-] (no dots, so that
// "<name>.<key-type>.json" is unambiguous).
void check_key_type(std::string_view v) {
    bool ok = !v.empty() && v.size() <= 19;
    for (char c : v) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!ok) fail_invalid("store: invalid key type " + shown(v));
}

// A CA id as ca_id() builds it: a name ([a-z0-9._-], so that it can also be part of a lock name).
void check_ca_id(std::string_view v) {
    bool ok = !v.empty() && v.size() <= 200 && v.front() != '.';
    for (char c : v) ok = ok && name_char(c);
    if (!ok) fail_invalid("store: invalid CA id " + shown(v));
}

std::string sha256_hex8(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 4)
        throw Error(Status::crypto, "store: SHA-256 of a CA directory URL failed");
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 4; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

}  // namespace

std::string cert_name(std::string_view requested) {
    // Only the "*" of a wildcard name ("*.example.org") is translated; a '*' elsewhere (or a bare
    // "*") is refused below.
    std::string out = requested.size() > 2 && requested.substr(0, 2) == "*."
                          ? "_wildcard" + lowercase(requested.substr(1))
                          : lowercase(requested);
    bool ok = !out.empty() && out.size() <= kMaxNameLength && out.front() != '.';
    for (char c : out) ok = ok && name_char(c);
    if (!ok) {
        fail_invalid(
            "invalid certificate name " + shown(requested) +
            " (allowed: a-z 0-9 . _ - and a leading '*.', not starting with '.', at most " +
            std::to_string(kMaxNameLength) + " characters)");
    }
    return out;
}

std::string ca_id(std::string_view url) {
    size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0)
        fail_invalid("invalid CA directory URL " + shown(url) + " (expected https://host/path)");
    std::string_view rest = url.substr(scheme_end + 3);
    size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view path =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    // Never put credentials into a path.
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    // host[:port]; an IPv6 literal keeps its colons inside the brackets.
    std::string_view host = authority, port;
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) fail_invalid("invalid CA directory URL " + shown(url) + " (no host)");

    auto sanitise = [](std::string_view s, bool lower) {
        std::string o;
        for (char c : s) {
            if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            bool keep =
                std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
            o += keep ? c : '_';
        }
        return o;
    };
    std::string id = sanitise(host, true);
    if (!port.empty()) id += "_" + sanitise(port, false);
    // The path up to any query or fragment, with '/' as '-'.
    path = path.substr(0, path.find_first_of("?#"));
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (!path.empty()) {
        std::string p = sanitise(path, true);
        for (size_t i = 0; i < path.size(); ++i) {
            if (path[i] == '/') p[i] = '-';
        }
        id += "-" + p;
    }
    if (id.size() > 120) id.resize(120);  // the hash keeps long ids unique
    if (id.front() == '.') id.front() = '_';
    return id + "-" + sha256_hex8(url);
}

std::string account_id(std::string_view directory_url, std::string_view eab_kid) {
    std::string id = ca_id(directory_url);
    if (!eab_kid.empty()) id += "-eab-" + sha256_hex8(eab_kid);
    return id;
}

bool valid_token(std::string_view token) noexcept {
    if (token.empty() || token.size() > kMaxTokenLength) return false;
    for (char c : token) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string identifier_file_name(std::string_view identifier) {
    std::string out = lowercase(identifier);
    // DNS names and IPv4/IPv6 literals; ':' appears only in IPv6 literals.
    bool ok = !out.empty() && out.size() <= kMaxIdentifierLength && out.front() != '.';
    for (char c : out) ok = ok && (name_char(c) || c == ':');
    if (!ok) {
        fail_invalid("invalid identifier " + shown(identifier) +
                     " for a file name (allowed: a-z 0-9 . _ - :, not starting with '.')");
    }
    return out;
}

std::string account_json(const std::string& ca_id) {
    check_ca_id(ca_id);
    return std::string(kAccountsDir) + "/" + ca_id + "/account.json";
}

std::string account_key(const std::string& ca_id) {
    check_ca_id(ca_id);
    return std::string(kAccountsDir) + "/" + ca_id + "/account.key";
}

std::string cert_dir(const std::string& name) {
    check_name("certificate name", name);
    return std::string(kCertsDir) + "/" + name;
}

std::string cert_bundle(const std::string& name, std::string_view key_type) {
    check_key_type(key_type);
    return cert_dir(name) + "/" + std::string(key_type) + ".pem";
}

std::string cert_meta(const std::string& name) {
    return cert_dir(name) + "/meta.json";
}

std::string cert_ocsp(const std::string& name, std::string_view key_type) {
    check_key_type(key_type);
    return cert_dir(name) + "/" + std::string(key_type) + ".ocsp";
}

std::string cert_archive_dir(const std::string& name) {
    return cert_dir(name) + "/archive";
}

std::string cert_archive(const std::string& name, std::string_view key_type, long long unix_time) {
    check_key_type(key_type);
    if (unix_time < 0) fail_invalid("store: negative archive time " + std::to_string(unix_time));
    return cert_archive_dir(name) + "/" + std::to_string(unix_time) + "-" + std::string(key_type) +
           ".pem";
}

std::string order_json(const std::string& name, std::string_view key_type) {
    check_name("certificate name", name);
    check_key_type(key_type);
    return std::string(kOrdersDir) + "/" + name + "." + std::string(key_type) + ".json";
}

std::string order_key(const std::string& name, std::string_view key_type) {
    check_name("certificate name", name);
    check_key_type(key_type);
    return std::string(kOrdersDir) + "/" + name + "." + std::string(key_type) + ".key";
}

std::string http01_challenge(std::string_view token) {
    if (!valid_token(token)) fail_invalid("store: invalid http-01 token " + shown(token));
    return std::string(kHttp01Dir) + "/" + std::string(token);
}

std::string tls_alpn01_challenge(std::string_view identifier) {
    return std::string(kTlsAlpn01Dir) + "/" + identifier_file_name(identifier) + ".pem";
}

std::string fallback_bundle(const std::string& name, std::string_view key_type) {
    check_name("certificate name", name);
    check_key_type(key_type);
    return "fallback/" + name + "/" + std::string(key_type) + ".pem";
}

std::string driver_state(const std::string& config_id) {
    check_name("configuration id", config_id);
    return "locks/driver-" + config_id + ".json";
}

}  // namespace acme::layout
