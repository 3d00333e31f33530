#include "json/json.h"

#include <cstdlib>

#include "util/error.h"

namespace acme {

Json Json::object() { return adopt(json_object()); }
Json Json::array() { return adopt(json_array()); }
Json Json::string(std::string_view s) { return adopt(json_stringn(s.data(), s.size())); }
Json Json::integer(int64_t i) { return adopt(json_integer(static_cast<json_int_t>(i))); }
Json Json::boolean(bool b) { return adopt(json_boolean(b)); }

Json Json::parse(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes)
        fail(Status::protocol, "JSON document is larger than " + std::to_string(max_bytes) + " bytes");
    json_error_t err;
    json_t* v = json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        throw Error(Status::protocol, std::string("malformed JSON at line ") +
                                          std::to_string(err.line) + " column " +
                                          std::to_string(err.column) + ": " + err.text);
    }
    return adopt(v);
}

Json Json::get(const char* key) const {
    if (!is_object()) return Json();
    return borrow(json_object_get(v_, key));
}

bool Json::has(const char* key) const { return is_object() && json_object_get(v_, key) != nullptr; }

std::string Json::str(const char* key, std::string_view dflt) const {
    json_t* s = is_object() ? json_object_get(v_, key) : nullptr;
    if (!s || !json_is_string(s)) return std::string(dflt);
    return std::string(json_string_value(s), json_string_length(s));
}

int64_t Json::integer(const char* key, int64_t dflt) const {
    json_t* i = is_object() ? json_object_get(v_, key) : nullptr;
    return i && json_is_integer(i) ? static_cast<int64_t>(json_integer_value(i)) : dflt;
}

bool Json::boolean(const char* key, bool dflt) const {
    json_t* b = is_object() ? json_object_get(v_, key) : nullptr;
    return b && json_is_boolean(b) ? json_is_true(b) : dflt;
}

std::vector<std::string> Json::strings(const char* key) const {
    std::vector<std::string> out;
    json_t* a = is_object() ? json_object_get(v_, key) : nullptr;
    if (!a || !json_is_array(a)) return out;
    size_t i;
    json_t* e;
    json_array_foreach(a, i, e) {
        if (json_is_string(e)) out.emplace_back(json_string_value(e), json_string_length(e));
    }
    return out;
}

std::vector<std::string> Json::keys() const {
    std::vector<std::string> out;
    if (!is_object()) return out;
    const char* k;
    json_t* e;
    json_object_foreach(v_, k, e) { out.emplace_back(k); }
    return out;
}

std::string Json::as_string() const {
    if (!is_string()) return "";
    return std::string(json_string_value(v_), json_string_length(v_));
}

int64_t Json::as_integer(int64_t dflt) const {
    return is_integer() ? static_cast<int64_t>(json_integer_value(v_)) : dflt;
}

bool Json::as_bool(bool dflt) const { return is_bool() ? json_is_true(v_) : dflt; }

size_t Json::size() const {
    if (is_array()) return json_array_size(v_);
    if (is_object()) return json_object_size(v_);
    return 0;
}

Json Json::at(size_t i) const {
    if (!is_array()) return Json();
    return borrow(json_array_get(v_, i));
}

std::string Json::require_str(const char* key, const char* what) const {
    json_t* s = is_object() ? json_object_get(v_, key) : nullptr;
    if (!s) fail(Status::protocol, std::string(what) + ": missing '" + key + "'");
    if (!json_is_string(s)) fail(Status::protocol, std::string(what) + ": '" + key + "' is not a string");
    return std::string(json_string_value(s), json_string_length(s));
}

Json Json::require_object(const char* key, const char* what) const {
    Json o = get(key);
    if (!o.is_object()) fail(Status::protocol, std::string(what) + ": missing object '" + key + "'");
    return o;
}

Json Json::require_array(const char* key, const char* what) const {
    Json a = get(key);
    if (!a.is_array()) fail(Status::protocol, std::string(what) + ": missing array '" + key + "'");
    return a;
}

Json& Json::set(const char* key, const Json& value) {
    if (!is_object()) fail(Status::internal, "json: set on a non-object");
    json_object_set(v_, key, value.v_ ? value.v_ : json_null());
    return *this;
}

Json& Json::set(const char* key, std::string_view value) { return set(key, string(value)); }
Json& Json::set(const char* key, int64_t value) { return set(key, integer(value)); }
Json& Json::set_bool(const char* key, bool value) { return set(key, boolean(value)); }

Json& Json::erase(const char* key) {
    if (is_object()) json_object_del(v_, key);
    return *this;
}

Json& Json::append(const Json& value) {
    if (!is_array()) fail(Status::internal, "json: append on a non-array");
    json_array_append(v_, value.v_ ? value.v_ : json_null());
    return *this;
}

Json& Json::append(std::string_view value) { return append(string(value)); }

std::string Json::dump(int flags) const {
    if (!v_) return "null";
    size_t f = JSON_SORT_KEYS | JSON_ENCODE_ANY;
    f |= (flags & pretty) ? JSON_INDENT(2) : JSON_COMPACT;
    char* s = json_dumps(v_, f);
    if (!s) fail(Status::internal, "json: dump failed");
    std::string out(s);
    free(s);
    return out;
}

}  // namespace acme
