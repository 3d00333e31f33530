// A small RAII value wrapper over jansson. Every json_t* the core touches is owned by a Json.
//
// Contract:
//  - A Json holds one reference (json_incref/json_decref); copies share the underlying value, so
//    treat values as immutable once shared (builders mutate only values they just created).
//  - Accessors never throw on a missing member: get() returns a null Json, str() returns "".
//    The require_*() accessors throw Error(protocol) naming the member ("order: missing 'status'"),
//    which is what parsing a CA response wants.
//  - parse() throws Error(protocol) with jansson's line/column text on malformed input and refuses
//    input deeper than jansson's own limit or larger than `max_bytes`.
//  - dump() is compact and key-sorted by default (stable files, RFC 7638 thumbprints).
#pragma once

#include <jansson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace acme {

class Json {
public:
    Json() = default;  // null
    Json(const Json& o) : v_(o.v_ ? json_incref(o.v_) : nullptr) {}
    Json(Json&& o) noexcept : v_(o.v_) { o.v_ = nullptr; }
    Json& operator=(Json o) noexcept {
        std::swap(v_, o.v_);
        return *this;
    }
    ~Json() {
        if (v_) json_decref(v_);
    }

    // Takes ownership of a new reference (as returned by json_object(), json_loads(), ...).
    static Json adopt(json_t* v) {
        Json j;
        j.v_ = v;
        return j;
    }
    // Shares a borrowed reference (as returned by json_object_get()).
    static Json borrow(json_t* v) {
        Json j;
        j.v_ = v ? json_incref(v) : nullptr;
        return j;
    }

    static Json object();
    static Json array();
    static Json string(std::string_view s);
    static Json integer(int64_t i);
    static Json boolean(bool b);
    static Json parse(std::string_view text, size_t max_bytes = 1 << 20);

    json_t* raw() const { return v_; }
    bool is_null() const { return !v_ || json_is_null(v_); }
    bool is_object() const { return v_ && json_is_object(v_); }
    bool is_array() const { return v_ && json_is_array(v_); }
    bool is_string() const { return v_ && json_is_string(v_); }
    bool is_integer() const { return v_ && json_is_integer(v_); }
    bool is_bool() const { return v_ && json_is_boolean(v_); }

    // Object access. get() on a non-object or a missing key returns a null Json.
    Json get(const char* key) const;
    bool has(const char* key) const;
    std::string str(const char* key, std::string_view dflt = "") const;
    int64_t integer(const char* key, int64_t dflt = 0) const;
    bool boolean(const char* key, bool dflt = false) const;
    std::vector<std::string> strings(const char* key) const;  // array of strings; others skipped
    std::vector<std::string> keys() const;

    // Value access for strings / integers / bools themselves.
    std::string as_string() const;  // "" unless a string
    int64_t as_integer(int64_t dflt = 0) const;
    bool as_bool(bool dflt = false) const;

    // Array access.
    size_t size() const;  // array or object size; 0 otherwise
    Json at(size_t i) const;

    // Strict access for protocol parsing; `what` names the object in the error message.
    std::string require_str(const char* key, const char* what) const;
    Json require_object(const char* key, const char* what) const;
    Json require_array(const char* key, const char* what) const;

    // Builders (for values this code created).
    Json& set(const char* key, const Json& value);
    Json& set(const char* key, std::string_view value);
    Json& set(const char* key, const char* value) { return set(key, std::string_view(value)); }
    Json& set(const char* key, int64_t value);
    Json& set(const char* key, int value) { return set(key, static_cast<int64_t>(value)); }
    Json& set_bool(const char* key, bool value);
    Json& erase(const char* key);
    Json& append(const Json& value);
    Json& append(std::string_view value);

    enum DumpFlags { compact = 0, pretty = 1 };
    std::string dump(int flags = compact) const;

private:
    json_t* v_ = nullptr;
};

}  // namespace acme
