// The three challenge solvers the driver uses (contract: acme/solver.h).
//
//  - Http01StoreSolver publishes key authorizations as store values challenges/http-01/<token>;
//    every server process answers GET /.well-known/acme-challenge/<token> from there
//    (acme_http01_lookup), and so does acmectl's standalone responder.
//  - TlsAlpn01StoreSolver makes the RFC 8737 validation certificate (fresh key, P-256 unless
//    the server has no ECDSA certificate: then RSA-2048, since with TLS 1.2 httpd installs it
//    after the cipher suite was chosen for the server's own certificates) and publishes key +
//    certificate as challenges/tls-alpn-01/<identifier>.pem for the server processes' ALPN /
//    certificate callbacks.
//  - Dns01HookSolver runs `HOOK setup <domain> <txt-value>` (and `teardown` in cleanup) and then
//    waits the configured propagation time (cancellable). <domain> is the identifier without
//    "*." ; the record to set is _acme-challenge.<domain>. A non-zero exit or a timeout fails
//    the order with the hook's output in the message. The cancel flag (acme_ctx_stop) also
//    interrupts the hooks: setup is killed and present() throws Error(internal, "cancelled");
//    a teardown running when the flag is set is killed (a warning says so), one started after
//    it gets kTeardownAfterStopMs.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "acme/solver.h"
#include "engine/config.h"
#include "store/store.h"
#include "util/clock.h"

namespace acme::engine {

class Http01StoreSolver : public proto::ChallengeSolver {
public:
    explicit Http01StoreSolver(Store& store) : store_(store) {}
    std::string type() const override { return "http-01"; }
    void present(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) override;
    void cleanup(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) noexcept override;

private:
    Store& store_;
};

class TlsAlpn01StoreSolver : public proto::ChallengeSolver {
public:
    explicit TlsAlpn01StoreSolver(Store& store,
                                  crypto::KeyType key_type = crypto::KeyType::ecdsa_p256)
        : store_(store), key_type_(key_type) {}
    std::string type() const override { return "tls-alpn-01"; }
    void present(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) override;
    void cleanup(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) noexcept override;

private:
    Store& store_;
    crypto::KeyType key_type_;
};

class Dns01HookSolver : public proto::ChallengeSolver {
public:
    Dns01HookSolver(std::string hook, int propagation_seconds, const Clock& clock,
                    const std::atomic<bool>* cancel)
        : hook_(std::move(hook)),
          propagation_seconds_(propagation_seconds),
          clock_(clock),
          cancel_(cancel) {}
    std::string type() const override { return "dns-01"; }
    void present(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) override;
    void cleanup(const proto::Identifier& id, const proto::Challenge& ch,
                 const std::string& key_authorization) noexcept override;

    static constexpr int64_t kHookTimeoutMs = 120000;
    static constexpr int64_t kTeardownAfterStopMs = 2000;

private:
    std::string hook_;
    int propagation_seconds_;
    const Clock& clock_;
    const std::atomic<bool>* cancel_;
};

std::unique_ptr<proto::ChallengeSolver> make_solver(const CertConfig& cfg, Store& store,
                                                    const Clock& clock,
                                                    const std::atomic<bool>* cancel);

}  // namespace acme::engine
