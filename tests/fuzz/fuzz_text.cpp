// Short texts from the CA's headers and from configuration files: Link, Retry-After, RFC 3339
// times, durations, renew windows, names, tokens, base64. One input line per parser call.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "engine/config.h"
#include "engine/scheduler.h"
#include "http/transport.h"
#include "store/layout.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace acme;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line)) lines.push_back(line);
    parse_link_header(lines, "alternate", "https://ca.example/acme/cert/1");
    for (const std::string& l : lines) {
        parse_retry_after(l, 1700000000);
        layout::valid_token(l);
        is_base64url(l);
        auto attempt = [&](auto&& parse) {
            try {
                parse();
            } catch (const Error&) {
            }
        };
        attempt([&] { parse_rfc3339(l); });
        attempt([&] { parse_duration(l); });
        attempt([&] { engine::parse_renew_window(l); });
        attempt([&] { engine::normalize_name(l); });
        attempt([&] { engine::parse_challenge(l); });
        attempt([&] { layout::cert_name(l); });
        attempt([&] { layout::ca_id(l); });
        attempt([&] { layout::identifier_file_name(l); });
        attempt([&] { base64url_decode(l); });
        attempt([&] { base64_decode(l); });
        attempt([&] { crypto::parse_key_type(l); });
    }
    return 0;
}
