#include "engine/cert_meta.h"

#include <climits>

#include "json/json.h"
#include "util/clock.h"
#include "util/error.h"

namespace acme::engine {
namespace {

// ---- writing ----------------------------------------------------------------------------------

void set_str(Json& o, const char* key, const std::string& v) {
    if (!v.empty()) o.set(key, v);
}

void set_time(Json& o, const char* key, int64_t t) {
    if (t != 0) o.set(key, format_rfc3339(t));
}

Json ari_json(const AriInfo& a) {
    Json o = Json::object();
    set_str(o, "cert_id", a.cert_id);
    set_time(o, "window_start", a.window_start);
    set_time(o, "window_end", a.window_end);
    set_str(o, "explanation_url", a.explanation_url);
    set_time(o, "fetched_at", a.fetched_at);
    set_time(o, "next_poll", a.next_poll);
    return o;
}

Json schedule_json(const ScheduleState& s) {
    Json o = Json::object();
    o.set("fails", s.fails);
    o.set("ca_fails", s.ca_fails);
    o.set("perm_fails", s.perm_fails);
    o.set("ca_index", static_cast<int64_t>(s.ca_index));
    set_time(o, "next_attempt", s.next_attempt);
    set_time(o, "retry_not_before", s.retry_not_before);
    o.set_bool("waiting_for_config", s.waiting_for_config);
    set_str(o, "failed_config_hash", s.failed_config_hash);
    if (!s.last_error.empty() || !s.last_error_type.empty()) {
        Json e = Json::object();
        e.set("detail", s.last_error);
        e.set("type", s.last_error_type);
        set_time(e, "at", s.last_error_at);
        o.set("last_error", e);
    }
    set_time(o, "last_attempt", s.last_attempt);
    set_time(o, "last_success", s.last_success);
    set_time(o, "renewal_at", s.renewal_at);
    set_str(o, "renewal_basis", s.renewal_basis);
    set_str(o, "renewal_source", s.renewal_source);
    set_time(o, "next_at", s.next_at);
    return o;
}

// ---- reading ----------------------------------------------------------------------------------

[[noreturn]] void corrupt(const std::string& where, const std::string& what) {
    throw Error(Status::invalid, "meta.json: " + where + ": " + what);
}

// A member of `o`, or a null Json when absent or JSON null.
Json member(const Json& o, const char* key) {
    Json v = o.get(key);
    return v.is_null() ? Json() : v;
}

std::string read_str(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (v.is_null()) return "";
    if (!v.is_string()) corrupt(where + key, "expected a string");
    return v.as_string();
}

bool read_bool(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (v.is_null()) return false;
    if (!v.is_bool()) corrupt(where + key, "expected true or false");
    return v.as_bool();
}

int64_t read_count(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (v.is_null()) return 0;
    if (!v.is_integer()) corrupt(where + key, "expected an integer");
    int64_t i = v.as_integer();
    if (i < 0 || i > INT_MAX) corrupt(where + key, "out of range: " + std::to_string(i));
    return i;
}

// Times: an RFC 3339 string (as written), or an integer of Unix seconds (tolerated).
int64_t read_time(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (v.is_null()) return 0;
    if (v.is_integer()) return v.as_integer();
    if (!v.is_string()) corrupt(where + key, "expected an RFC 3339 time");
    try {
        return parse_rfc3339(v.as_string());
    } catch (const Error& e) {
        corrupt(where + key, e.what());
    }
}

Json read_object(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (!v.is_null() && !v.is_object()) corrupt(where + key, "expected an object");
    return v;
}

Json read_array(const Json& o, const char* key, const std::string& where) {
    Json v = member(o, key);
    if (!v.is_null() && !v.is_array()) corrupt(where + key, "expected an array");
    return v;
}

AriInfo read_ari(const Json& o, const std::string& where) {
    AriInfo a;
    a.cert_id = read_str(o, "cert_id", where);
    a.window_start = read_time(o, "window_start", where);
    a.window_end = read_time(o, "window_end", where);
    a.explanation_url = read_str(o, "explanation_url", where);
    a.fetched_at = read_time(o, "fetched_at", where);
    a.next_poll = read_time(o, "next_poll", where);
    return a;
}

KeyCert read_cert(const Json& o, const std::string& where) {
    KeyCert c;
    c.key_type = read_str(o, "key_type", where);
    if (c.key_type.empty()) corrupt(where + "key_type", "missing");
    c.issuer = read_str(o, "issuer", where);
    c.issuer_cn = read_str(o, "issuer_cn", where);
    c.serial = read_str(o, "serial", where);
    c.not_before = read_time(o, "not_before", where);
    c.not_after = read_time(o, "not_after", where);
    c.sha256 = read_str(o, "sha256", where);
    c.ca = read_str(o, "ca", where);
    c.installed_at = read_time(o, "installed_at", where);
    c.ocsp_url = read_str(o, "ocsp_url", where);
    c.ocsp_next_update = read_time(o, "ocsp_next_update", where);
    c.ocsp_refresh_at = read_time(o, "ocsp_refresh_at", where);
    c.ocsp_fails = static_cast<int>(read_count(o, "ocsp_fails", where));
    c.ocsp_error = read_str(o, "ocsp_error", where);
    Json ari = read_object(o, "ari", where);
    if (ari.is_object()) c.ari = read_ari(ari, where + "ari.");
    return c;
}

ScheduleState read_schedule(const Json& o, const std::string& where) {
    ScheduleState s;
    s.fails = static_cast<int>(read_count(o, "fails", where));
    s.ca_fails = static_cast<int>(read_count(o, "ca_fails", where));
    s.perm_fails = static_cast<int>(read_count(o, "perm_fails", where));
    s.ca_index = static_cast<size_t>(read_count(o, "ca_index", where));
    s.next_attempt = read_time(o, "next_attempt", where);
    s.retry_not_before = read_time(o, "retry_not_before", where);
    s.waiting_for_config = read_bool(o, "waiting_for_config", where);
    s.failed_config_hash = read_str(o, "failed_config_hash", where);
    Json e = read_object(o, "last_error", where);
    if (e.is_object()) {
        s.last_error = read_str(e, "detail", where + "last_error.");
        s.last_error_type = read_str(e, "type", where + "last_error.");
        s.last_error_at = read_time(e, "at", where + "last_error.");
    }
    s.last_attempt = read_time(o, "last_attempt", where);
    s.last_success = read_time(o, "last_success", where);
    s.renewal_at = read_time(o, "renewal_at", where);
    s.renewal_basis = read_str(o, "renewal_basis", where);
    s.renewal_source = read_str(o, "renewal_source", where);
    s.next_at = read_time(o, "next_at", where);
    return s;
}

}  // namespace

KeyCert* CertMeta::find(std::string_view key_type) {
    for (KeyCert& c : certs) {
        if (c.key_type == key_type) return &c;
    }
    return nullptr;
}

const KeyCert* CertMeta::find(std::string_view key_type) const {
    return const_cast<CertMeta*>(this)->find(key_type);
}

void CertMeta::put(KeyCert c) {
    if (KeyCert* old = find(c.key_type)) {
        *old = std::move(c);
    } else {
        certs.push_back(std::move(c));
    }
}

std::string to_json(const CertMeta& m) {
    Json o = Json::object();
    o.set("version", kCertMetaVersion);
    o.set("name", m.name);
    Json domains = Json::array();
    for (const std::string& d : m.domains) domains.append(d);
    o.set("domains", domains);
    set_str(o, "ca", m.ca);
    set_str(o, "config_hash", m.config_hash);
    if (m.profile) o.set("profile", *m.profile);
    if (m.stapled) o.set_bool("stapled", true);
    Json certs = Json::array();
    for (const KeyCert& c : m.certs) {
        Json j = Json::object();
        j.set("key_type", c.key_type);
        set_str(j, "issuer", c.issuer);
        set_str(j, "issuer_cn", c.issuer_cn);
        set_str(j, "serial", c.serial);
        set_time(j, "not_before", c.not_before);
        set_time(j, "not_after", c.not_after);
        set_str(j, "sha256", c.sha256);
        set_str(j, "ca", c.ca);
        set_time(j, "installed_at", c.installed_at);
        set_str(j, "ocsp_url", c.ocsp_url);
        set_time(j, "ocsp_next_update", c.ocsp_next_update);
        set_time(j, "ocsp_refresh_at", c.ocsp_refresh_at);
        if (c.ocsp_fails) j.set("ocsp_fails", c.ocsp_fails);
        set_str(j, "ocsp_error", c.ocsp_error);
        j.set("ari", ari_json(c.ari));
        certs.append(j);
    }
    o.set("certificates", certs);
    o.set("schedule", schedule_json(m.schedule));
    return o.dump(Json::pretty) + "\n";
}

CertMeta cert_meta_from_json(std::string_view text) {
    Json o;
    try {
        o = Json::parse(text);
    } catch (const Error& e) {
        throw Error(Status::invalid, std::string("meta.json: ") + e.what());
    }
    if (!o.is_object()) throw Error(Status::invalid, "meta.json: not a JSON object");
    const Json version = member(o, "version");
    if (!version.is_null() && (!version.is_integer() || version.as_integer() < 1))
        corrupt("version", "expected a positive integer");

    CertMeta m;
    m.name = read_str(o, "name", "");
    Json domains = read_array(o, "domains", "");
    for (size_t i = 0; i < domains.size(); ++i) {
        Json d = domains.at(i);
        if (!d.is_string()) corrupt("domains[" + std::to_string(i) + "]", "expected a string");
        m.domains.push_back(d.as_string());
    }
    m.ca = read_str(o, "ca", "");
    m.config_hash = read_str(o, "config_hash", "");
    if (!member(o, "profile").is_null()) m.profile = read_str(o, "profile", "");
    m.stapled = read_bool(o, "stapled", "");
    Json certs = read_array(o, "certificates", "");
    for (size_t i = 0; i < certs.size(); ++i) {
        const std::string where = "certificates[" + std::to_string(i) + "]";
        Json c = certs.at(i);
        if (!c.is_object()) corrupt(where, "expected an object");
        KeyCert kc = read_cert(c, where + ".");
        if (m.find(kc.key_type)) corrupt(where, "duplicate key type " + kc.key_type);
        m.certs.push_back(std::move(kc));
    }
    Json schedule = read_object(o, "schedule", "");
    if (schedule.is_object()) m.schedule = read_schedule(schedule, "schedule.");
    return m;
}

CertFacts cert_facts(const CertMeta& meta, const std::vector<std::string>& key_types,
                     bool matches_config) {
    CertFacts f;
    f.matches_config = matches_config;
    for (const std::string& kt : key_types) {
        CertFacts::Key k;
        k.key_type = kt;
        if (const KeyCert* c = meta.find(kt)) {
            k.present = true;
            k.not_before = c->not_before;
            k.not_after = c->not_after;
            k.ari = c->ari;
        }
        f.keys.push_back(std::move(k));
    }
    return f;
}

}  // namespace acme::engine
