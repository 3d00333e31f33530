// engine/engine.cpp pieces that need no CA: the reverse-DNS SNI of RFC 8738 section 6.
#include "engine/engine.h"

#include <gtest/gtest.h>

namespace acme::engine {
namespace {

TEST(ReverseDns, Ipv4) {
    EXPECT_EQ(reverse_dns_to_ip("1.2.0.192.in-addr.arpa"), "192.0.2.1");
    EXPECT_EQ(reverse_dns_to_ip("1.0.0.127.IN-ADDR.ARPA."), "127.0.0.1");
}

TEST(ReverseDns, Ipv6) {
    // 2001:db8::1
    EXPECT_EQ(reverse_dns_to_ip("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                                "ip6.arpa"),
              "2001:db8::1");
}

TEST(ReverseDns, OtherNamesUnchanged) {
    EXPECT_EQ(reverse_dns_to_ip("example.org"), "example.org");
    EXPECT_EQ(reverse_dns_to_ip("2.0.192.in-addr.arpa"), "2.0.192.in-addr.arpa");  // 3 labels
    EXPECT_EQ(reverse_dns_to_ip("1.2.0.999.in-addr.arpa"), "1.2.0.999.in-addr.arpa");
    EXPECT_EQ(reverse_dns_to_ip("x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                                "ip6.arpa"),
              "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    EXPECT_EQ(reverse_dns_to_ip(".in-addr.arpa"), ".in-addr.arpa");
}

}  // namespace
}  // namespace acme::engine
