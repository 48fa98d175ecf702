#include "config/values.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_seed.hpp"

#include <cstdint>
#include <iostream>
#include <random>

namespace nca::config {
namespace {

TEST(Values, BoolAcceptsTheUsualSpellings) {
  for (const char* t : {"true", "1", "yes", "on", "TRUE", " On "}) {
    ASSERT_TRUE(parse_bool(t).ok()) << t;
    EXPECT_TRUE(*parse_bool(t)) << t;
  }
  for (const char* t : {"false", "0", "no", "off", "False"}) {
    ASSERT_TRUE(parse_bool(t).ok()) << t;
    EXPECT_FALSE(*parse_bool(t)) << t;
  }
  for (const char* t : {"", "2", "yess", "t", "enable"}) {
    EXPECT_FALSE(parse_bool(t).ok()) << t;
    EXPECT_EQ(parse_bool(t).code(), ErrorCode::invalid_argument);
  }
}

TEST(Values, IntParsesAndRejects) {
  EXPECT_EQ(*parse_int("42"), 42);
  EXPECT_EQ(*parse_int("-7"), -7);
  EXPECT_EQ(*parse_int("+7"), 7);
  EXPECT_EQ(*parse_int(" 10 "), 10);
  for (const char* t : {"", "abc", "1.5", "12x", "1e3", "0x10", "99999999999999999999"}) {
    EXPECT_FALSE(parse_int(t).ok()) << t;
  }
}

TEST(Values, DoubleParsesAndRejects) {
  EXPECT_DOUBLE_EQ(*parse_double("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_double("40"), 40);
  EXPECT_DOUBLE_EQ(*parse_double("1e-3"), 0.001);
  EXPECT_DOUBLE_EQ(*parse_double("-2.5"), -2.5);
  for (const char* t : {"", "abc", "nan", "inf", "-inf", "1.5.2", "0,5", "1e999"}) {
    EXPECT_FALSE(parse_double(t).ok()) << t;
  }
}

TEST(Values, DurationUnits) {
  EXPECT_EQ(*parse_duration("500ms"), 500'000);
  EXPECT_EQ(*parse_duration("30s"), 30 * kUsPerSecond);
  EXPECT_EQ(*parse_duration("5m"), 300 * kUsPerSecond);
  EXPECT_EQ(*parse_duration("3h"), 3 * kUsPerHour);
  EXPECT_EQ(*parse_duration("14d"), 14 * kUsPerDay);
  EXPECT_EQ(*parse_duration("250us"), 250);
  EXPECT_EQ(*parse_duration("45"), 45 * kUsPerSecond);  // plain seconds
  EXPECT_EQ(*parse_duration("0"), 0);
  EXPECT_EQ(*parse_duration("1.5s"), 1'500'000);
  EXPECT_EQ(*parse_duration("1h30m"), 90 * 60 * kUsPerSecond);
  EXPECT_EQ(*parse_duration("2 h"), 2 * kUsPerHour);
  EXPECT_EQ(*parse_duration("3H"), 3 * kUsPerHour);
}

TEST(Values, DurationRejects) {
  for (const char* t : {"", "abc", "-5s", "5x", "h", "5 s s", "1.2.3s", "3hours", "99999999999d"}) {
    Result<TimeUs> r = parse_duration(t);
    EXPECT_FALSE(r.ok()) << t;
  }
  EXPECT_NE(parse_duration("abc").error().message.find("500ms, 30s, 5m, 3h, 14d"),
            std::string::npos);
}

TEST(Values, SizeUnits) {
  EXPECT_EQ(*parse_size("64KiB"), 64u << 10);
  EXPECT_EQ(*parse_size("8MiB"), 8u << 20);
  EXPECT_EQ(*parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(*parse_size("2TiB"), 2ull << 40);
  EXPECT_EQ(*parse_size("1000"), 1000u);
  EXPECT_EQ(*parse_size("12B"), 12u);
  EXPECT_EQ(*parse_size("64k"), 64u << 10);
  EXPECT_EQ(*parse_size("8mib"), 8u << 20);
  EXPECT_EQ(*parse_size("1KB"), 1000u);
  EXPECT_EQ(*parse_size("2GB"), 2'000'000'000u);
  EXPECT_EQ(*parse_size("1.5KiB"), 1536u);
}

TEST(Values, SizeRejects) {
  for (const char* t : {"", "abc", "-1", "8XB", "1.5", "MiB", "99999999999TiB"}) {
    EXPECT_FALSE(parse_size(t).ok()) << t;
  }
}

TEST(Values, ListSplitsTrimsAndDropsEmpties) {
  EXPECT_EQ(parse_list(""), std::vector<std::string>{});
  EXPECT_EQ(parse_list("a"), std::vector<std::string>{"a"});
  EXPECT_EQ(parse_list(" a , b,,c "), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Values, FormatsAreCanonicalAndParseBack) {
  EXPECT_EQ(format_duration(0), "0");
  EXPECT_EQ(format_duration(3 * kUsPerHour), "3h");
  EXPECT_EQ(format_duration(14 * kUsPerDay), "14d");
  EXPECT_EQ(format_duration(500'000), "500ms");
  EXPECT_EQ(format_duration(90 * kUsPerSecond), "90s");
  EXPECT_EQ(format_duration(1234567), "1234567us");
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(8u << 20), "8MiB");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_double(0.05), "0.05");
  EXPECT_EQ(format_double(40), "40");
  EXPECT_EQ(format_list({"a:1", "b:2"}), "a:1, b:2");
}

TEST(Values, RandomValuesRoundTripThroughTheirCanonicalText) {
  const uint64_t seed = nca::testing::test_seed("values round-trip");
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    TimeUs us = static_cast<TimeUs>(rng() % (400LL * kUsPerDay));
    if (i % 3 == 0) us -= us % kUsPerSecond;
    ASSERT_EQ(*parse_duration(format_duration(us)), us) << format_duration(us);
    uint64_t bytes = rng() % (1ull << 42);
    if (i % 3 == 0) bytes -= bytes % 1024;
    ASSERT_EQ(*parse_size(format_size(bytes)), bytes) << format_size(bytes);
    double d = std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    ASSERT_EQ(*parse_double(format_double(d)), d) << format_double(d);
  }
}

TEST(Values, HostPort) {
  for (const char* t : {"127.0.0.1:7420", "localhost:0", "node-1.example:65535", "[::1]:80"}) {
    EXPECT_TRUE(check_host_port(t).ok()) << t;
  }
  for (const char* t : {"", "localhost", ":80", "host:", "host:65536", "host:-1", "::1:80",
                        "[::1]80", "ho st:80", "host:8o"}) {
    EXPECT_FALSE(check_host_port(t).ok()) << t;
  }
}

}  // namespace
}  // namespace nca::config
