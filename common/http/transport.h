// HTTP for the ACME client.
//
// Transport contract (what every implementation, the libcurl one and the tests' fakes, keeps):
//  - perform() sends one request and returns the response for ANY HTTP status (4xx/5xx included:
//    ACME problem documents arrive that way). It throws Error(network) for DNS, connect, TLS,
//    timeout and truncation failures, with the URL and the reason in the message; such errors are
//    transient (permanent() == false).
//  - Responses larger than the configured cap fail with Error(network) rather than being cut.
//  - Header names in HttpResponse are lowercased; values are kept as sent, without CRLF.
//  - One Transport is used by one thread at a time; make one per thread if needed.
//  - perform() may block up to the total timeout; it never blocks longer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace acme {

struct HttpRequest {
    std::string method = "GET";  // GET, HEAD, POST
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Content-Type", "..."}
    std::string body;
};

struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;

    // First value of header `name` (lowercase), "" when absent.
    std::string header(const std::string& name) const;
    // All values of header `name` (e.g. several Link headers).
    std::vector<std::string> headers_all(const std::string& name) const;
};

struct TransportOptions {
    std::string ca_file;            // PEM bundle to verify servers with; "" = system store
    long connect_timeout_ms = 10000;
    long total_timeout_ms = 30000;
    size_t max_response_bytes = 2 * 1024 * 1024;
    std::string user_agent;         // full User-Agent value
    std::string proxy;              // "" = libcurl default (honours https_proxy etc.); "none" = off
    // When set and it becomes true, a request in flight is abandoned within about a second and
    // perform() throws Error(internal, "cancelled"). The flag must outlive the transport.
    const std::atomic<bool>* cancel = nullptr;
    // RFC 8555 section 6.1: ACME runs over HTTPS only. By default every request to a URL of any
    // other scheme (an http:// order, certificate or Link alternate a CA handed out included)
    // fails with Error(invalid, permanent) before anything is sent. Tests against a plain-HTTP
    // server set this.
    bool allow_plain_http = false;
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual HttpResponse perform(const HttpRequest& request) = 0;
};

// The one libcurl implementation (http/curl_transport.cpp).
std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options);

// Link header parsing (RFC 8288): the targets of every link with rel=`rel` among `link_values`
// (each value may hold several comma-separated links). Relative targets are resolved against
// `base_url`.
std::vector<std::string> parse_link_header(const std::vector<std::string>& link_values,
                                           const std::string& rel, const std::string& base_url);

}  // namespace acme
