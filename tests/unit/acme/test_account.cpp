// acme/account: one account per CA, created once and reused; lookups before registration so an
// EAB key is never spent twice; terms of service; key rollover through account.key.next.
#include "acme/account.h"

#include <gtest/gtest.h>

#include "acme/problem.h"
#include "store/layout.h"
#include "support/fake_ca.h"
#include "support/fakes.h"
#include "util/base64.h"

namespace acme::proto {
namespace {

using testing::FakeCA;
using testing::FakeClock;
using testing::MemStore;

struct AccountTest : ::testing::Test {
    AccountTest() : ca_id(layout::ca_id(ca.directory_url())) {}
    std::unique_ptr<Client> new_client() {
        return std::make_unique<Client>(ca, ca.directory_url(), clock);
    }
    size_t lookups() const {
        size_t n = 0;
        for (const auto& p : ca.posts)
            n += p.kind == "new-acct" && p.payload_json.boolean("onlyReturnExisting");
        return n;
    }
    size_t registrations() const { return ca.count("new-acct") - lookups(); }
    std::string key_name() const { return layout::account_key(ca_id); }
    std::string json_name() const { return layout::account_json(ca_id); }
    std::string next_name() const { return layout::account_key(ca_id) + ".next"; }

    FakeCA ca;
    FakeClock clock;
    MemStore store;
    const std::string ca_id;
    AccountSettings settings;
};

TEST_F(AccountTest, CreatedOnceThenReused) {
    settings.contacts = {"mailto:ops@example.org"};
    settings.agree_tos = true;
    // The key must be in the store before the CA sees it.
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.url.find("/new-acct") != std::string::npos) {
            EXPECT_TRUE(store.has(key_name())) << "account key not saved before newAccount";
        }
        return std::nullopt;
    };
    auto c1 = new_client();
    EXPECT_TRUE(ensure_account(*c1, store, settings));
    EXPECT_EQ(registrations(), 1u);
    EXPECT_EQ(lookups(), 1u);  // looked up first (unknown key), then registered
    ASSERT_EQ(ca.accounts.size(), 1u);
    EXPECT_EQ(c1->account_url(), ca.accounts[0].url);
    EXPECT_EQ(ca.accounts[0].contact.at(0).as_string(), "mailto:ops@example.org");
    EXPECT_EQ(store.sensitivity(key_name()), Sensitivity::secret);
    Json saved = Json::parse(*store.load(json_name()));
    EXPECT_EQ(saved.str("url"), ca.accounts[0].url);
    EXPECT_EQ(saved.str("ca"), ca.directory_url());
    EXPECT_EQ(crypto::jwk_thumbprint(crypto::private_key_from_pem(*store.load(key_name())).get()),
              crypto::jwk_thumbprint(ca.accounts[0].key.get()));

    // A later run (new client, same store): no request to newAccount at all.
    const size_t posts_before = ca.posts.size();
    auto c2 = new_client();
    EXPECT_FALSE(ensure_account(*c2, store, settings));
    EXPECT_EQ(ca.posts.size(), posts_before);
    EXPECT_EQ(c2->account_url(), ca.accounts[0].url);
    EXPECT_EQ(crypto::jwk_thumbprint(c2->account_key()),
              crypto::jwk_thumbprint(ca.accounts[0].key.get()));
    // And it signs as that account.
    EXPECT_EQ(c2->fetch_account().status, "valid");
    EXPECT_EQ(ca.accounts.size(), 1u);
}

TEST_F(AccountTest, KeyTypeSetting) {
    settings.key_type = crypto::KeyType::ecdsa_p384;
    auto c = new_client();
    ensure_account(*c, store, settings);
    EXPECT_EQ(crypto::key_type_of(c->account_key()), crypto::KeyType::ecdsa_p384);
}

TEST_F(AccountTest, StoredKeyWithoutAccountJsonIsLookedUpWithoutSpendingEab) {
    ca.eab_required = true;
    ca.eab_keys["kid-1"] = base64url_encode("a single-use HMAC key, 32 bytes!");
    settings.eab_kid = "kid-1";
    settings.eab_hmac_key = ca.eab_keys["kid-1"];
    // An EAB account lives under the CA's id and its key id.
    const std::string json = layout::account_json(account_id(store, ca.directory_url(), settings));
    auto c1 = new_client();
    ensure_account(*c1, store, settings);
    ASSERT_EQ(ca.used_eab_kids.size(), 1u);
    EXPECT_EQ(ca.accounts.at(0).eab_kid, "kid-1");
    // A crash after the CA created the account but before account.json was written.
    store.remove(json);
    const size_t regs = registrations();

    auto c2 = new_client();
    EXPECT_TRUE(ensure_account(*c2, store, settings));
    EXPECT_EQ(registrations(), regs);        // no second newAccount with EAB
    EXPECT_EQ(ca.used_eab_kids.size(), 1u);  // the EAB key was spent once
    EXPECT_EQ(ca.accounts.size(), 1u);
    EXPECT_EQ(c2->account_url(), ca.accounts[0].url);
    const FakeCA::Post* last = ca.last("new-acct");
    ASSERT_NE(last, nullptr);
    EXPECT_TRUE(last->payload_json.boolean("onlyReturnExisting"));
    EXPECT_FALSE(last->payload_json.has("externalAccountBinding"));
    EXPECT_EQ(Json::parse(*store.load(json)).str("url"), ca.accounts[0].url);
    // account.json names the EAB kid, never the HMAC key.
    EXPECT_EQ(store.load(json)->find(settings.eab_hmac_key), std::string::npos);
    EXPECT_EQ(Json::parse(*store.load(json)).str("eab_kid"), "kid-1");
}

TEST_F(AccountTest, TermsNotAgreedIsPermanentAndNamesTheSetting) {
    ca.terms_of_service = "https://ca.test/tos.pdf";
    auto c = new_client();
    try {
        ensure_account(*c, store, settings);
        FAIL() << "registered without agreeing";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
        EXPECT_TRUE(e.permanent());
        const std::string msg = e.what();
        EXPECT_NE(msg.find("acme_agree_tos"), std::string::npos) << msg;
        EXPECT_NE(msg.find("ACMEAgreeTOS"), std::string::npos) << msg;
        EXPECT_NE(msg.find("--agree-tos"), std::string::npos) << msg;
        EXPECT_NE(msg.find("ACMEAgreeTOS"), std::string::npos) << msg;
        EXPECT_NE(msg.find("https://ca.test/tos.pdf"), std::string::npos) << msg;
    }
    EXPECT_EQ(registrations(), 0u);
    EXPECT_TRUE(ca.accounts.empty());
    EXPECT_FALSE(store.has(json_name()));
    // Agreeing fixes it; the key made before is reused.
    const std::string key_before = *store.load(key_name());
    settings.agree_tos = true;
    EXPECT_TRUE(ensure_account(*c, store, settings));
    EXPECT_EQ(*store.load(key_name()), key_before);
    EXPECT_TRUE(ca.posts.back().payload_json.boolean("termsOfServiceAgreed"));
}

TEST_F(AccountTest, MissingEabIsPermanentAndNamesTheSetting) {
    ca.eab_required = true;
    auto c = new_client();
    try {
        ensure_account(*c, store, settings);
        FAIL() << "registered without EAB";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
        EXPECT_TRUE(e.permanent());
        EXPECT_NE(std::string(e.what()).find("acme_eab"), std::string::npos) << e.what();
    }
    EXPECT_EQ(registrations(), 0u);
}

TEST_F(AccountTest, RolloverWritesNextKeyFirstAndPromotesIt) {
    auto c = new_client();
    ensure_account(*c, store, settings);
    const std::string old_key = *store.load(key_name());
    bool seen = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.url.find("/key-change") != std::string::npos) {
            seen = true;
            EXPECT_TRUE(store.has(next_name())) << "account.key.next not written before keyChange";
            EXPECT_EQ(*store.load(key_name()), old_key);
        }
        return std::nullopt;
    };
    store.ops.clear();
    rollover_account_key(*c, store, settings, crypto::KeyType::ecdsa_p384);
    EXPECT_TRUE(seen);
    EXPECT_EQ(store.ops, (std::vector<std::string>{"save " + next_name(), "save " + key_name(),
                                                   "remove " + next_name()}));
    const std::string new_key = *store.load(key_name());
    EXPECT_NE(new_key, old_key);
    crypto::PKey k = crypto::private_key_from_pem(new_key);
    EXPECT_EQ(crypto::key_type_of(k.get()), crypto::KeyType::ecdsa_p384);
    EXPECT_EQ(crypto::jwk_thumbprint(k.get()), crypto::jwk_thumbprint(ca.accounts.at(0).key.get()));
    EXPECT_EQ(store.sensitivity(key_name()), Sensitivity::secret);
    // A new process signs with the new key.
    auto c2 = new_client();
    EXPECT_FALSE(ensure_account(*c2, store, settings));
    EXPECT_EQ(c2->fetch_account().status, "valid");
}

TEST_F(AccountTest, RefusedRolloverKeepsTheOldKey) {
    auto c = new_client();
    ensure_account(*c, store, settings);
    const std::string old_key = *store.load(key_name());
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.url.find("/key-change") != std::string::npos)
            return testing::problem_response(409, "conflict", "key in use",
                                             {{"replay-nonce", "zz"}});
        return std::nullopt;
    };
    EXPECT_THROW(rollover_account_key(*c, store, settings, crypto::KeyType::ecdsa_p256), Error);
    EXPECT_EQ(*store.load(key_name()), old_key);
    EXPECT_FALSE(store.has(next_name()));
}

TEST_F(AccountTest, InterruptedRolloverIsCompletedOnTheNextLoad) {
    auto c = new_client();
    ensure_account(*c, store, settings);
    // The CA applies the key change, but its answer is lost.
    bool lost = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!lost && r.url.find("/key-change") != std::string::npos) {
            lost = true;
            ca.perform(r);
            throw Error(Status::network, "connection reset after the CA answered");
        }
        return std::nullopt;
    };
    EXPECT_THROW(rollover_account_key(*c, store, settings, crypto::KeyType::ecdsa_p256), Error);
    ASSERT_TRUE(lost);
    ASSERT_TRUE(store.has(next_name()));
    const std::string next = *store.load(next_name());

    auto c2 = new_client();
    EXPECT_FALSE(ensure_account(*c2, store, settings));
    EXPECT_EQ(*store.load(key_name()), next);
    EXPECT_FALSE(store.has(next_name()));
    EXPECT_EQ(crypto::jwk_thumbprint(c2->account_key()),
              crypto::jwk_thumbprint(ca.accounts.at(0).key.get()));
}

TEST_F(AccountTest, AccountInfo) {
    settings.contacts = {"mailto:ops@example.org"};
    auto c = new_client();
    EXPECT_THROW(account_info(*c, store, settings, false), Error);
    ensure_account(*c, store, settings);
    Json info = account_info(*c, store, settings, true);
    EXPECT_EQ(info.str("url"), ca.accounts.at(0).url);
    EXPECT_EQ(info.str("ca"), ca.directory_url());
    EXPECT_EQ(info.str("status"), "valid");
    EXPECT_EQ(info.str("key_type"), "ecdsa-p256");
    EXPECT_EQ(info.str("thumbprint"), crypto::jwk_thumbprint(ca.accounts[0].key.get()));
    EXPECT_EQ(info.strings("contacts"), settings.contacts);
    EXPECT_FALSE(info.str("created").empty());
}

TEST_F(AccountTest, ChangedContactsReachTheCaOnce) {
    settings.contacts = {"mailto:old@example.org"};
    auto c = new_client();
    ensure_account(*c, store, settings);
    settings.contacts = {"mailto:new@example.org", "mailto:ops@example.org"};
    auto c2 = new_client();
    EXPECT_FALSE(ensure_account(*c2, store, settings));
    Json live = account_info(*c2, store, settings, true);
    EXPECT_EQ(live.strings("contacts"), settings.contacts) << "as the CA reports it";
    EXPECT_EQ(Json::parse(*store.load(json_name())).strings("contacts"), settings.contacts);
    // Unchanged: no request to the CA beyond loading.
    const size_t before = ca.requests.size();
    auto c3 = new_client();
    EXPECT_FALSE(ensure_account(*c3, store, settings));
    EXPECT_EQ(ca.requests.size(), before);
    // No contacts configured: the account keeps the ones it has.
    settings.contacts.clear();
    auto c4 = new_client();
    EXPECT_FALSE(ensure_account(*c4, store, settings));
    EXPECT_EQ(ca.requests.size(), before);
}

TEST_F(AccountTest, EachEabKeyIdHasAnAccountOfItsOwn) {
    ca.eab_keys = {{"kid-a", "c2VjcmV0LWE"}, {"kid-b", "c2VjcmV0LWI"}};
    settings.eab_kid = "kid-a";
    settings.eab_hmac_key = "c2VjcmV0LWE";
    settings.eab_alg = "HS256";
    auto a = new_client();
    EXPECT_TRUE(ensure_account(*a, store, settings));
    AccountSettings other = settings;
    other.eab_kid = "kid-b";
    other.eab_hmac_key = "c2VjcmV0LWI";
    auto b = new_client();
    EXPECT_TRUE(ensure_account(*b, store, other)) << "kid-b is not merged into kid-a's account";
    EXPECT_NE(a->account_url(), b->account_url());
    EXPECT_NE(account_id(store, ca.directory_url(), settings),
              account_id(store, ca.directory_url(), other));
    // Each is found again, by its own key id.
    auto a2 = new_client();
    EXPECT_FALSE(ensure_account(*a2, store, settings));
    EXPECT_EQ(a2->account_url(), a->account_url());
}

TEST_F(AccountTest, AnEabAccountOfAnOlderStoreIsFoundUnderTheCaId) {
    ca.eab_keys = {{"kid-a", "c2VjcmV0LWE"}};
    settings.eab_kid = "kid-a";
    settings.eab_hmac_key = "c2VjcmV0LWE";
    settings.eab_alg = "HS256";
    auto c = new_client();
    ensure_account(*c, store, settings);
    // Move it where stores made before per-key-id accounts kept it.
    const std::string id = account_id(store, ca.directory_url(), settings);
    const std::string legacy = layout::ca_id(ca.directory_url());
    ASSERT_NE(id, legacy);
    store.save(layout::account_json(legacy), *store.load(layout::account_json(id)),
               Sensitivity::public_data);
    store.save(layout::account_key(legacy), *store.load(layout::account_key(id)),
               Sensitivity::secret);
    store.remove(layout::account_json(id));
    store.remove(layout::account_key(id));
    EXPECT_EQ(account_id(store, ca.directory_url(), settings), legacy);
    auto c2 = new_client();
    EXPECT_FALSE(ensure_account(*c2, store, settings)) << "the single-use key is not spent again";
    EXPECT_EQ(ca.accounts.size(), 1u);
}

TEST_F(AccountTest, ReregisterAfterTheCaLostTheAccount) {
    auto c = new_client();
    ensure_account(*c, store, settings);
    ca.accounts.clear();
    try {
        c->fetch_account();
        FAIL() << "the CA still knows the account";
    } catch (const Error& e) {
        EXPECT_TRUE(is_account_missing(e));
    }
    reregister_account(*c, store, settings);
    ASSERT_EQ(ca.accounts.size(), 1u);
    EXPECT_EQ(Json::parse(*store.load(json_name())).str("url"), ca.accounts[0].url);
    EXPECT_EQ(c->account_url(), ca.accounts[0].url);
}

}  // namespace
}  // namespace acme::proto
