#include "config/ini.hpp"

#include <gtest/gtest.h>

#include "tests/config/test_support.hpp"

namespace nca::config {
namespace {

std::vector<IniEntry> parse_ok(const std::string& text) {
  Result<std::vector<IniEntry>> r = parse_ini(text, "t.ini");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<IniEntry>{};
}

std::string parse_error(const std::string& text) {
  Result<std::vector<IniEntry>> r = parse_ini(text, "t.ini");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "<parsed>" : r.error().message;
}

TEST(Ini, SectionsCommentsAndLineNumbers) {
  auto entries = parse_ok(
      "; leading comment\n"
      "# another\n"
      "node.id = top\n"
      "\n"
      "[memory]   ; trailing comment\n"
      "  stm-ttl = 3h ; three hours\n"
      "mtm-ttl=14d# no space before '#': part of the value\n"
      "[ http ]\n"
      "listen = 0.0.0.0:80 # comment\n"
      "empty =\n");
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].key, "node.id");
  EXPECT_EQ(entries[0].value, "top");
  EXPECT_EQ(entries[0].line, 3);
  EXPECT_EQ(entries[1].key, "memory.stm-ttl");
  EXPECT_EQ(entries[1].value, "3h");
  EXPECT_EQ(entries[1].line, 6);
  EXPECT_EQ(entries[2].value, "14d# no space before '#': part of the value");
  EXPECT_EQ(entries[3].key, "http.listen");
  EXPECT_EQ(entries[3].value, "0.0.0.0:80");
  EXPECT_EQ(entries[4].key, "http.empty");
  EXPECT_EQ(entries[4].value, "");
}

TEST(Ini, QuotedValuesKeepEverything) {
  auto entries = parse_ok(
      "[s]\n"
      "a = \" x ; y # z \"  ; comment\n"
      "b = \"with \\\"quotes\\\" and \\\\ backslash\"\n"
      "c = \"\"\n");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].value, " x ; y # z ");
  EXPECT_EQ(entries[1].value, "with \"quotes\" and \\ backslash");
  EXPECT_EQ(entries[2].value, "");
  for (const std::string& v : {std::string(""), std::string(" a "), std::string("a;b"),
                               std::string("#x"), std::string("q\"\\"), std::string("plain")}) {
    auto back = parse_ok("k = " + ini_quote(v) + "\n");
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].value, v);
  }
}

TEST(Ini, CrLfAndByteOrderMark) {
  auto entries = parse_ok("\xEF\xBB\xBF[memory]\r\ndim = 128\r\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "memory.dim");
  EXPECT_EQ(entries[0].value, "128");
}

TEST(Ini, SyntaxErrorsNameFileAndLine) {
  EXPECT_EQ(parse_error("[memory]\njust words\n"),
            "config: t.ini line 2: expected \"key = value\" or \"[section]\", got \"just words\"");
  EXPECT_EQ(parse_error("[memory\n"), "config: t.ini line 1: section header without ']'");
  EXPECT_EQ(parse_error("[]\n"), "config: t.ini line 1: empty section name");
  EXPECT_EQ(parse_error("\n= 3\n"), "config: t.ini line 2: a key is missing before '='");
  EXPECT_EQ(parse_error("bad key = 3\n"), "config: t.ini line 1: bad key name \"bad key\"");
  EXPECT_EQ(parse_error("k = \"open\n"),
            "config: t.ini line 1: unterminated quoted value (a closing \" is missing)");
  EXPECT_EQ(parse_error("k = \"a\" b\n"),
            "config: t.ini line 1: unexpected text after the closing quote");
  EXPECT_EQ(parse_error("[a] b\n"),
            "config: t.ini line 1: unexpected text after the section header");
  EXPECT_EQ(parse_error(std::string("k = a\0b\n", 8)),
            "config: t.ini line 1: contains a NUL byte (not a text file?)");
}

TEST(Ini, ReadsFiles) {
  test_support::TempDir dir;
  std::string path = dir.write("x.ini", "[a]\nb = c\n");
  Result<std::vector<IniEntry>> r = read_ini_file(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].key, "a.b");
  EXPECT_FALSE(read_ini_file("").ok());
  EXPECT_FALSE(read_ini_file(dir.path() + "/none.ini").ok());
  EXPECT_FALSE(read_ini_file(dir.path()).ok());
}

}  // namespace
}  // namespace nca::config
