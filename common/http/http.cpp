// Transport-independent HTTP helpers: response header access and Link header parsing.
#include <cctype>
#include <string>
#include <string_view>

#include "http/transport.h"

namespace acme {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string in) {
    std::string out;
    auto pop_last = [&out] {
        size_t slash = out.rfind('/');
        out.erase(slash == std::string::npos ? 0 : slash);
    };
    while (!in.empty()) {
        if (starts_with(in, "../")) {
            in.erase(0, 3);
        } else if (starts_with(in, "./")) {
            in.erase(0, 2);
        } else if (starts_with(in, "/./")) {
            in.replace(0, 3, "/");
        } else if (in == "/.") {
            in = "/";
        } else if (starts_with(in, "/../")) {
            in.replace(0, 4, "/");
            pop_last();
        } else if (in == "/..") {
            in = "/";
            pop_last();
        } else if (in == "." || in == "..") {
            in.clear();
        } else {
            size_t next = in.find('/', in[0] == '/' ? 1 : 0);
            if (next == std::string::npos) next = in.size();
            out.append(in, 0, next);
            in.erase(0, next);
        }
    }
    return out;
}

bool has_scheme(std::string_view ref) {
    if (ref.empty() || !std::isalpha(static_cast<unsigned char>(ref[0]))) return false;
    for (size_t i = 1; i < ref.size(); ++i) {
        char c = ref[i];
        if (c == ':') return true;
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
            return false;
    }
    return false;
}

// Splits "<path>?<query>#<fragment>" into path and the rest.
std::pair<std::string, std::string> split_path(std::string_view s) {
    size_t end = s.find_first_of("?#");
    if (end == std::string_view::npos) end = s.size();
    return {std::string(s.substr(0, end)), std::string(s.substr(end))};
}

// RFC 3986 section 5.2.2 for the reference forms a CA may send.
std::string resolve(const std::string& base, const std::string& ref) {
    if (has_scheme(ref)) return ref;
    size_t colon = base.find(':');
    if (colon == std::string::npos) return ref;  // no usable base
    const std::string scheme = base.substr(0, colon);
    std::string authority;
    std::string_view rest = std::string_view(base).substr(colon + 1);
    if (starts_with(rest, "//")) {
        size_t end = rest.find_first_of("/?#", 2);
        if (end == std::string_view::npos) end = rest.size();
        authority = std::string(rest.substr(0, end));
        rest.remove_prefix(end);
    }
    auto [base_path, base_tail] = split_path(rest);
    const std::string prefix = scheme + ":" + authority;

    if (starts_with(ref, "//")) return scheme + ":" + ref;
    if (ref.empty()) return prefix + base_path + base_tail.substr(0, base_tail.find('#'));
    if (ref[0] == '#') return prefix + base_path + base_tail.substr(0, base_tail.find('#')) + ref;
    if (ref[0] == '?') return prefix + base_path + ref;
    auto [ref_path, ref_tail] = split_path(ref);
    std::string merged;
    if (ref_path[0] == '/') {
        merged = ref_path;
    } else if (!authority.empty() && base_path.empty()) {
        merged = "/" + ref_path;
    } else {
        size_t slash = base_path.rfind('/');
        merged = (slash == std::string::npos ? std::string() : base_path.substr(0, slash + 1)) +
                 ref_path;
    }
    return prefix + remove_dot_segments(merged) + ref_tail;
}

// Advances `i` past the next comma that is outside quotes and angle brackets.
void skip_to_next_link(std::string_view v, size_t& i) {
    bool quoted = false, angled = false;
    for (; i < v.size(); ++i) {
        char c = v[i];
        if (quoted) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                quoted = false;
            }
        } else if (angled) {
            if (c == '>') angled = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            angled = true;
        } else if (c == ',') {
            ++i;
            return;
        }
    }
}

void skip_ws(std::string_view v, size_t& i) {
    while (i < v.size() && is_ws(v[i])) ++i;
}

// Parses one header value (several links) and appends the matching targets to `out`.
void parse_links(std::string_view v, const std::string& rel, const std::string& base_url,
                 std::vector<std::string>& out) {
    size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (is_ws(v[i]) || v[i] == ',')) ++i;
        if (i >= v.size()) break;
        if (v[i] != '<') {
            skip_to_next_link(v, i);
            continue;
        }
        size_t close = v.find('>', i + 1);
        if (close == std::string_view::npos) break;
        std::string target(v.substr(i + 1, close - i - 1));
        while (!target.empty() && is_ws(target.back())) target.pop_back();
        while (!target.empty() && is_ws(target.front())) target.erase(0, 1);
        i = close + 1;

        bool matched = false, rel_seen = false, malformed = false;
        for (;;) {
            skip_ws(v, i);
            if (i >= v.size()) break;
            if (v[i] == ',') {
                ++i;
                break;
            }
            if (v[i] != ';') {
                malformed = true;
                skip_to_next_link(v, i);
                break;
            }
            ++i;
            skip_ws(v, i);
            size_t name_start = i;
            while (i < v.size() && !is_ws(v[i]) && v[i] != '=' && v[i] != ';' && v[i] != ',') ++i;
            std::string_view name = v.substr(name_start, i - name_start);
            skip_ws(v, i);
            std::string value;
            if (i < v.size() && v[i] == '=') {
                ++i;
                skip_ws(v, i);
                if (i < v.size() && v[i] == '"') {
                    ++i;
                    while (i < v.size() && v[i] != '"') {
                        if (v[i] == '\\' && i + 1 < v.size()) ++i;
                        value += v[i++];
                    }
                    if (i < v.size()) ++i;  // closing quote
                } else {
                    size_t value_start = i;
                    while (i < v.size() && !is_ws(v[i]) && v[i] != ';' && v[i] != ',') ++i;
                    value = std::string(v.substr(value_start, i - value_start));
                }
            }
            // RFC 8288 section 3.3: occurrences of rel after the first are ignored; the value is
            // a space-separated list of relation types, compared case-insensitively.
            if (!rel_seen && iequals(name, "rel")) {
                rel_seen = true;
                size_t p = 0;
                while (p < value.size()) {
                    while (p < value.size() && is_ws(value[p])) ++p;
                    size_t start = p;
                    while (p < value.size() && !is_ws(value[p])) ++p;
                    if (p > start && iequals(std::string_view(value).substr(start, p - start), rel))
                        matched = true;
                }
            }
        }
        if (matched && !malformed) out.push_back(resolve(base_url, target));
    }
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return std::string();
}

std::vector<std::string> HttpResponse::headers_all(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) out.push_back(v);
    }
    return out;
}

std::vector<std::string> parse_link_header(const std::vector<std::string>& link_values,
                                           const std::string& rel, const std::string& base_url) {
    std::vector<std::string> out;
    for (const std::string& v : link_values) parse_links(v, rel, base_url, out);
    return out;
}

}  // namespace acme
