// PKCS#10 certificate signing requests for ACME finalize (RFC 8555 section 7.4).
#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "util/error.h"

namespace acme::crypto {

std::string make_csr_der(EVP_PKEY* key, const std::vector<std::string>& names) {
    detail::ErrorQueueGuard guard;
    if (names.empty()) fail_invalid("csr: no names");
    const KeyType t = key_type_of(key);
    GeneralNamesPtr gens = detail::make_general_names(names, "csr");
    const std::string cn = detail::first_dns_common_name(names);
    X509NamePtr subject = detail::make_cn_name(cn);

    X509ReqPtr req(X509_REQ_new());
    if (!req) fail_openssl("csr: X509_REQ_new");
    if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req.get(), subject.get()) != 1 ||
        X509_REQ_set_pubkey(req.get(), key) != 1)
        fail_openssl("csr: fill request");

    // RFC 5280 section 4.2.1.6: the SAN extension is critical when the subject is empty.
    X509ExtPtr san(static_cast<X509_EXTENSION*>(
        X509V3_EXT_i2d(NID_subject_alt_name, cn.empty() ? 1 : 0, gens.get())));
    detail::ExtStackPtr exts(sk_X509_EXTENSION_new_null());
    if (!san || !exts) fail_openssl("csr: build subjectAltName");
    if (!sk_X509_EXTENSION_push(exts.get(), san.get())) fail_openssl("csr: add subjectAltName");
    san.release();
    if (X509_REQ_add_extensions(req.get(), exts.get()) != 1)
        fail_openssl("csr: add extension request");

    if (X509_REQ_sign(req.get(), key, detail::signing_digest(t)) <= 0) fail_openssl("csr: sign");

    int len = i2d_X509_REQ(req.get(), nullptr);
    if (len <= 0) fail_openssl("csr: encode");
    std::string der(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509_REQ(req.get(), &out) != len) fail_openssl("csr: encode");
    return der;
}

}  // namespace acme::crypto
