#include "engine/status.h"

#include "json/json.h"
#include "util/clock.h"
#include "util/error.h"

namespace acme::engine {
namespace {

// RFC 3339 or null; a time format_rfc3339 cannot express is also null.
Json time_json(int64_t t) {
    if (t == 0) return Json::adopt(json_null());
    try {
        return Json::string(format_rfc3339(t));
    } catch (const Error&) {
        return Json::adopt(json_null());
    }
}

Json str_or_null(const std::string& s) {
    return s.empty() ? Json::adopt(json_null()) : Json::string(s);
}

Json key_json(const KeyCert& c, int64_t now) {
    Json k = Json::object();
    k.set("issuer", c.issuer);
    k.set("issuer_cn", c.issuer_cn);
    k.set("serial", c.serial);
    k.set("sha256", c.sha256);
    k.set("not_before", time_json(c.not_before));
    k.set("not_after", time_json(c.not_after));
    if (c.not_after != 0) {
        k.set("expires_in_seconds", c.not_after - now);
    } else {
        k.set("expires_in_seconds", Json::adopt(json_null()));
    }
    if (c.ari.has_window()) {
        Json w = Json::object();
        w.set("start", time_json(c.ari.window_start));
        w.set("end", time_json(c.ari.window_end));
        w.set("explanation_url", str_or_null(c.ari.explanation_url));
        k.set("ari_window", w);
    } else {
        k.set("ari_window", Json::adopt(json_null()));
    }
    if (!c.ocsp_url.empty()) {
        Json o = Json::object();
        o.set("responder", c.ocsp_url);
        o.set("next_update", c.ocsp_next_update ? time_json(c.ocsp_next_update)
                                                 : Json::adopt(json_null()));
        o.set("error", str_or_null(c.ocsp_error));
        k.set("ocsp", o);
    }
    return k;
}

Json cert_json(const CertMeta& m, int64_t now, const DriverStatus* driver) {
    const ScheduleState& s = m.schedule;
    Json o = Json::object();
    o.set("name", m.name);
    Json domains = Json::array();
    for (const std::string& d : m.domains) domains.append(d);
    o.set("domains", domains);
    o.set("ca", str_or_null(m.ca));
    Json keys = Json::object();
    for (const KeyCert& c : m.certs) keys.set(c.key_type.c_str(), key_json(c, now));
    o.set("key_types", keys);
    o.set("next_renewal", time_json(s.next_at));
    o.set("renewal_source", str_or_null(s.renewal_source));
    o.set("state", cert_state(m, now));
    o.set_bool("in_progress",
               driver && !driver->working_on.empty() && driver->working_on == m.name);
    o.set("fails", s.fails);
    if (!s.last_error.empty() || !s.last_error_type.empty()) {
        Json e = Json::object();
        e.set("type", s.last_error_type);
        e.set("detail", s.last_error);
        e.set("at", time_json(s.last_error_at));
        o.set("last_error", e);
    } else {
        o.set("last_error", Json::adopt(json_null()));
    }
    o.set("last_success", time_json(s.last_success));
    return o;
}

void family(std::string& out, const char* name, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " gauge\n";
}

void sample(std::string& out, const char* name, const std::string& labels, int64_t value) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

std::string label(const char* key, std::string_view value) {
    return std::string(key) + "=\"" + prometheus_escape(value) + "\"";
}

}  // namespace

std::string prometheus_escape(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string cert_state(const CertMeta& m, int64_t now) {
    const ScheduleState& s = m.schedule;
    for (const KeyCert& c : m.certs) {
        if (c.not_after != 0 && c.not_after <= now) return "expired";
    }
    if (s.waiting_for_config) return "waiting-for-config";
    if (s.fails > 0) return "retrying";
    if (m.certs.empty() || s.renewal_source == "order-pending") return "pending";
    if (s.renewal_at != 0 && s.renewal_at <= now) return "renewal-scheduled";
    return "valid";
}

std::string status_json(const std::vector<CertMeta>& certs, int64_t now,
                        const DriverStatus* driver) {
    Json o = Json::object();
    o.set("version", 1);
    if (driver) {
        Json d = Json::object();
        d.set_bool("active", driver->active);
        d.set_bool("this_process", driver->this_process);
        d.set("pid", driver->pid ? Json::integer(driver->pid) : Json());
        d.set("since", time_json(driver->since));
        d.set("working_on", str_or_null(driver->working_on));
        d.set("next_wakeup", time_json(driver->next_wakeup));
        o.set("driver", d);
    }
    Json list = Json::array();
    for (const CertMeta& m : certs) list.append(cert_json(m, now, driver));
    o.set("certificates", list);
    return o.dump(Json::pretty) + "\n";
}

std::string status_prometheus(const std::vector<CertMeta>& certs, int64_t now,
                              const DriverStatus* driver) {
    std::string out;
    family(out, "acme_certificate_not_after_seconds",
           "Expiry (notAfter) of the stored certificate, in Unix seconds.");
    for (const CertMeta& m : certs) {
        for (const KeyCert& c : m.certs) {
            sample(out, "acme_certificate_not_after_seconds",
                   label("name", m.name) + "," + label("key_type", c.key_type), c.not_after);
        }
    }
    family(out, "acme_certificate_valid",
           "Whether the stored certificate is within its validity period (1) or not (0).");
    for (const CertMeta& m : certs) {
        for (const KeyCert& c : m.certs) {
            sample(out, "acme_certificate_valid",
                   label("name", m.name) + "," + label("key_type", c.key_type),
                   c.not_before <= now && now < c.not_after ? 1 : 0);
        }
    }
    family(out, "acme_certificate_next_renewal_seconds",
           "When the certificate is next ordered or renewed, in Unix seconds.");
    for (const CertMeta& m : certs) {
        if (m.schedule.next_at != 0)
            sample(out, "acme_certificate_next_renewal_seconds", label("name", m.name),
                   m.schedule.next_at);
    }
    family(out, "acme_certificate_failures",
           "Consecutive failed attempts to order the certificate since the last success.");
    for (const CertMeta& m : certs) {
        sample(out, "acme_certificate_failures", label("name", m.name), m.schedule.fails);
    }
    family(out, "acme_certificate_last_success_seconds",
           "Last successful order of the certificate, in Unix seconds.");
    for (const CertMeta& m : certs) {
        if (m.schedule.last_success != 0)
            sample(out, "acme_certificate_last_success_seconds", label("name", m.name),
                   m.schedule.last_success);
    }
    if (driver) {
        family(out, "acme_driver_active",
               "Whether a process drives the ACME work for this configuration (1) or not (0).");
        sample(out, "acme_driver_active", "", driver->active ? 1 : 0);
    }
    return out;
}

}  // namespace acme::engine
