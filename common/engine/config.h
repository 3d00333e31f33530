// Configuration of managed certificates, as the C ABI hands it over (acme_cert_config), validated
// and normalised once. Validation messages are what `nginx -t` / `apachectl configtest` show, so
// each names the offending value and says what would be accepted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"

namespace acme::engine {

enum class ChallengeType { http01, tls_alpn01, dns01 };

const char* challenge_name(ChallengeType t) noexcept;
// "http-01", "tls-alpn-01", "dns-01"; throws Error(invalid) naming the value otherwise.
ChallengeType parse_challenge(std::string_view name);

struct AccountConfig {
    std::vector<std::string> ca_urls;  // https:// directory URLs, failover order
    std::string ca_root;               // PEM file for the CA's HTTPS endpoint, "" = system
    std::vector<std::string> contacts; // normalised to "mailto:..."
    bool agree_tos = false;
    std::string eab_kid, eab_hmac_key, eab_alg;
    std::string eab_hmac_key_file;     // read into eab_hmac_key by validate()
    std::string chain_roots;           // PEM roots an issued chain must reach, "" = system store
};

struct CertConfig {
    std::string name;                  // store name
    std::vector<std::string> domains;  // normalised: lowercase, no trailing dot, IPs canonical
    std::vector<crypto::KeyType> key_types;
    ChallengeType challenge = ChallengeType::http01;
    std::string dns_hook;
    int dns_propagation_seconds = 0;
    std::string profile;
    std::string renew_window;
    std::string preferred_chain;
    AccountConfig account;

    // A stable digest of everything that affects what is ordered and how; a change makes a
    // certificate that waits for a configuration change (after a permanent error) retry.
    std::string hash() const;
};

// Normalises a name ("Example.ORG." -> "example.org", "2001:DB8::1" -> "2001:db8::1") and checks
// it: DNS labels of 1..63 characters [a-z0-9-] not starting or ending with '-', at most 253
// characters, an optional leading "*." wildcard label, or an IPv4/IPv6 literal. Throws
// Error(invalid) naming the value and the problem.
std::string normalize_name(std::string_view name);
bool is_ip_literal(std::string_view name) noexcept;

// Normalises and validates in place (names, duplicates, key types, challenge vs names, dns hook
// executable, CA URLs, contacts, EAB, renew window, profile syntax, store name). Throws
// Error(invalid) with a message starting with the problem.
void validate(CertConfig& cfg);
void validate(AccountConfig& cfg);

}  // namespace acme::engine
