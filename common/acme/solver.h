// Challenge solvers: how the driver makes a challenge answerable.
//
// Contract:
//  - type() is the ACME challenge type the solver answers ("http-01", "dns-01", "tls-alpn-01").
//  - present() makes the response to `challenge` for `identifier` observable to the CA before it
//    returns (it may block: a DNS hook plus a propagation wait), or throws acme::Error. It is called
//    on the thread working on the order, for every authorization of an order before any is
//    answered.
//  - cleanup() undoes present() and never throws; it is called exactly once for every present()
//    that returned, whatever happened in between (success, failure, cancellation).
//  - Solvers may be shared by several orders in flight on different threads: both methods are
//    thread-safe.
#pragma once

#include <string>

#include "acme/types.h"

namespace acme::proto {

class ChallengeSolver {
public:
    virtual ~ChallengeSolver() = default;
    virtual std::string type() const = 0;
    virtual void present(const Identifier& identifier, const Challenge& challenge,
                         const std::string& key_authorization) = 0;
    virtual void cleanup(const Identifier& identifier, const Challenge& challenge,
                         const std::string& key_authorization) noexcept = 0;
};

}  // namespace acme::proto
