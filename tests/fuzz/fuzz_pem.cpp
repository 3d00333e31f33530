// What the store hands the handshake path and the engine: PEM bundles (key + leaf + chain) that
// a person may have edited, truncated or replaced.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cache/cache.h"
#include "crypto/crypto.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace acme;
    const std::string pem(reinterpret_cast<const char*>(data), size);
    try {
        std::unique_ptr<cache::Entry> e = cache::parse_bundle(pem);
        crypto::cert_covers_names(e->leaf.get(), {"example.org", "*.example.org", "192.0.2.1"});
    } catch (const Error&) {
    }
    try {
        crypto::Chain chain = crypto::parse_pem_chain(pem);
        for (const auto& c : chain) {
            crypto::cert_info(c.get());
            try {
                crypto::ari_cert_id(c.get());
            } catch (const Error&) {
            }
        }
        crypto::verify_chain(chain, "", 1700000000);
    } catch (const Error&) {
    }
    try {
        crypto::PKey k = crypto::private_key_from_pem(pem);
        crypto::jwk(k.get());
    } catch (const Error&) {
    }
    return 0;
}
