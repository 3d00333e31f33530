// meta.json as found in the store (possibly corrupt): reading never crashes, and what reads
// back is written out and read again unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/cert_meta.h"
#include "engine/status.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace acme;
    const std::string text(reinterpret_cast<const char*>(data), size);
    engine::CertMeta meta;
    try {
        meta = engine::cert_meta_from_json(text);
    } catch (const Error&) {
        return 0;
    }
    const std::string once = engine::to_json(meta);
    const std::string twice = engine::to_json(engine::cert_meta_from_json(once));
    if (once != twice) std::abort();  // the round trip must be stable
    engine::status_json({meta}, 1700000000);
    engine::status_prometheus({meta}, 1700000000);
    return 0;
}
