// What a CA (or anything between us and it) sends: JSON resources and problem documents.
// Every failure must be an acme::Error; no crash, no other exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "acme/problem.h"
#include "acme/types.h"
#include "json/json.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace acme;
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string url = "https://ca.example/acme/x";
    try {
        Json j = Json::parse(text);
        auto attempt = [&](auto&& parse) {
            try {
                parse();
            } catch (const Error&) {
            }
        };
        attempt([&] { proto::Directory::from_json(j, url); });
        attempt([&] { proto::Order::from_json(j, url); });
        attempt([&] { proto::Authorization::from_json(j, url); });
        attempt([&] { proto::Challenge::from_json(j); });
        attempt([&] { proto::Account::from_json(j, url); });
        attempt([&] { proto::RenewalInfo::from_json(j); });
        attempt([&] { proto::Identifier::from_json(j); });
        attempt([&] { proto::embedded_problem_error(j, "fuzz"); });
        j.dump();
        j.dump(Json::pretty);
    } catch (const Error&) {
    }
    // The same bytes as a problem response, with and without the problem content type.
    for (const char* ctype : {"application/problem+json", "text/html"}) {
        HttpResponse r;
        r.status = 400 + static_cast<int>(size % 200);
        r.headers = {{"content-type", ctype}, {"retry-after", text.substr(0, 40)}};
        r.body = text;
        Error e = proto::problem_error(r, "fuzz", 1700000000);
        (void)e.what();
    }
    return 0;
}
