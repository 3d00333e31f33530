// X.509 parsing, encoding and the checks run before a certificate is put in service.
#include <arpa/inet.h>
#include <openssl/pem.h>

#include <cctype>
#include <ctime>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {

namespace {

std::string name_rfc2253(const X509_NAME* name) {
    if (!name) return "";
    BioPtr bio = detail::write_bio();
    if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0)
        fail_openssl("x509: print name");
    return detail::bio_contents(bio.get());
}

std::string common_name(const X509_NAME* name) {
    if (!name) return "";
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return "";
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    if (!data) return "";
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) fail_openssl("x509: decode commonName");
    std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

int64_t asn1_time_to_unix(const ASN1_TIME* t, const char* what) {
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) fail_openssl(std::string("x509: decode ") + what);
    return static_cast<int64_t>(timegm(&tm));
}

std::string ip_text(const std::string& ip) {
    char buf[INET6_ADDRSTRLEN];
    if (ip.size() == 4 && inet_ntop(AF_INET, ip.data(), buf, sizeof buf)) return buf;
    if (ip.size() == 16 && inet_ntop(AF_INET6, ip.data(), buf, sizeof buf)) return buf;
    // Not an address (a name constraint style value or garbage): shown, never matched.
    return "invalid:" +
           detail::hex_lower(reinterpret_cast<const unsigned char*>(ip.data()), ip.size());
}

// The SANs of `cert`: dNSName values as written, iPAddress values as raw bytes.
void subject_alt_names(X509* cert, std::vector<std::string>* dns, std::vector<std::string>* ips) {
    GeneralNamesPtr gens(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!gens) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens.get()); ++i) {
        const GENERAL_NAME* gen = sk_GENERAL_NAME_value(gens.get(), i);
        int type = 0;
        const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(gen, &type));
        if (!value) continue;
        const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(value));
        const auto len = static_cast<size_t>(ASN1_STRING_length(value));
        if (type == GEN_DNS && dns) dns->emplace_back(data, len);
        if (type == GEN_IPADD && ips) ips->emplace_back(data, len);
    }
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

CertInfo cert_info(X509* cert) {
    detail::ErrorQueueGuard guard;
    if (!cert) fail_invalid("x509: no certificate");
    CertInfo info;
    info.subject = name_rfc2253(X509_get_subject_name(cert));
    info.issuer = name_rfc2253(X509_get_issuer_name(cert));
    info.issuer_cn = common_name(X509_get_issuer_name(cert));

    BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    if (!serial) fail_openssl("x509: decode serial number");
    detail::OpensslStringPtr hex(BN_bn2hex(serial.get()));
    if (!hex) fail_openssl("x509: format serial number");
    info.serial_hex = lower(hex.get());

    info.not_before = asn1_time_to_unix(X509_get0_notBefore(cert), "notBefore");
    info.not_after = asn1_time_to_unix(X509_get0_notAfter(cert), "notAfter");

    std::vector<std::string> ips;
    subject_alt_names(cert, &info.dns_names, &ips);
    for (const std::string& ip : ips) info.ip_addresses.push_back(ip_text(ip));

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) fail_openssl("x509: fingerprint");
    info.sha256_fingerprint_hex = detail::hex_lower(md, md_len);

    // EXFLAG_CA mirrors basicConstraints cA = TRUE.
    info.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
    return info;
}

Chain parse_pem_chain(std::string_view pem) {
    detail::ErrorQueueGuard guard;
    BioPtr bio = detail::read_bio(pem);
    Chain chain;
    for (;;) {
        // Skips blocks of other types (a private key in the same file).
        X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (!cert) break;
        chain.emplace_back(cert);
    }
    // The loop ends with "no start line" at the end of the text; anything else is a broken block.
    const unsigned long last = ERR_peek_last_error();
    if (last != 0 &&
        !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
        fail_invalid("x509: malformed certificate #" + std::to_string(chain.size() + 1) +
                     " in PEM: " + detail::drain_errors());
    }
    if (chain.empty()) fail_invalid("x509: no certificate in PEM");
    return chain;
}

X509Ptr parse_der_cert(std::string_view der) {
    detail::ErrorQueueGuard guard;
    if (der.size() > static_cast<size_t>(INT32_MAX)) fail_invalid("x509: DER too large");
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const auto* start = p;
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) fail_invalid("x509: malformed DER certificate: " + detail::drain_errors());
    if (static_cast<size_t>(p - start) != der.size())
        fail_invalid("x509: trailing data after DER certificate");
    return cert;
}

std::string cert_to_pem(X509* cert) {
    detail::ErrorQueueGuard guard;
    if (!cert) fail_invalid("x509: no certificate");
    BioPtr bio = detail::write_bio();
    if (PEM_write_bio_X509(bio.get(), cert) != 1) fail_openssl("x509: write PEM");
    return detail::bio_contents(bio.get());
}

std::string cert_to_der(X509* cert) {
    detail::ErrorQueueGuard guard;
    if (!cert) fail_invalid("x509: no certificate");
    int len = i2d_X509(cert, nullptr);
    if (len <= 0) fail_openssl("x509: encode DER");
    std::string der(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509(cert, &out) != len) fail_openssl("x509: encode DER");
    return der;
}

bool cert_matches_key(X509* cert, EVP_PKEY* key) {
    detail::ErrorQueueGuard guard;
    if (!cert || !key) return false;
    EVP_PKEY* pub = X509_get0_pubkey(cert);
    // Compares the public parts; 0 = different, negative = different types.
    return pub && EVP_PKEY_eq(pub, key) == 1;
}

bool cert_covers_names(X509* cert, const std::vector<std::string>& names) {
    detail::ErrorQueueGuard guard;
    if (!cert) return false;
    std::vector<std::string> dns, ips;
    subject_alt_names(cert, &dns, &ips);
    for (std::string& d : dns) d = lower(std::move(d));
    for (const std::string& name : names) {
        std::string ip;
        bool found = false;
        if (detail::parse_ip(name, &ip)) {
            for (const std::string& have : ips) found = found || have == ip;
        } else {
            const std::string want = lower(name);
            for (const std::string& have : dns) found = found || (!want.empty() && have == want);
        }
        if (!found) return false;
    }
    return true;
}

namespace detail {

X509StorePtr trust_store(std::string_view roots_pem, const char* what) {
    X509StorePtr store(X509_STORE_new());
    if (!store) fail_openssl(std::string(what) + ": X509_STORE_new");
    if (roots_pem.empty()) {
        if (X509_STORE_set_default_paths(store.get()) != 1)
            fail_openssl(std::string(what) + ": load the system trust store");
        return store;
    }
    for (const X509Ptr& root : parse_pem_chain(roots_pem)) {
        if (X509_STORE_add_cert(store.get(), root.get()) != 1)
            fail_openssl(std::string(what) + ": add trusted certificate");
    }
    return store;
}

}  // namespace detail

std::string verify_chain(const Chain& chain, std::string_view roots_pem, int64_t at_time) {
    detail::ErrorQueueGuard guard;
    if (chain.empty()) return "empty certificate chain";
    for (const X509Ptr& c : chain) {
        if (!c) return "null certificate in chain";
    }

    detail::X509StorePtr store = detail::trust_store(roots_pem, "verify");
    detail::X509StackPtr untrusted(sk_X509_new_null());
    if (!untrusted) fail_openssl("verify: sk_X509_new_null");
    for (size_t i = 1; i < chain.size(); ++i) {
        if (!sk_X509_push(untrusted.get(), chain[i].get())) fail_openssl("verify: sk_X509_push");
    }
    detail::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx) fail_openssl("verify: X509_STORE_CTX_new");
    if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1)
        fail_openssl("verify: X509_STORE_CTX_init");
    // set_time also sets X509_V_FLAG_USE_CHECK_TIME: every certificate is checked at that time.
    // No X509_V_FLAG_PARTIAL_CHAIN: the chain must end at a self-signed root.
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at_time));
    if (X509_verify_cert(ctx.get()) != 1) {
        int err = X509_STORE_CTX_get_error(ctx.get());
        if (err == X509_V_OK) err = X509_V_ERR_UNSPECIFIED;
        return X509_verify_cert_error_string(err);
    }
    // The path may have borrowed an intermediate from the trust store; a client would not have
    // it. Every certificate below the root must come from the chain as sent.
    STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
    const int n = path ? sk_X509_num(path) : 0;
    for (int i = 1; i + 1 < n; ++i) {
        X509* mid = sk_X509_value(path, i);
        bool sent = false;
        for (size_t j = 1; j < chain.size() && !sent; ++j) sent = X509_cmp(mid, chain[j].get()) == 0;
        if (!sent) return "the chain lacks an intermediate certificate that clients need";
    }
    return "";
}

std::string ari_cert_id(X509* cert) {
    detail::ErrorQueueGuard guard;
    if (!cert) fail_invalid("ari: no certificate");
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert);
    if (!aki || ASN1_STRING_length(aki) <= 0)
        fail_invalid("ari: certificate has no authority key identifier");
    const std::string key_id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                             static_cast<size_t>(ASN1_STRING_length(aki)));

    // The serial's DER content octets: the INTEGER encoding without tag and length, so a leading
    // 0x00 stays when the top bit of the first value byte is set.
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
    int len = i2d_ASN1_INTEGER(serial, nullptr);
    if (len <= 0) fail_openssl("ari: encode serial number");
    std::string der(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ASN1_INTEGER(serial, &out) != len) fail_openssl("ari: encode serial number");
    const auto* d = reinterpret_cast<const unsigned char*>(der.data());
    size_t header = 2;  // tag + short-form length
    if (der.size() < 2 || d[0] != V_ASN1_INTEGER) fail_invalid("ari: malformed serial number");
    if (d[1] & 0x80) header += d[1] & 0x7f;  // long-form length
    if (header >= der.size()) fail_invalid("ari: malformed serial number");
    return base64url_encode(key_id) + "." + base64url_encode(der.substr(header));
}

}  // namespace acme::crypto
