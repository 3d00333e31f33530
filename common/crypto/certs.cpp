// Certificates we make ourselves: the self-signed fallback served before the real certificate
// arrives, and the RFC 8737 tls-alpn-01 validation certificate.
#include <ctime>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {

namespace {

constexpr int64_t kBackdateSeconds = 3600;
constexpr int64_t kTlsAlpnValidSeconds = 7 * 24 * 3600;
constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";  // id-pe-acmeIdentifier

// Truncates to at most 64 bytes (the commonName upper bound) without splitting a UTF-8 sequence.
std::string truncate_cn(std::string cn) {
    if (cn.size() <= 64) return cn;
    size_t n = 64;
    while (n > 0 && (static_cast<unsigned char>(cn[n]) & 0xc0) == 0x80) --n;
    cn.resize(n);
    return cn;
}

// A random positive 16-byte serial number (RFC 5280 section 4.1.2.2: at most 20 octets).
void set_random_serial(X509* x) {
    std::string bytes = random_bytes(16);
    // Clear the sign bit and set the next one, so the value is positive and encodes in exactly 16
    // content octets.
    bytes[0] = static_cast<char>((static_cast<unsigned char>(bytes[0]) & 0x7f) | 0x40);
    BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), 16, nullptr));
    if (!bn) fail_openssl("certificate: serial number");
    detail::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (!serial || X509_set_serialNumber(x, serial.get()) != 1)
        fail_openssl("certificate: set serial number");
}

// A version 3 certificate for `key`, subject and issuer CN=`cn`, valid from `now` - 1h to
// `now` + `valid_seconds`, with a random serial. Extensions and the signature are the caller's.
X509Ptr new_self_signed(EVP_PKEY* key, const std::string& cn, int64_t valid_seconds) {
    X509Ptr x(X509_new());
    if (!x) fail_openssl("certificate: X509_new");
    if (X509_set_version(x.get(), X509_VERSION_3) != 1) fail_openssl("certificate: set version");
    set_random_serial(x.get());
    X509NamePtr name = detail::make_cn_name(truncate_cn(cn));
    if (X509_set_subject_name(x.get(), name.get()) != 1 ||
        X509_set_issuer_name(x.get(), name.get()) != 1)
        fail_openssl("certificate: set names");
    const int64_t now = static_cast<int64_t>(time(nullptr));
    if (!ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(now - kBackdateSeconds)) ||
        !ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(now + valid_seconds)))
        fail_openssl("certificate: set validity");
    if (X509_set_pubkey(x.get(), key) != 1) fail_openssl("certificate: set public key");
    return x;
}

void add_san(X509* x, const std::vector<std::string>& names, const char* what) {
    GeneralNamesPtr gens = detail::make_general_names(names, what);
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1)
        fail_openssl(std::string(what) + ": add subjectAltName");
}

// Adds an extension from its OpenSSL configuration text ("critical,CA:FALSE").
void add_conf_ext(X509* x, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(x, ext.get(), -1) != 1)
        fail_openssl(std::string("certificate: add ") + OBJ_nid2sn(nid));
}

void sign(X509* x, EVP_PKEY* key, KeyType t, const char* what) {
    if (X509_sign(x, key, detail::signing_digest(t)) <= 0)
        fail_openssl(std::string(what) + ": sign");
}

}  // namespace

X509Ptr make_self_signed(EVP_PKEY* key, const std::vector<std::string>& names,
                         int64_t valid_seconds) {
    detail::ErrorQueueGuard guard;
    if (names.empty()) fail_invalid("fallback certificate: no names");
    if (valid_seconds <= 0 || valid_seconds > int64_t{100} * 366 * 24 * 3600)
        fail_invalid("fallback certificate: validity of " + std::to_string(valid_seconds) +
                     " seconds is out of range");
    const KeyType t = key_type_of(key);
    X509Ptr x = new_self_signed(key, "acme fallback " + names.front(), valid_seconds);
    add_san(x.get(), names, "fallback certificate");
    add_conf_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_conf_ext(
        x.get(), NID_key_usage,
        is_rsa(t) ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    add_conf_ext(x.get(), NID_ext_key_usage, "serverAuth");
    add_conf_ext(x.get(), NID_subject_key_identifier, "hash");
    sign(x.get(), key, t, "fallback certificate");
    return x;
}

X509Ptr make_tls_alpn_cert(EVP_PKEY* key, const std::string& identifier,
                           const std::string& key_authorization) {
    detail::ErrorQueueGuard guard;
    if (identifier.empty()) fail_invalid("tls-alpn-01: empty identifier");
    if (key_authorization.empty()) fail_invalid("tls-alpn-01: empty key authorization");
    const KeyType t = key_type_of(key);
    X509Ptr x = new_self_signed(key, "ACME tls-alpn-01 " + identifier, kTlsAlpnValidSeconds);
    // RFC 8737 section 3: exactly one SAN, the identifier being validated.
    add_san(x.get(), {identifier}, "tls-alpn-01");

    // The extension's extnValue holds the DER of an OCTET STRING carrying SHA-256(key
    // authorization): 04 20 <32 bytes>.
    const std::string digest = sha256(key_authorization);
    Asn1OctetPtr inner(ASN1_OCTET_STRING_new());
    if (!inner ||
        !ASN1_OCTET_STRING_set(inner.get(), reinterpret_cast<const unsigned char*>(digest.data()),
                               static_cast<int>(digest.size())))
        fail_openssl("tls-alpn-01: build acmeIdentifier");
    int len = i2d_ASN1_OCTET_STRING(inner.get(), nullptr);
    if (len <= 0) fail_openssl("tls-alpn-01: encode acmeIdentifier");
    std::string der(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ASN1_OCTET_STRING(inner.get(), &out) != len)
        fail_openssl("tls-alpn-01: encode acmeIdentifier");
    Asn1OctetPtr value(ASN1_OCTET_STRING_new());
    if (!value || !ASN1_OCTET_STRING_set(value.get(),
                                         reinterpret_cast<const unsigned char*>(der.data()), len))
        fail_openssl("tls-alpn-01: build acmeIdentifier");
    detail::Asn1ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
    if (!oid) fail_openssl("tls-alpn-01: acmeIdentifier OID");
    X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1)
        fail_openssl("tls-alpn-01: add acmeIdentifier");

    sign(x.get(), key, t, "tls-alpn-01");
    return x;
}

}  // namespace acme::crypto
