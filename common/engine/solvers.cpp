#include "engine/solvers.h"

#include "acme/client.h"
#include "store/layout.h"
#include "util/error.h"
#include "util/log.h"
#include "util/process.h"

namespace acme::engine {

void Http01StoreSolver::present(const proto::Identifier& id, const proto::Challenge& ch,
                                const std::string& key_authorization) {
    store_.save(layout::http01_challenge(ch.token), key_authorization, Sensitivity::public_data);
    ACME_LOG_DEBUG("acme: %s: http-01 response published", id.value.c_str());
}

void Http01StoreSolver::cleanup(const proto::Identifier& id, const proto::Challenge& ch,
                                const std::string&) noexcept {
    try {
        store_.remove(layout::http01_challenge(ch.token));
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: %s: removing the http-01 response: %s", id.value.c_str(), e.what());
    }
}

void TlsAlpn01StoreSolver::present(const proto::Identifier& id, const proto::Challenge&,
                                   const std::string& key_authorization) {
    crypto::PKey key = crypto::generate_key(key_type_);
    crypto::X509Ptr cert = crypto::make_tls_alpn_cert(key.get(), id.value, key_authorization);
    store_.save(layout::tls_alpn01_challenge(id.value),
                crypto::private_key_to_pem(key.get()) + crypto::cert_to_pem(cert.get()),
                Sensitivity::secret);
    ACME_LOG_DEBUG("acme: %s: tls-alpn-01 certificate published", id.value.c_str());
}

void TlsAlpn01StoreSolver::cleanup(const proto::Identifier& id, const proto::Challenge&,
                                   const std::string&) noexcept {
    try {
        store_.remove(layout::tls_alpn01_challenge(id.value));
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: %s: removing the tls-alpn-01 certificate: %s", id.value.c_str(),
                      e.what());
    }
}

namespace {

// The hook's output as it goes into an error (logs, last_error of the status): one line, no
// control characters (a terminal escape in a log line), and only its last kMaxHookOutput bytes,
// where a failing program says why.
constexpr size_t kMaxHookOutput = 512;

std::string one_line(std::string s) {
    for (char& c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '\n' || c == '\r' || c == '\t') {
            c = ' ';
        } else if (u < 0x20 || u == 0x7f) {
            c = '?';
        }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    size_t start = s.find_first_not_of(' ');
    s.erase(0, start == std::string::npos ? s.size() : start);
    if (s.size() > kMaxHookOutput) {
        size_t cut = s.size() - kMaxHookOutput;
        // Not in the middle of a UTF-8 sequence.
        while (cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) ++cut;
        s = "..." + s.substr(cut);
    }
    return s;
}

ProgramResult run_hook(const std::string& hook, const char* action, const std::string& domain,
                       const std::string& value, const std::atomic<bool>* cancel,
                       int64_t timeout_ms = Dns01HookSolver::kHookTimeoutMs) {
    return run_program({hook, action, domain, value}, timeout_ms, 4096, cancel);
}

std::string describe(const ProgramResult& r) {
    std::string what = r.cancelled   ? "was interrupted by a stop"
                       : r.timed_out ? "timed out"
                       : r.signal    ? "was killed by signal " + std::to_string(r.signal)
                                     : "exited with status " + std::to_string(r.exit_code);
    std::string out = one_line(r.output);
    return out.empty() ? what : what + ": " + out;
}

}  // namespace

void Dns01HookSolver::present(const proto::Identifier& id, const proto::Challenge&,
                              const std::string& key_authorization) {
    const std::string value = proto::Client::dns01_txt_value(key_authorization);
    ProgramResult r = run_hook(hook_, "setup", id.value, value, cancel_);
    if (r.cancelled) fail(Status::internal, "cancelled");
    if (r.exit_code != 0) {
        throw Error(Status::io, "acme: " + id.value + ": DNS hook " + hook_ + " setup " +
                                    describe(r));
    }
    ACME_LOG_INFO("acme: %s: DNS hook set _acme-challenge.%s, waiting %d s for propagation",
                  id.value.c_str(), id.value.c_str(), propagation_seconds_);
    for (int64_t left = int64_t{propagation_seconds_} * 1000; left > 0; left -= 100) {
        if (cancel_ && cancel_->load()) fail(Status::internal, "cancelled");
        clock_.sleep_ms(std::min<int64_t>(left, 100));
    }
}

void Dns01HookSolver::cleanup(const proto::Identifier& id, const proto::Challenge&,
                              const std::string& key_authorization) noexcept {
    try {
        const std::string value = proto::Client::dns01_txt_value(key_authorization);
        // A teardown started after a stop still runs, briefly (cancelled, it would be killed at
        // once); one that a stop interrupts is killed.
        const bool stopping = cancel_ && cancel_->load();
        ProgramResult r =
            stopping ? run_hook(hook_, "teardown", id.value, value, nullptr, kTeardownAfterStopMs)
                     : run_hook(hook_, "teardown", id.value, value, cancel_);
        if (r.exit_code != 0) {
            ACME_LOG_WARN("acme: %s: DNS hook %s teardown %s", id.value.c_str(), hook_.c_str(),
                          describe(r).c_str());
        }
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: %s: DNS hook teardown: %s", id.value.c_str(), e.what());
    }
}

std::unique_ptr<proto::ChallengeSolver> make_solver(const CertConfig& cfg, Store& store,
                                                    const Clock& clock,
                                                    const std::atomic<bool>* cancel) {
    switch (cfg.challenge) {
        case ChallengeType::http01: return std::make_unique<Http01StoreSolver>(store);
        case ChallengeType::tls_alpn01: {
            bool ecdsa = false;
            for (crypto::KeyType t : cfg.key_types) ecdsa = ecdsa || !crypto::is_rsa(t);
            return std::make_unique<TlsAlpn01StoreSolver>(
                store, ecdsa || cfg.key_types.empty() ? crypto::KeyType::ecdsa_p256
                                                      : crypto::KeyType::rsa2048);
        }
        case ChallengeType::dns01:
            return std::make_unique<Dns01HookSolver>(cfg.dns_hook, cfg.dns_propagation_seconds,
                                                     clock, cancel);
    }
    fail(Status::internal, "unknown challenge type");
}

}  // namespace acme::engine
