// RAII helpers and OpenSSL error reporting shared by every crypto file.
#include "crypto/ossl.h"

#include <arpa/inet.h>
#include <openssl/err.h>

#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {

PKey share(EVP_PKEY* k) {
    if (k && EVP_PKEY_up_ref(k) != 1) fail_openssl("key: up-ref");
    return PKey(k);
}

X509Ptr share(X509* c) {
    if (c && X509_up_ref(c) != 1) fail_openssl("certificate: up-ref");
    return X509Ptr(c);
}

void fail_openssl(const std::string& what) {
    std::string text = detail::drain_errors();
    if (text.empty()) text = "unknown OpenSSL error";
    throw Error(Status::crypto, what + ": " + text);
}

namespace detail {

std::string drain_errors() {
    std::string out;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

BioPtr read_bio(std::string_view data) {
    if (data.size() > static_cast<size_t>(INT32_MAX)) fail_invalid("crypto: input too large");
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) fail_openssl("crypto: BIO_new_mem_buf");
    return bio;
}

BioPtr write_bio() {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail_openssl("crypto: BIO_new");
    return bio;
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data) return "";
    return std::string(data, static_cast<size_t>(n));
}

std::string hex_lower(const unsigned char* data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0x0f];
    }
    return out;
}

bool parse_ip(const std::string& name, std::string* bytes) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, name.c_str(), buf) == 1) {
        if (bytes) bytes->assign(reinterpret_cast<char*>(buf), 4);
        return true;
    }
    if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
        if (bytes) bytes->assign(reinterpret_cast<char*>(buf), 16);
        return true;
    }
    return false;
}

GeneralNamesPtr make_general_names(const std::vector<std::string>& names, const char* what) {
    if (names.empty()) fail_invalid(std::string(what) + ": no names");
    GeneralNamesPtr gens(sk_GENERAL_NAME_new_null());
    if (!gens) fail_openssl(std::string(what) + ": sk_GENERAL_NAME_new_null");
    for (const std::string& name : names) {
        if (name.empty()) fail_invalid(std::string(what) + ": empty name");
        std::string ip;
        const bool is_ip = parse_ip(name, &ip);
        if (!is_ip) {
            for (unsigned char c : name) {
                if (c <= 0x20 || c >= 0x7f)
                    fail_invalid(std::string(what) + ": name '" + name +
                                 "' has characters outside printable ASCII (use the A-label form)");
            }
        }
        // dNSName is an IA5String, iPAddress an OCTET STRING of 4 or 16 bytes.
        const std::string& bytes = is_ip ? ip : name;
        Asn1OctetPtr value(ASN1_STRING_type_new(is_ip ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING));
        GeneralNamePtr gen(GENERAL_NAME_new());
        if (!gen || !value) fail_openssl(std::string(what) + ": GENERAL_NAME_new");
        if (!ASN1_STRING_set(value.get(), bytes.data(), static_cast<int>(bytes.size())))
            fail_openssl(std::string(what) + ": ASN1_STRING_set");
        GENERAL_NAME_set0_value(gen.get(), is_ip ? GEN_IPADD : GEN_DNS, value.release());
        if (!sk_GENERAL_NAME_push(gens.get(), gen.get()))
            fail_openssl(std::string(what) + ": sk_GENERAL_NAME_push");
        gen.release();
    }
    return gens;
}

std::string first_dns_common_name(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
        if (parse_ip(name, nullptr)) continue;
        return name.size() <= 64 ? name : std::string();
    }
    return "";
}

X509NamePtr make_cn_name(const std::string& cn) {
    X509NamePtr name(X509_NAME_new());
    if (!name) fail_openssl("crypto: X509_NAME_new");
    if (!cn.empty() &&
        !X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.data()),
                                    static_cast<int>(cn.size()), -1, 0))
        fail_openssl("crypto: set commonName '" + cn + "'");
    return name;
}

const EVP_MD* signing_digest(KeyType t) {
    return t == KeyType::ecdsa_p384 ? EVP_sha384() : EVP_sha256();
}

}  // namespace detail
}  // namespace acme::crypto
