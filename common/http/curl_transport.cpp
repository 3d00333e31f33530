// The one libcurl Transport. This is the only file of the project that includes curl.
//
// One CURL easy handle per CurlTransport, reused for every request so that libcurl keeps the
// connection (and TLS session) alive between the many small requests of an ACME exchange.
// curl_easy_reset() before each request clears the options but keeps live connections, the DNS
// cache and the TLS session cache.
#include <curl/curl.h>
#include <strings.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "http/transport.h"
#include "util/error.h"
#include "util/log.h"

namespace acme {
namespace {

struct CurlEasyDeleter {
    void operator()(CURL* c) const noexcept {
        if (c) curl_easy_cleanup(c);
    }
};
struct CurlSlistDeleter {
    void operator()(curl_slist* l) const noexcept {
        if (l) curl_slist_free_all(l);
    }
};
using CurlPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

void global_init() {
    static std::once_flag once;
    static CURLcode result = CURLE_OK;
    std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (result != CURLE_OK)
        throw Error(Status::internal,
                    std::string("http: curl_global_init failed: ") + curl_easy_strerror(result));
}

// Everything the CURLcode mapping needs to name the failure.
struct RequestContext {
    const std::string& method;
    const std::string& url;
    const char* errbuf;
    const TransportOptions& options;
    bool body_too_large;
    bool headers_too_large;
};

// No ACME answer needs more header bytes than this; libcurl itself refuses a single header line
// over 100 KiB (CURL_MAX_HTTP_HEADER) with CURLE_OUT_OF_MEMORY.
constexpr size_t kMaxHeaderBytes = 64 * 1024;

// The one mapping from CURLcode to acme::Error.
Error curl_error(CURLcode rc, const RequestContext& ctx) {
    const std::string where = ctx.method + " " + ctx.url + ": ";
    if (ctx.body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return Error(Status::network, "response from " + ctx.url + " exceeds " +
                                          std::to_string(ctx.options.max_response_bytes) +
                                          " bytes");
    }
    if (ctx.headers_too_large || rc == CURLE_OUT_OF_MEMORY) {
        // libcurl's own allocations failing is far less likely than an oversized header line.
        return Error(Status::network, "the response headers from " + ctx.url + " exceed " +
                                          std::to_string(kMaxHeaderBytes / 1024) +
                                          " KiB (or libcurl ran out of memory)");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && ctx.options.cancel && ctx.options.cancel->load())
        return Error(Status::internal, where + "cancelled");
    std::string msg = where + curl_easy_strerror(rc);
    if (ctx.errbuf && ctx.errbuf[0]) msg += std::string(" (") + ctx.errbuf + ")";
    const std::string trust =
        ctx.options.ca_file.empty() ? "the system trust store" : "ca_file " + ctx.options.ca_file;
    switch (rc) {
        case CURLE_PEER_FAILED_VERIFICATION:
            msg += "; TLS verification of the server's certificate failed against " + trust;
            break;
        case CURLE_SSL_CACERT_BADFILE:
            msg += "; TLS verification impossible: cannot use " + trust;
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
            if (!ctx.options.allow_plain_http)
                msg += "; ACME runs over https:// only (RFC 8555 section 6.1)";
            // A configuration problem (or a CA handing out unusable URLs): retrying cannot help.
            return Error(Status::invalid, msg, true);
        case CURLE_URL_MALFORMAT:
            return Error(Status::invalid, msg, true);
        case CURLE_UNKNOWN_OPTION:
        case CURLE_NOT_BUILT_IN:
        case CURLE_BAD_FUNCTION_ARGUMENT:
            return Error(Status::internal, msg);
        default:
            break;
    }
    return Error(Status::network, msg, false);
}

struct Received {
    HttpResponse response;
    size_t max_bytes = 0;
    bool too_large = false;
    size_t header_bytes = 0;
    bool headers_too_large = false;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* userdata) {
    auto* r = static_cast<Received*>(userdata);
    const size_t n = size * nmemb;
    if (n > r->max_bytes || r->response.body.size() > r->max_bytes - n) {
        r->too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    r->response.body.append(data, n);
    return n;
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() &&
           (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n'))
        v.remove_suffix(1);
    return v;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* userdata) {
    auto* r = static_cast<Received*>(userdata);
    const size_t n = size * nmemb;
    r->header_bytes += n;
    if (r->header_bytes > kMaxHeaderBytes) {
        r->headers_too_large = true;
        return 0;  // aborts the transfer
    }
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) return n;  // end of a header block
    if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
        // A new status line (after 1xx, or a proxy's CONNECT answer): keep only the final
        // response's headers.
        r->response.headers.clear();
        return n;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !r->response.headers.empty()) {
        // obs-fold continuation line (RFC 9112 section 5.2)
        std::string& value = r->response.headers.back().second;
        value += ' ';
        value += trim(line);
        return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;  // not a header; ignore
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r->response.headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
    return n;
}

// Called by libcurl about once a second (and on progress): a non-zero return aborts.
int on_progress(void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(data)->load() ? 1 : 0;
}

class CurlTransport : public Transport {
  public:
    explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
        global_init();
        easy_.reset(curl_easy_init());
        if (!easy_) throw Error(Status::internal, "http: curl_easy_init failed");
    }

    HttpResponse perform(const HttpRequest& req) override {
        CURL* h = easy_.get();
        curl_easy_reset(h);  // keeps live connections, DNS and TLS session caches
        errbuf_[0] = '\0';
        Received rx;
        rx.max_bytes = options_.max_response_bytes;
        RequestContext ctx{req.method, req.url, errbuf_, options_, false, false};

        auto set = [&](CURLoption opt, auto value) {
            CURLcode rc = curl_easy_setopt(h, opt, value);
            if (rc != CURLE_OK) throw curl_error(rc, ctx);
        };
        set(CURLOPT_ERRORBUFFER, errbuf_);
        set(CURLOPT_URL, req.url.c_str());
        set(CURLOPT_NOSIGNAL, 1L);
        set(CURLOPT_PROTOCOLS_STR, options_.allow_plain_http ? "http,https" : "https");
        set(CURLOPT_FOLLOWLOCATION, 0L);
        set(CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
        set(CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
        set(CURLOPT_SSL_VERIFYPEER, 1L);
        set(CURLOPT_SSL_VERIFYHOST, 2L);
        if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
        if (!options_.user_agent.empty()) set(CURLOPT_USERAGENT, options_.user_agent.c_str());
        if (options_.proxy == "none") {
            set(CURLOPT_PROXY, "");  // "" disables proxies, environment variables included
        } else if (!options_.proxy.empty()) {
            set(CURLOPT_PROXY, options_.proxy.c_str());
        }
        // Caps the download early when the server announces the size.
        set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_bytes));
        if (options_.cancel) {
            set(CURLOPT_NOPROGRESS, 0L);
            set(CURLOPT_XFERINFOFUNCTION, &on_progress);
            set(CURLOPT_XFERINFODATA, static_cast<const void*>(options_.cancel));
        }
        set(CURLOPT_WRITEFUNCTION, &on_body);
        set(CURLOPT_WRITEDATA, static_cast<void*>(&rx));
        set(CURLOPT_HEADERFUNCTION, &on_header);
        set(CURLOPT_HEADERDATA, static_cast<void*>(&rx));

        if (req.method == "GET") {
            set(CURLOPT_HTTPGET, 1L);
        } else if (req.method == "HEAD") {
            set(CURLOPT_NOBODY, 1L);
        } else if (req.method == "POST") {
            set(CURLOPT_POST, 1L);
            set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
            set(CURLOPT_POSTFIELDS, req.body.data());
        } else {
            throw Error(Status::invalid,
                        "http: unsupported method '" + req.method + "' for " + req.url, true);
        }

        SlistPtr headers;
        bool has_expect = false;
        for (const auto& [name, value] : req.headers) {
            if (strcasecmp(name.c_str(), "Expect") == 0) has_expect = true;
            append_header(headers, name + ": " + value);
        }
        // No "Expect: 100-continue" round trip for POST bodies.
        if (!has_expect && req.method == "POST") append_header(headers, "Expect:");
        if (headers) set(CURLOPT_HTTPHEADER, headers.get());

        CURLcode rc = curl_easy_perform(h);
        if (rc != CURLE_OK) {
            ctx.body_too_large = rx.too_large;
            ctx.headers_too_large = rx.headers_too_large;
            throw curl_error(rc, ctx);
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        rx.response.status = static_cast<int>(status);
        ACME_LOG_DEBUG("acme: http: %s %s -> %ld (%zu bytes)", req.method.c_str(), req.url.c_str(),
                       status, rx.response.body.size());
        return std::move(rx.response);
    }

  private:
    static void append_header(SlistPtr& list, const std::string& line) {
        curl_slist* next = curl_slist_append(list.get(), line.c_str());
        if (!next) throw Error(Status::internal, "http: out of memory building request headers");
        list.release();
        list.reset(next);
    }

    TransportOptions options_;
    CurlPtr easy_;
    char errbuf_[CURL_ERROR_SIZE] = {};
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options) {
    return std::make_unique<CurlTransport>(options);
}

}  // namespace acme
