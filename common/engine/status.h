// Status of managed certificates for operators: the JSON document served by `acme_status` /
// `SetHandler acme-status` and `acmectl status`, and the Prometheus text exposition (format
// 0.0.4) served with `?format=prometheus`.
//
// Contract:
//  1. Pure rendering of the persisted CertMeta values (plus `now` and, optionally, what the driver
//     is doing): no I/O, no clock, thread-safe, reentrant. Certificates appear in the given order.
//  2. Never exposes secrets: CertMeta holds none, and the error detail recorded by the scheduler
//     is a message that by the core's rules never contains key material.
//  3. Does not throw for any CertMeta (except std::bad_alloc).
//
// JSON (pretty-printed, keys sorted within each object, trailing newline; times RFC 3339 UTC,
// null when unknown):
//   {"version": 1,
//    "driver": {"active": bool, "this_process": bool, "pid": int|null, "since": time|null,
//               "working_on": name|null, "next_wakeup": time|null}  (only when passed)
//    "certificates": [{
//      "name", "domains": [...], "ca": directory URL|null,
//      "key_types": {"ecdsa-p256": {"issuer", "issuer_cn", "serial", "not_before", "not_after",
//                    "expires_in_seconds" (negative once expired), "sha256",
//                    "ari_window": {"start", "end", "explanation_url"|null} or null}},
//      "next_renewal": time|null, "renewal_source": "ari"|"lifetime"|"override"|"order-pending"
//                      or null when never scheduled,
//      "state": see CertState, "in_progress": bool (the driver works on it now),
//      "fails": int, "last_error": {"type", "detail", "at"} or null, "last_success": time|null}]}
//
// Prometheus (each family with # HELP and # TYPE, all gauges; a sample whose value is unknown is
// left out; label values escaped: \ -> \\, " -> \", newline -> \n):
//   acme_certificate_not_after_seconds{name,key_type}   not_after, Unix seconds
//   acme_certificate_valid{name,key_type}               1 when not_before <= now < not_after
//   acme_certificate_next_renewal_seconds{name}         next_renewal, Unix seconds
//   acme_certificate_failures{name}                     consecutive failures
//   acme_certificate_last_success_seconds{name}         last successful order, Unix seconds
//   acme_driver_active                                  1/0: a process drives (only when a
//                                                       DriverStatus is passed)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cert_meta.h"

namespace acme::engine {

// Who drives the store's ACME work for this configuration, and what it is doing (optional
// input). The driving process publishes it in the store, so any process can report it.
struct DriverStatus {
    bool active = false;        // some live process holds the driver lock
    bool this_process = false;  // ... and it is the process rendering the status
    long pid = 0;               // the driving process; 0 = unknown
    int64_t since = 0;          // when it took the driver role; 0 = unknown
    std::string working_on;     // store name of the certificate being ordered; "" = none
    int64_t next_wakeup = 0;    // 0 = unknown
};

// The one-word state of a certificate at `now`, first match wins:
//   "expired"            a stored certificate's not_after <= now
//   "waiting-for-config" a permanent error: waits for a configuration change (or the 24 h retry)
//   "retrying"           the last attempt failed; backing off
//   "pending"            no certificate stored yet, or one must be ordered (names changed...)
//   "renewal-scheduled"  valid, and its renewal point has been reached (an order is due)
//   "valid"              valid, renewal point in the future (or not yet decided)
std::string cert_state(const CertMeta& meta, int64_t now);

std::string status_json(const std::vector<CertMeta>& certs, int64_t now,
                        const DriverStatus* driver = nullptr);
std::string status_prometheus(const std::vector<CertMeta>& certs, int64_t now,
                              const DriverStatus* driver = nullptr);

// Prometheus label value escaping (exposed for tests and the glue).
std::string prometheus_escape(std::string_view value);

}  // namespace acme::engine
