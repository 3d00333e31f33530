#include "json/json.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace acme {
namespace {

TEST(Json, ParsesAndReadsMembers) {
    Json j = Json::parse(R"({"s": "x", "i": 42, "b": true, "a": ["p", 1, "q"], "o": {"k": "v"}})");
    EXPECT_EQ(j.str("s"), "x");
    EXPECT_EQ(j.integer("i"), 42);
    EXPECT_TRUE(j.boolean("b"));
    EXPECT_EQ(j.strings("a"), (std::vector<std::string>{"p", "q"}));  // non-strings skipped
    EXPECT_EQ(j.get("o").str("k"), "v");
    EXPECT_EQ(j.get("a").size(), 3u);
    EXPECT_EQ(j.get("a").at(1).as_integer(), 1);
}

TEST(Json, MissingOrMistypedMembersGiveDefaults) {
    Json j = Json::parse(R"({"s": 1, "i": "1"})");
    EXPECT_EQ(j.str("s", "dflt"), "dflt");
    EXPECT_EQ(j.integer("i", 7), 7);
    EXPECT_TRUE(j.get("missing").is_null());
    EXPECT_TRUE(j.get("s").get("deeper").is_null());  // get() on a non-object
    EXPECT_EQ(j.get("a").at(3).as_string(), "");
}

TEST(Json, RequireNamesTheMember) {
    Json j = Json::parse(R"({"status": 5})");
    try {
        j.require_str("status", "order");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::protocol);
        EXPECT_STREQ(e.what(), "order: 'status' is not a string");
    }
    try {
        j.require_array("authorizations", "order");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "order: missing array 'authorizations'");
    }
}

TEST(Json, MalformedInputSaysWhere) {
    try {
        Json::parse("{\"a\": 1,\n \"b\": }");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::protocol);
        EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Json::parse(R"({"a": 1, "a": 2})"), Error);  // duplicate keys refused
    EXPECT_THROW(Json::parse(std::string(100, ' '), 10), Error);  // size cap
}

TEST(Json, DumpIsCompactAndSorted) {
    Json j = Json::object();
    j.set("z", 1).set("a", "x").set_bool("m", false);
    Json arr = Json::array();
    arr.append("e").append(Json::integer(2));
    j.set("arr", arr);
    EXPECT_EQ(j.dump(), R"({"a":"x","arr":["e",2],"m":false,"z":1})");
    EXPECT_EQ(Json::parse(j.dump(Json::pretty)).dump(), j.dump());
}

TEST(Json, CopiesShareTheValue) {
    Json a = Json::object();
    Json b = a;
    b.set("k", "v");
    EXPECT_EQ(a.str("k"), "v");
    Json moved = std::move(b);
    EXPECT_EQ(moved.str("k"), "v");
    a.erase("k");
    EXPECT_FALSE(moved.has("k"));
}

TEST(Json, BuildersRefuseTheWrongKind) {
    Json arr = Json::array();
    EXPECT_THROW(arr.set("k", "v"), Error);
    Json obj = Json::object();
    EXPECT_THROW(obj.append("v"), Error);
}

}  // namespace
}  // namespace acme
