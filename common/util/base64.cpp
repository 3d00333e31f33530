#include "util/base64.h"

#include "util/error.h"

namespace acme {
namespace {

const char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view data, const char* alphabet, bool pad) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    auto byte = [&](size_t k) { return static_cast<unsigned char>(data[k]); };
    for (; i + 3 <= data.size(); i += 3) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    size_t rest = data.size() - i;
    if (rest == 1) {
        unsigned v = byte(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        if (pad) out += "==";
    } else if (rest == 2) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        if (pad) out += '=';
    }
    return out;
}

int value_of(char c, bool url) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (url) {
        if (c == '-') return 62;
        if (c == '_') return 63;
    } else {
        if (c == '+') return 62;
        if (c == '/') return 63;
    }
    return -1;
}

std::string decode(std::string_view text, bool url, bool skip_space) {
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    size_t pads = 0;
    for (char c : text) {
        if (skip_space && (c == ' ' || c == '\n' || c == '\r' || c == '\t')) continue;
        if (c == '=') {
            ++pads;
            continue;
        }
        if (pads) fail_invalid("base64: data after padding");
        int v = value_of(c, url);
        if (v < 0) fail_invalid(std::string("base64: invalid character '") + c + "'");
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pads > 2) fail_invalid("base64: truncated input");
    return out;
}

}  // namespace

std::string base64url_encode(std::string_view data) { return encode(data, kUrl, false); }
std::string base64url_decode(std::string_view text) { return decode(text, true, false); }
std::string base64_encode(std::string_view data) { return encode(data, kStd, true); }
std::string base64_decode(std::string_view text) { return decode(text, false, true); }

bool is_base64url(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        if (value_of(c, true) < 0) return false;
    }
    return true;
}

}  // namespace acme
