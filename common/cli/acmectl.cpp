// acmectl: the operators' tool, and the core's second consumer. It uses only the public C ABI
// (acme/acme.h), exactly as the server modules do.
//
// Exit codes: 0 success; 1 the operation failed (CA, network, store); 2 usage or configuration
// error.

#include <acme/acme.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* g_prog = "acmectl";
int g_verbosity = 0;  // 0: notices and above, 1: info, 2: debug; -1: errors only

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

const char* kUsage =
    "usage: acmectl <command> [options]\n"
    "\n"
    "commands:\n"
    "  issue      obtain a certificate now (renews it when it is stored and due, or --force)\n"
    "  renew      renew a stored certificate if it is due (or --force)\n"
    "  revoke     revoke the stored certificate(s)\n"
    "  status     show the certificates in a store (JSON or Prometheus text)\n"
    "  account    show the ACME account, or roll its key over\n"
    "  version    print the version\n"
    "\n"
    "Run 'acmectl <command> --help' for the options of a command.\n";

const char* kIssueHelp =
    "usage: acmectl issue|renew --store DIR --ca URL -d NAME [-d NAME ...] [options]\n"
    "\n"
    "  --store DIR            certificate store directory (created if missing)\n"
    "  --ca URL               ACME directory URL; repeat for failover CAs\n"
    "  --ca-root FILE         PEM file trusted for the CA's HTTPS endpoint (private CA, pebble)\n"
    "  --chain-roots FILE     PEM roots the issued chain must reach (default: the system trust\n"
    "                         store); a chain that does not verify is not installed\n"
    "  --email ADDR           account contact; may be repeated\n"
    "  --agree-tos            agree to the CA's terms of service\n"
    "  -d, --domain NAME      a name for the certificate (DNS name, *.wildcard or IP address)\n"
    "  --name NAME            store name (default: the first domain)\n"
    "  --key-type T           ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-3072, rsa-4096;\n"
    "                         give two (one ECDSA, one RSA) for a dual certificate\n"
    "  --challenge T          http-01 (default), tls-alpn-01 or dns-01\n"
    "  --http01-listen A:P    answer http-01 on this address and port while ordering\n"
    "                         (otherwise a running server using the same store answers)\n"
    "  --dns-hook PROGRAM     dns-01: run 'PROGRAM setup|teardown DOMAIN TXT-VALUE'\n"
    "  --dns-wait SECONDS     dns-01: wait after the hook before validation (default 0)\n"
    "  --eab-kid KID          external account binding key id\n"
    "  --eab-hmac-file FILE   external account binding HMAC key (base64url), read from FILE\n"
    "                         (surrounding white space ignored; must not be readable by\n"
    "                         others), or from the environment variable ACME_EAB_HMAC_KEY\n"
    "  --eab-hmac KEY         the same key on the command line: other local users can read it\n"
    "                         while acmectl starts; prefer the file or the environment\n"
    "  --eab-alg ALG          HS256 (default), HS384 or HS512\n"
    "  --profile NAME         ACME certificate profile (e.g. shortlived)\n"
    "  --preferred-chain CN   prefer the chain whose top certificate was issued by CN\n"
    "  --renew-window W       renew W before expiry (30d) or when W of the lifetime is left (33%)\n"
    "  --force                order even when a valid certificate is stored and not due\n"
    "  --user NAME            when run as root: work as this user (default: the store's owner,\n"
    "                         or nobody for a new store)\n"
    "  -v, --verbose          more log output (twice for debug)\n"
    "  -q, --quiet            only errors\n";

const char* kRevokeHelp =
    "usage: acmectl revoke --store DIR --ca URL -d NAME [...] [--reason N] [--use-cert-key]\n"
    "\n"
    "Revokes the stored certificate(s) of the named certificate (the same options as 'issue'\n"
    "identify it) and archives them; a running server orders a replacement.\n"
    "  --reason N         RFC 5280 reason code: 0 unspecified (default), 1 keyCompromise,\n"
    "                     3 affiliationChanged, 4 superseded, 5 cessationOfOperation\n"
    "  --use-cert-key     sign the request with the certificate's key instead of the account's\n";

const char* kStatusHelp =
    "usage: acmectl status --store DIR [--format json|prometheus]\n"
    "\n"
    "Prints the state of every certificate in the store: names, key types, issuer, expiry,\n"
    "next renewal, last error.\n";

const char* kAccountHelp =
    "usage: acmectl account show|rollover --store DIR --ca URL [--ca-root FILE] [options]\n"
    "\n"
    "  show               print the stored account for the CA (as the CA reports it)\n"
    "    --create         register an account when none is stored (needs --agree-tos,\n"
    "                     --email, --eab-* as the CA requires)\n"
    "  rollover           replace the account key (RFC 8555 section 7.3.5)\n"
    "    --key-type T     type of the new key (default: the current type)\n";

void log_to_stderr(void*, acme_log_level level, const char* message) {
    static const char* names[] = {"error", "warn", "notice", "info", "debug"};
    std::fprintf(stderr, "%s: [%s] %s\n", g_prog, names[level], message);
}

struct Options {
    std::string command, subcommand;
    std::string store;
    std::vector<std::string> cas;
    std::string ca_root, chain_roots;
    std::vector<std::string> emails;
    bool agree_tos = false;
    std::vector<std::string> domains;
    std::string name;
    std::vector<std::string> key_types;
    std::string challenge;
    std::string http01_listen;
    std::string dns_hook;
    int dns_wait = 0;
    std::string eab_kid, eab_hmac, eab_hmac_file, eab_alg;
    bool eab_hmac_given = false;
    std::string profile, preferred_chain, renew_window;
    bool force = false;
    bool create = false;
    bool use_cert_key = false;
    int reason = 0;
    std::string format = "json";
    std::string user;
    bool help = false;
};

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "%s: %s\n(see '%s --help')\n", g_prog, msg.c_str(), g_prog);
    return kExitUsage;
}

bool parse_int(const char* s, int lo, int hi, int* out) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = static_cast<int>(v);
    return true;
}

int parse_options(int argc, char** argv, Options& o) {
    enum {
        OPT_STORE = 1000, OPT_CA, OPT_CA_ROOT, OPT_EMAIL, OPT_AGREE, OPT_NAME, OPT_KEY_TYPE,
        OPT_CHALLENGE, OPT_HTTP01, OPT_DNS_HOOK, OPT_DNS_WAIT, OPT_EAB_KID, OPT_EAB_HMAC,
        OPT_EAB_ALG, OPT_PROFILE, OPT_CHAIN, OPT_WINDOW, OPT_FORCE, OPT_CREATE, OPT_CERT_KEY,
        OPT_REASON, OPT_FORMAT, OPT_USER, OPT_EAB_HMAC_FILE, OPT_CHAIN_ROOTS,
    };
    static const struct option longopts[] = {
        {"store", required_argument, nullptr, OPT_STORE},
        {"ca", required_argument, nullptr, OPT_CA},
        {"ca-root", required_argument, nullptr, OPT_CA_ROOT},
        {"chain-roots", required_argument, nullptr, OPT_CHAIN_ROOTS},
        {"email", required_argument, nullptr, OPT_EMAIL},
        {"agree-tos", no_argument, nullptr, OPT_AGREE},
        {"domain", required_argument, nullptr, 'd'},
        {"name", required_argument, nullptr, OPT_NAME},
        {"key-type", required_argument, nullptr, OPT_KEY_TYPE},
        {"challenge", required_argument, nullptr, OPT_CHALLENGE},
        {"http01-listen", required_argument, nullptr, OPT_HTTP01},
        {"dns-hook", required_argument, nullptr, OPT_DNS_HOOK},
        {"dns-wait", required_argument, nullptr, OPT_DNS_WAIT},
        {"eab-kid", required_argument, nullptr, OPT_EAB_KID},
        {"eab-hmac", required_argument, nullptr, OPT_EAB_HMAC},
        {"eab-hmac-file", required_argument, nullptr, OPT_EAB_HMAC_FILE},
        {"eab-alg", required_argument, nullptr, OPT_EAB_ALG},
        {"profile", required_argument, nullptr, OPT_PROFILE},
        {"preferred-chain", required_argument, nullptr, OPT_CHAIN},
        {"renew-window", required_argument, nullptr, OPT_WINDOW},
        {"force", no_argument, nullptr, OPT_FORCE},
        {"create", no_argument, nullptr, OPT_CREATE},
        {"use-cert-key", no_argument, nullptr, OPT_CERT_KEY},
        {"reason", required_argument, nullptr, OPT_REASON},
        {"format", required_argument, nullptr, OPT_FORMAT},
        {"user", required_argument, nullptr, OPT_USER},
        {"verbose", no_argument, nullptr, 'v'},
        {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:vqh", longopts, nullptr)) != -1) {
        switch (c) {
            case OPT_STORE: o.store = optarg; break;
            case OPT_CA: o.cas.push_back(optarg); break;
            case OPT_CA_ROOT: o.ca_root = optarg; break;
            case OPT_CHAIN_ROOTS: o.chain_roots = optarg; break;
            case OPT_EMAIL: o.emails.push_back(optarg); break;
            case OPT_AGREE: o.agree_tos = true; break;
            case 'd': o.domains.push_back(optarg); break;
            case OPT_NAME: o.name = optarg; break;
            case OPT_KEY_TYPE: o.key_types.push_back(optarg); break;
            case OPT_CHALLENGE: o.challenge = optarg; break;
            case OPT_HTTP01: o.http01_listen = optarg; break;
            case OPT_DNS_HOOK: o.dns_hook = optarg; break;
            case OPT_DNS_WAIT:
                if (!parse_int(optarg, 0, 3600, &o.dns_wait))
                    return usage_error(std::string("--dns-wait: expected seconds (0-3600), got '") +
                                       optarg + "'");
                break;
            case OPT_EAB_KID: o.eab_kid = optarg; break;
            case OPT_EAB_HMAC:
                o.eab_hmac = optarg;
                o.eab_hmac_given = true;
                // Any local user can read /proc/<pid>/cmdline: blank the key there at once.
                std::memset(optarg, 0, std::strlen(optarg));
                break;
            case OPT_EAB_HMAC_FILE: o.eab_hmac_file = optarg; break;
            case OPT_EAB_ALG: o.eab_alg = optarg; break;
            case OPT_PROFILE: o.profile = optarg; break;
            case OPT_CHAIN: o.preferred_chain = optarg; break;
            case OPT_WINDOW: o.renew_window = optarg; break;
            case OPT_FORCE: o.force = true; break;
            case OPT_CREATE: o.create = true; break;
            case OPT_CERT_KEY: o.use_cert_key = true; break;
            case OPT_REASON:
                if (!parse_int(optarg, 0, 10, &o.reason))
                    return usage_error(std::string("--reason: expected 0-10, got '") + optarg + "'");
                break;
            case OPT_FORMAT: o.format = optarg; break;
            case OPT_USER: o.user = optarg; break;
            case 'v': ++g_verbosity; break;
            case 'q': g_verbosity = -1; break;
            case 'h': o.help = true; break;
            case ':': return usage_error(std::string("option '") + argv[optind - 1] + "' needs a value");
            default: return usage_error(std::string("unknown option '") + argv[optind - 1] + "'");
        }
    }
    if (optind < argc) {
        if (o.command == "account" && o.subcommand.empty()) {
            o.subcommand = argv[optind++];
        }
        if (optind < argc) return usage_error(std::string("unexpected argument '") + argv[optind] + "'");
    }
    return -1;
}

const char* kEabEnv = "ACME_EAB_HMAC_KEY";

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The EAB HMAC key from --eab-hmac or --eab-hmac-file (not both), else from $ACME_EAB_HMAC_KEY.
// The variable is removed from the environment (and its bytes blanked) whatever the source, so
// that the dns-01 hook does not inherit it. Returns an exit code, or -1 to go on.
int load_eab_key(Options& o) {
    std::string from_env;
    if (char* v = std::getenv(kEabEnv)) {
        from_env = v;
        std::memset(v, 0, std::strlen(v));
        ::unsetenv(kEabEnv);
    }
    if (o.eab_hmac_given && !o.eab_hmac_file.empty())
        return usage_error("--eab-hmac and --eab-hmac-file: give the key once");
    if (o.eab_hmac_given) return -1;
    if (o.eab_hmac_file.empty()) {
        o.eab_hmac = trim(from_env);
        return -1;
    }
    const std::string& path = o.eab_hmac_file;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return usage_error("--eab-hmac-file " + path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
        ::close(fd);
        return usage_error("--eab-hmac-file " + path + ": not a regular file or a pipe");
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & S_IROTH)) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return usage_error("--eab-hmac-file " + path + ": readable by every local user (mode " +
                           mode + "); make it private first (chmod o-rwx " + path + ")");
    }
    std::string text;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= 4096) text.append(buf, static_cast<size_t>(n));
    int read_errno = n < 0 ? errno : 0;
    ::close(fd);
    if (read_errno)
        return usage_error("--eab-hmac-file " + path + ": " + std::strerror(read_errno));
    if (text.size() > 4096)
        return usage_error("--eab-hmac-file " + path + ": more than 4 KiB, not a key");
    o.eab_hmac = trim(text);
    std::fill(text.begin(), text.end(), '\0');
    if (o.eab_hmac.empty()) return usage_error("--eab-hmac-file " + path + ": empty");
    return -1;
}

std::vector<const char*> c_strings(const std::vector<std::string>& v) {
    std::vector<const char*> out;
    for (const std::string& s : v) out.push_back(s.c_str());
    return out;
}

const char* opt_c(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

// Keeps the C strings of an acme_cert_config alive.
struct CertConfigHolder {
    std::vector<const char*> domains, key_types, cas, contacts;
    acme_cert_config cfg;

    explicit CertConfigHolder(const Options& o) {
        domains = c_strings(o.domains);
        key_types = c_strings(o.key_types);
        cas = c_strings(o.cas);
        contacts = c_strings(o.emails);
        std::memset(&cfg, 0, sizeof cfg);
        cfg.struct_size = sizeof cfg;
        cfg.domains = domains.data();
        cfg.n_domains = domains.size();
        cfg.name = opt_c(o.name);
        cfg.key_types = key_types.data();
        cfg.n_key_types = key_types.size();
        cfg.challenge = opt_c(o.challenge);
        cfg.dns_hook = opt_c(o.dns_hook);
        cfg.dns_propagation_seconds = o.dns_wait;
        cfg.profile = opt_c(o.profile);
        cfg.renew_window = opt_c(o.renew_window);
        cfg.preferred_chain = opt_c(o.preferred_chain);
        cfg.account.struct_size = sizeof cfg.account;
        cfg.account.ca_urls = cas.data();
        cfg.account.n_ca_urls = cas.size();
        cfg.account.ca_root = opt_c(o.ca_root);
        cfg.account.contacts = contacts.data();
        cfg.account.n_contacts = contacts.size();
        cfg.account.agree_tos = o.agree_tos;
        cfg.account.eab_kid = opt_c(o.eab_kid);
        cfg.account.eab_hmac_key = opt_c(o.eab_hmac);
        cfg.account.eab_alg = opt_c(o.eab_alg);
        cfg.account.chain_roots = opt_c(o.chain_roots);
    }
};

int report(acme_status st, acme_error* err, const char* what) {
    std::fprintf(stderr, "%s: %s: %s\n", g_prog, what, err ? acme_error_message(err) : acme_status_name(st));
    if (err && *acme_error_problem_type(err))
        std::fprintf(stderr, "%s:   problem type: %s\n", g_prog, acme_error_problem_type(err));
    if (err && acme_error_retry_after(err))
        std::fprintf(stderr, "%s:   the CA asks not to retry before %lld (Unix time)\n", g_prog,
                     static_cast<long long>(acme_error_retry_after(err)));
    acme_error_free(err);
    return st == ACME_ERR_INVALID ? kExitUsage : kExitFailed;
}

// ---- privileges -----------------------------------------------------------------------------

struct Identity {
    long uid = -1, gid = -1;
    std::string name;
};

// When running as root, the user to do ACME as: --user, else the owner of an existing store,
// else nobody. Never root.
bool pick_identity(const Options& o, Identity& id) {
    if (::geteuid() != 0) return true;
    const char* user = o.user.empty() ? nullptr : o.user.c_str();
    struct stat st;
    if (!user && ::stat(o.store.c_str(), &st) == 0 && st.st_uid != 0) {
        struct passwd* pw = ::getpwuid(st.st_uid);
        id.uid = st.st_uid;
        id.gid = st.st_gid;
        id.name = pw ? pw->pw_name : std::to_string(st.st_uid);
        return true;
    }
    if (!user) user = "nobody";
    struct passwd* pw = ::getpwnam(user);
    if (!pw) {
        std::fprintf(stderr, "%s: --user: no such user '%s'\n", g_prog, user);
        return false;
    }
    if (pw->pw_uid == 0) {
        std::fprintf(stderr, "%s: refusing to run ACME as root; choose another --user\n", g_prog);
        return false;
    }
    id.uid = pw->pw_uid;
    id.gid = pw->pw_gid;
    id.name = pw->pw_name;
    return true;
}

bool drop_privileges(const Identity& id) {
    if (::geteuid() != 0 || id.uid < 0) return true;
    if (::setgroups(0, nullptr) != 0 || ::setgid(static_cast<gid_t>(id.gid)) != 0 ||
        ::setuid(static_cast<uid_t>(id.uid)) != 0) {
        std::fprintf(stderr, "%s: cannot switch to user %s: %s\n", g_prog, id.name.c_str(),
                     std::strerror(errno));
        return false;
    }
    if (g_verbosity > 0) std::fprintf(stderr, "%s: working as user %s\n", g_prog, id.name.c_str());
    return true;
}

// ---- standalone http-01 responder -----------------------------------------------------------

class Http01Responder {
public:
    ~Http01Responder() { stop(); }

    // Binds now (possibly a privileged port, before dropping privileges).
    bool bind_to(const std::string& spec) {
        size_t colon = spec.rfind(':');
        if (colon == std::string::npos) {
            std::fprintf(stderr, "%s: --http01-listen: expected ADDRESS:PORT, got '%s'\n", g_prog,
                         spec.c_str());
            return false;
        }
        std::string host = spec.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        int port = 0;
        if (!parse_int(spec.c_str() + colon + 1, 1, 65535, &port)) {
            std::fprintf(stderr, "%s: --http01-listen: invalid port in '%s'\n", g_prog, spec.c_str());
            return false;
        }
        struct sockaddr_storage ss;
        std::memset(&ss, 0, sizeof ss);
        socklen_t len;
        auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons(static_cast<uint16_t>(port));
            len = sizeof *v4;
        } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(static_cast<uint16_t>(port));
            len = sizeof *v6;
        } else {
            std::fprintf(stderr, "%s: --http01-listen: '%s' is not an IP address\n", g_prog,
                         host.c_str());
            return false;
        }
        fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
            ::listen(fd_, 64) != 0) {
            std::fprintf(stderr, "%s: --http01-listen %s: %s\n", g_prog, spec.c_str(),
                         std::strerror(errno));
            return false;
        }
        return true;
    }

    void start(acme_ctx* ctx) {
        ctx_ = ctx;
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    void run() {
        while (!stop_.load()) {
            struct pollfd p = {fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            serve(c);
            ::close(c);
        }
    }

    void serve(int c) {
        // Read the request head (bounded in size and time).
        std::string req;
        char buf[1024];
        while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
            struct pollfd p = {c, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) return;
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) return;
            req.append(buf, static_cast<size_t>(n));
        }
        static const std::string kPrefix = "GET /.well-known/acme-challenge/";
        std::string body;
        int status = 404;
        if (req.compare(0, kPrefix.size(), kPrefix) == 0) {
            size_t end = req.find_first_of(" ?\r\n", kPrefix.size());
            std::string token = req.substr(kPrefix.size(), end - kPrefix.size());
            char* ka = nullptr;
            size_t len = 0;
            if (acme_http01_lookup(ctx_, token.data(), token.size(), &ka, &len, nullptr) == ACME_OK) {
                body.assign(ka, len);
                status = 200;
                acme_free(ka);
            }
        }
        std::string resp = "HTTP/1.1 " + std::string(status == 200 ? "200 OK" : "404 Not Found") +
                           "\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        const char* p = resp.data();
        size_t left = resp.size();
        while (left > 0) {
            ssize_t n = ::write(c, p, left);
            if (n <= 0) return;
            p += n;
            left -= static_cast<size_t>(n);
        }
    }

    int fd_ = -1;
    acme_ctx* ctx_ = nullptr;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// ---- commands -----------------------------------------------------------------------------------

struct Context {
    acme_ctx* ctx = nullptr;
    ~Context() { acme_ctx_destroy(ctx); }
};

int open_store(const Options& o, Context& c) {
    if (o.store.empty()) return usage_error("--store DIR is required");
    acme_ctx_options opts;
    std::memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.store_dir = o.store.c_str();
    opts.user_agent = "acmectl";
    acme_error* err = nullptr;
    acme_status st = acme_ctx_create(&opts, &c.ctx, &err);
    if (st != ACME_OK) return report(st, err, "store");
    return -1;
}

int cmd_issue(const Options& o, bool renew) {
    if (o.cas.empty()) return usage_error("--ca URL is required");
    if (o.domains.empty()) return usage_error("at least one -d NAME is required");
    if (!o.http01_listen.empty() && !o.challenge.empty() && o.challenge != "http-01")
        return usage_error("--http01-listen goes with the http-01 challenge");
    Identity id;
    if (!pick_identity(o, id)) return kExitUsage;
    Context c;
    if (int rc = open_store(o, c); rc >= 0) return rc;
    CertConfigHolder h(o);
    acme_cert* cert = nullptr;
    acme_error* err = nullptr;
    acme_status st = acme_ctx_add_cert(c.ctx, &h.cfg, &cert, &err);
    if (st != ACME_OK) return report(st, err, "configuration");
    st = acme_ctx_prepare(c.ctx, id.uid, id.gid, &err);
    if (st != ACME_OK) return report(st, err, "store");
    Http01Responder responder;
    if (!o.http01_listen.empty() && !responder.bind_to(o.http01_listen)) return kExitFailed;
    if (!drop_privileges(id)) return kExitFailed;
    if (!o.http01_listen.empty()) responder.start(c.ctx);

    st = acme_cert_issue(c.ctx, cert, o.force, &err);
    responder.stop();
    if (st != ACME_OK) return report(st, err, renew ? "renew" : "issue");

    for (size_t i = 0; i < acme_cert_key_count(cert); ++i) {
        char* path = nullptr;
        int fallback = 0;
        if (acme_cert_files(cert, i, &path, &fallback, nullptr) == ACME_OK) {
            if (!fallback) std::printf("%s\n", path);
            acme_free(path);
        }
    }
    return kExitOk;
}

int cmd_revoke(const Options& o) {
    if (o.cas.empty()) return usage_error("--ca URL is required");
    if (o.domains.empty()) return usage_error("at least one -d NAME is required");
    Identity id;
    if (!pick_identity(o, id)) return kExitUsage;
    Context c;
    if (int rc = open_store(o, c); rc >= 0) return rc;
    CertConfigHolder h(o);
    acme_cert* cert = nullptr;
    acme_error* err = nullptr;
    acme_status st = acme_ctx_add_cert(c.ctx, &h.cfg, &cert, &err);
    if (st != ACME_OK) return report(st, err, "configuration");
    st = acme_ctx_prepare(c.ctx, id.uid, id.gid, &err);
    if (st != ACME_OK) return report(st, err, "store");
    if (!drop_privileges(id)) return kExitFailed;
    st = acme_cert_revoke(c.ctx, cert, o.reason, o.use_cert_key, &err);
    if (st != ACME_OK) return report(st, err, "revoke");
    std::printf("revoked %s\n", acme_cert_name(cert));
    return kExitOk;
}

int cmd_status(const Options& o) {
    acme_status_format f;
    if (o.format == "json") {
        f = ACME_FORMAT_JSON;
    } else if (o.format == "prometheus") {
        f = ACME_FORMAT_PROMETHEUS;
    } else {
        return usage_error("--format: expected json or prometheus, got '" + o.format + "'");
    }
    struct stat st;
    if (o.store.empty()) return usage_error("--store DIR is required");
    if (::stat(o.store.c_str(), &st) != 0)
        return usage_error("--store " + o.store + ": " + std::strerror(errno));
    Context c;
    if (int rc = open_store(o, c); rc >= 0) return rc;
    char* out = nullptr;
    size_t len = 0;
    acme_error* err = nullptr;
    acme_status s = acme_ctx_status(c.ctx, f, ACME_STATUS_ALL, &out, &len, &err);
    if (s != ACME_OK) return report(s, err, "status");
    std::fwrite(out, 1, len, stdout);
    acme_free(out);
    return kExitOk;
}

int cmd_account(const Options& o) {
    if (o.subcommand != "show" && o.subcommand != "rollover")
        return usage_error("account: expected 'show' or 'rollover'");
    if (o.cas.empty()) return usage_error("--ca URL is required");
    Identity id;
    if (!pick_identity(o, id)) return kExitUsage;
    Context c;
    if (int rc = open_store(o, c); rc >= 0) return rc;
    acme_error* err = nullptr;
    acme_status st = acme_ctx_prepare(c.ctx, id.uid, id.gid, &err);
    if (st != ACME_OK) return report(st, err, "store");
    if (!drop_privileges(id)) return kExitFailed;
    Options copy = o;
    if (copy.domains.empty()) copy.domains.push_back("account.invalid");
    CertConfigHolder h(copy);
    if (o.subcommand == "show") {
        char* json = nullptr;
        st = acme_account_show(c.ctx, &h.cfg.account, o.create, &json, &err);
        if (st != ACME_OK) return report(st, err, "account");
        std::fputs(json, stdout);
        acme_free(json);
        return kExitOk;
    }
    if (o.key_types.size() > 1) return usage_error("rollover takes one --key-type");
    st = acme_account_key_rollover(c.ctx, &h.cfg.account,
                                   o.key_types.empty() ? nullptr : o.key_types[0].c_str(), &err);
    if (st != ACME_OK) return report(st, err, "account rollover");
    std::printf("account key rolled over\n");
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? kExitUsage : kExitOk;
    }
    if (!std::strcmp(argv[1], "version") || !std::strcmp(argv[1], "--version")) {
        std::printf("acmectl %s (ABI %u)\n", acme_version(), acme_abi_version());
        return kExitOk;
    }
    if (acme_abi_version() != ACME_ABI_VERSION) {
        std::fprintf(stderr, "%s: built for ABI %d, library has %u\n", g_prog, ACME_ABI_VERSION,
                     acme_abi_version());
        return kExitFailed;
    }
    Options o;
    o.command = argv[1];
    // getopt_long permutes; parse everything after the command.
    optind = 2;
    if (int rc = parse_options(argc, argv, o); rc >= 0) return rc;

    const char* help = nullptr;
    if (o.command == "issue" || o.command == "renew") help = kIssueHelp;
    else if (o.command == "revoke") help = kRevokeHelp;
    else if (o.command == "status") help = kStatusHelp;
    else if (o.command == "account") help = kAccountHelp;
    else return usage_error("unknown command '" + o.command + "'");
    if (o.help) {
        std::fputs(help, stdout);
        return kExitOk;
    }

    if (int rc = load_eab_key(o); rc >= 0) return rc;  // before dropping privileges

    acme_log_level level = g_verbosity < 0    ? ACME_LOG_ERROR
                           : g_verbosity == 0 ? ACME_LOG_NOTICE
                           : g_verbosity == 1 ? ACME_LOG_INFO
                                              : ACME_LOG_DEBUG;
    acme_log_set(log_to_stderr, nullptr, level);

    if (o.command == "issue") return cmd_issue(o, false);
    if (o.command == "renew") return cmd_issue(o, true);
    if (o.command == "revoke") return cmd_revoke(o);
    if (o.command == "status") return cmd_status(o);
    return cmd_account(o);
}
