// Link header parsing (RFC 8288) and HttpResponse header access.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/transport.h"

namespace acme {
namespace {

using Links = std::vector<std::string>;
const std::string kBase = "https://ca.example:14000/acme/cert/abc";

TEST(LinkHeader, QuotedAndUnquotedRel) {
    EXPECT_EQ(
        parse_link_header({"<https://ca.example/alt/1>;rel=\"alternate\""}, "alternate", kBase),
        Links{"https://ca.example/alt/1"});
    EXPECT_EQ(parse_link_header({"<https://ca.example/alt/1>; rel=alternate"}, "alternate", kBase),
              Links{"https://ca.example/alt/1"});
    EXPECT_EQ(
        parse_link_header({"<https://ca.example/alt/1> ; REL = \"Alternate\""}, "alternate", kBase),
        Links{"https://ca.example/alt/1"});
}

TEST(LinkHeader, SeveralLinksInOneValueAndSeveralValues) {
    Links values = {
        "<https://ca.example/dir>;rel=\"index\", <https://ca.example/alt/1>;rel=\"alternate\","
        "<https://ca.example/alt/2>;rel=alternate",
        "<https://ca.example/alt/3>;rel=\"alternate\"",
    };
    EXPECT_EQ(parse_link_header(values, "alternate", kBase),
              (Links{"https://ca.example/alt/1", "https://ca.example/alt/2",
                     "https://ca.example/alt/3"}));
    EXPECT_EQ(parse_link_header(values, "index", kBase), Links{"https://ca.example/dir"});
    EXPECT_TRUE(parse_link_header(values, "up", kBase).empty());
}

TEST(LinkHeader, SpaceSeparatedRelValues) {
    EXPECT_EQ(parse_link_header({"<https://x.example/a>; rel=\"up alternate  next\""}, "alternate",
                                kBase),
              Links{"https://x.example/a"});
    EXPECT_EQ(parse_link_header({"<https://x.example/a>; rel=\"up alternate\""}, "up", kBase),
              Links{"https://x.example/a"});
    // A relation type is a whole word, not a substring.
    EXPECT_TRUE(parse_link_header({"<https://x.example/a>; rel=\"alternates\""}, "alternate", kBase)
                    .empty());
}

TEST(LinkHeader, OnlyTheFirstRelCounts) {
    EXPECT_TRUE(
        parse_link_header({"<https://x.example/a>; rel=up; rel=alternate"}, "alternate", kBase)
            .empty());
}

TEST(LinkHeader, OtherParametersAndCommasInsideQuotesAndTargets) {
    Links values = {
        "<https://x.example/a,b>; title=\"one, two; three\"; rel=\"alternate\"; "
        "type=application/pem-certificate-chain, <https://x.example/c>; rel=index"};
    EXPECT_EQ(parse_link_header(values, "alternate", kBase), Links{"https://x.example/a,b"});
    EXPECT_EQ(parse_link_header(values, "index", kBase), Links{"https://x.example/c"});
    // A quoted string with an escaped quote.
    EXPECT_EQ(parse_link_header({"<https://x.example/q>; title=\"a\\\"b, c\"; rel=alternate"},
                                "alternate", kBase),
              Links{"https://x.example/q"});
}

TEST(LinkHeader, ResolvesRelativeTargets) {
    // Absolute path: scheme and authority of the base.
    EXPECT_EQ(parse_link_header({"</acme/cert/abc/1>;rel=\"alternate\""}, "alternate", kBase),
              Links{"https://ca.example:14000/acme/cert/abc/1"});
    // Relative path: replaces the last segment of the base path.
    EXPECT_EQ(parse_link_header({"<def>;rel=\"alternate\""}, "alternate", kBase),
              Links{"https://ca.example:14000/acme/cert/def"});
    EXPECT_EQ(parse_link_header({"<../dir>;rel=\"index\""}, "index", kBase),
              Links{"https://ca.example:14000/acme/dir"});
    EXPECT_EQ(parse_link_header({"<./x?y=1>;rel=\"index\""}, "index", kBase),
              Links{"https://ca.example:14000/acme/cert/x?y=1"});
    // Network-path reference keeps the base's scheme.
    EXPECT_EQ(parse_link_header({"<//other.example/p>;rel=\"index\""}, "index", kBase),
              Links{"https://other.example/p"});
    // A base without a path.
    EXPECT_EQ(parse_link_header({"<p>;rel=\"index\""}, "index", "https://ca.example"),
              Links{"https://ca.example/p"});
    // A query on the base does not leak into a resolved path.
    EXPECT_EQ(parse_link_header({"</p>;rel=\"index\""}, "index", "https://ca.example/a/b?q=1"),
              Links{"https://ca.example/p"});
    // Absolute targets are kept as they are.
    EXPECT_EQ(parse_link_header({"<http://plain.example/z>;rel=\"index\""}, "index", kBase),
              Links{"http://plain.example/z"});
}

TEST(LinkHeader, MalformedInputIsSkipped) {
    EXPECT_TRUE(parse_link_header({""}, "alternate", kBase).empty());
    EXPECT_TRUE(parse_link_header({"garbage"}, "alternate", kBase).empty());
    EXPECT_TRUE(
        parse_link_header({"<https://x.example/unterminated;rel=alternate"}, "alternate", kBase)
            .empty());
    EXPECT_TRUE(parse_link_header({"<https://x.example/a> junk; rel=alternate"}, "alternate", kBase)
                    .empty());
    // A malformed link does not hide a good one after it.
    EXPECT_EQ(parse_link_header({"junk, <https://x.example/b>;rel=alternate"}, "alternate", kBase),
              Links{"https://x.example/b"});
    EXPECT_EQ(parse_link_header({"<https://x.example/a> junk, <https://x.example/b>;rel=alternate"},
                                "alternate", kBase),
              Links{"https://x.example/b"});
    // A link without rel is not a match.
    EXPECT_TRUE(parse_link_header({"<https://x.example/a>"}, "alternate", kBase).empty());
    EXPECT_TRUE(parse_link_header({"<https://x.example/a>; rel"}, "alternate", kBase).empty());
}

TEST(HttpResponse, HeaderLookup) {
    HttpResponse r;
    r.headers = {{"replay-nonce", "n1"}, {"link", "a"}, {"link", "b"}, {"location", "/x"}};
    EXPECT_EQ(r.header("replay-nonce"), "n1");
    EXPECT_EQ(r.header("Replay-Nonce"), "n1");
    EXPECT_EQ(r.header("link"), "a");
    EXPECT_EQ(r.headers_all("link"), (Links{"a", "b"}));
    EXPECT_EQ(r.header("retry-after"), "");
    EXPECT_TRUE(r.headers_all("retry-after").empty());
}

}  // namespace
}  // namespace acme
