// Test fakes shared by the unit tests (header-only): a Clock whose sleep_ms() advances time and
// records the sleeps, a scripted Transport that records every request, and an in-memory Store
// that logs its operations in order.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/transport.h"
#include "json/json.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace acme::testing {

// Time stands still except when someone sleeps (or the test advances it). Thread-safe.
class FakeClock : public Clock {
public:
    explicit FakeClock(int64_t start_ms = 1700000000000) : now_ms_(start_ms) {}
    int64_t now_ms() const override { return now_ms_.load(); }
    void sleep_ms(int64_t ms) const override {
        std::function<void(int64_t)> hook;
        {
            std::lock_guard<std::mutex> g(mu_);
            sleeps_.push_back(ms);
            hook = on_sleep;
        }
        now_ms_ += ms;
        if (hook) hook(ms);
    }
    void advance_ms(int64_t ms) { now_ms_ += ms; }
    std::vector<int64_t> sleeps() const {
        std::lock_guard<std::mutex> g(mu_);
        return sleeps_;
    }
    int64_t total_slept_ms() const {
        int64_t t = 0;
        for (int64_t s : sleeps()) t += s;
        return t;
    }
    void clear_sleeps() {
        std::lock_guard<std::mutex> g(mu_);
        sleeps_.clear();
    }
    // Called after every sleep with its length (e.g. to set a cancel flag).
    std::function<void(int64_t)> on_sleep;

private:
    mutable std::atomic<int64_t> now_ms_;
    mutable std::mutex mu_;
    mutable std::vector<int64_t> sleeps_;
};

inline HttpResponse make_response(int status, std::string body = "",
                                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

inline HttpResponse json_response(int status, const Json& body,
                                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("content-type", "application/json");
    return make_response(status, body.dump(), std::move(headers));
}

inline HttpResponse problem_response(
    int status, const std::string& short_type, const std::string& detail,
    std::vector<std::pair<std::string, std::string>> headers = {}) {
    Json p = Json::object();
    p.set("type", "urn:ietf:params:acme:error:" + short_type);
    p.set("detail", detail);
    p.set("status", status);
    headers.emplace_back("content-type", "application/problem+json");
    return make_response(status, p.dump(), std::move(headers));
}

// Answers each request with the next scripted handler (or the default handler when the script is
// empty) and records every request. A request nobody answers fails the test and gets a 599.
class ScriptedTransport : public Transport {
public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;

    HttpResponse perform(const HttpRequest& request) override {
        Handler h;
        {
            std::lock_guard<std::mutex> g(mu_);
            requests.push_back(request);
            if (!script.empty()) {
                h = std::move(script.front());
                script.pop_front();
            } else {
                h = fallback;
            }
        }
        if (!h) {
            ADD_FAILURE() << "unexpected request " << request.method << " " << request.url;
            return make_response(599);
        }
        return h(request);
    }

    void then(Handler h) { script.push_back(std::move(h)); }
    void then(HttpResponse r) {
        script.push_back([r](const HttpRequest&) { return r; });
    }
    size_t count(const std::string& method, const std::string& url_part = "") const {
        size_t n = 0;
        for (const HttpRequest& r : requests)
            n += r.method == method && r.url.find(url_part) != std::string::npos;
        return n;
    }

    std::deque<Handler> script;
    Handler fallback;
    std::vector<HttpRequest> requests;

private:
    std::mutex mu_;
};

// An in-memory Store with an operation log ("save <key>", "remove <key>").
class MemStore : public Store {
public:
    std::optional<std::string> load(const std::string& key) override {
        std::lock_guard<std::mutex> g(mu_);
        auto it = data_.find(key);
        if (it == data_.end()) return std::nullopt;
        return it->second.first;
    }
    void save(const std::string& key, std::string_view data, Sensitivity s) override {
        std::lock_guard<std::mutex> g(mu_);
        if (fail_saves_of.count(key))
            throw Error(Status::io, "store: injected failure saving " + key);
        data_[key] = {std::string(data), s};
        ops.push_back("save " + key);
    }
    void remove(const std::string& key) override {
        std::lock_guard<std::mutex> g(mu_);
        if (data_.erase(key)) ops.push_back("remove " + key);
    }
    std::vector<std::string> list(const std::string& prefix) override {
        std::lock_guard<std::mutex> g(mu_);
        std::set<std::string> out;
        const std::string p = prefix.empty() || prefix.back() == '/' ? prefix : prefix + "/";
        for (const auto& kv : data_) {
            if (kv.first.compare(0, p.size(), p) != 0) continue;
            std::string rest = kv.first.substr(p.size());
            out.insert(rest.substr(0, rest.find('/')));
        }
        return {out.begin(), out.end()};
    }
    std::unique_ptr<StoreLock> try_lock(const std::string&) override {
        return std::make_unique<StoreLock>();
    }
    uint64_t generation() const noexcept override { return generation_.load(); }
    void bump_generation() override { ++generation_; }
    std::string path_of(const std::string&) const override { return ""; }

    bool has(const std::string& key) {
        std::lock_guard<std::mutex> g(mu_);
        return data_.count(key) != 0;
    }
    Sensitivity sensitivity(const std::string& key) {
        std::lock_guard<std::mutex> g(mu_);
        return data_.at(key).second;
    }
    std::vector<std::string> keys() {
        std::lock_guard<std::mutex> g(mu_);
        std::vector<std::string> out;
        for (const auto& kv : data_) out.push_back(kv.first);
        return out;
    }

    std::vector<std::string> ops;
    std::set<std::string> fail_saves_of;

private:
    std::mutex mu_;
    std::map<std::string, std::pair<std::string, Sensitivity>> data_;
    std::atomic<uint64_t> generation_{0};
};

}  // namespace acme::testing
