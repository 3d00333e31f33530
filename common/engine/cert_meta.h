// The persisted state of one managed certificate: the store value certs/<name>/meta.json (see
// store/layout.h cert_meta()). This file only converts between CertMeta and the JSON text; the
// caller reads and writes the store (atomically, under the certificate's lock).
//
// Contract:
//  1. to_json() never throws for a CertMeta it built (except std::bad_alloc); times are written as
//     RFC 3339 UTC strings, and a time of 0 ("never"/"unknown") is omitted.
//  2. cert_meta_from_json() is forward compatible: missing members take their defaults, unknown
//     members are ignored, a newer "version" is read as far as it is understood. It throws
//     Error(invalid) naming the member ("meta.json: certificates[0].not_after: malformed RFC 3339
//     timestamp ...") when the text is not JSON, not an object, or a known member has the wrong
//     type or an unparseable time. The caller then schedules the certificate as if it had never
//     been scheduled, rebuilding CertMeta from the stored bundles: a corrupt meta.json never
//     causes a stored certificate to be discarded.
//  3. Plain values; no thread-safety of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scheduler.h"

namespace acme::engine {

// One installed certificate (one key type).
struct KeyCert {
    std::string key_type;   // "ecdsa-p256", "rsa-2048", ...
    std::string issuer;     // issuer DN, one line
    std::string issuer_cn;  // issuer common name ("" when none)
    std::string serial;     // lowercase hex
    int64_t not_before = 0;
    int64_t not_after = 0;
    std::string sha256;  // lowercase hex SHA-256 of the leaf's DER
    std::string ca;      // directory URL of the CA that issued it ("" when unknown)
    int64_t installed_at = 0;
    AriInfo ari;  // ari.cert_id: RFC 9773 identifier of this leaf
    // OCSP for stapling (only for certificates a server staples).
    std::string ocsp_url;          // the leaf's responder ("" = none)
    int64_t ocsp_next_update = 0;  // of the stored response; 0 = none stored
    int64_t ocsp_refresh_at = 0;   // when to fetch a response (again); 0 = as soon as possible
    int ocsp_fails = 0;            // consecutive failed fetches
    std::string ocsp_error;        // the last failure; "" after a success
};

struct CertMeta {
    std::string name;                  // store name
    std::vector<std::string> domains;  // names the stored certificates cover
    std::string ca;                    // directory URL of the CA that issued them
    std::string config_hash;           // CertConfig::hash() they were ordered for
    // The ACME profile they were ordered with ("" for the CA's default); unknown (a meta.json
    // written before profiles were recorded) when absent.
    std::optional<std::string> profile;
    std::vector<KeyCert> certs;        // stored certificates, in configuration order
    ScheduleState schedule;
    // A server staples OCSP responses for it: whoever renews it (acmectl too) fetches one.
    bool stapled = false;

    // The certificate of `key_type`, or nullptr.
    KeyCert* find(std::string_view key_type);
    const KeyCert* find(std::string_view key_type) const;
    // Replaces (or appends) the certificate of c.key_type.
    void put(KeyCert c);
};

constexpr int kCertMetaVersion = 1;

// Pretty-printed, key-sorted JSON with a trailing newline.
std::string to_json(const CertMeta& meta);
CertMeta cert_meta_from_json(std::string_view text);

// The scheduler's view of `meta` for the configured key types (configuration order); a key type
// without a stored certificate is reported as not present.
CertFacts cert_facts(const CertMeta& meta, const std::vector<std::string>& key_types,
                     bool matches_config);

}  // namespace acme::engine
