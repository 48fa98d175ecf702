// Dashboard files: lookup and content types.
#include "http/dashboard_assets.hpp"

#include <gtest/gtest.h>

namespace nca::http {
namespace {

const unsigned char kHtml[] = {'<', 'p', '>', 0};
const unsigned char kData[] = {1, 2, 3, 0};
const EmbeddedAsset kTable[] = {{"/index.html", kHtml, 3},
                                {"/blob.bin", kData, 3},
                                {"/logo.png", kData, 3},
                                {nullptr, nullptr, 0}};

TEST(DashboardAssets, ContentTypesByExtension) {
  EXPECT_STREQ(content_type_for("/index.html"), "text/html; charset=utf-8");
  EXPECT_STREQ(content_type_for("/app.js"), "text/javascript; charset=utf-8");
  EXPECT_STREQ(content_type_for("/style.css"), "text/css; charset=utf-8");
  EXPECT_STREQ(content_type_for("/icon.svg"), "image/svg+xml");
  EXPECT_STREQ(content_type_for("/logo.png"), "image/png");
  EXPECT_EQ(content_type_for("/notes.txt"), nullptr);
  EXPECT_EQ(content_type_for("/Makefile"), nullptr);
}

TEST(DashboardAssets, FindsOnlyListedFilesOfServedKinds) {
  auto html = find_asset("/index.html", kTable);
  ASSERT_TRUE(html.has_value());
  EXPECT_EQ(html->body, "<p>");
  EXPECT_STREQ(html->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(find_asset("/logo.png", kTable).has_value());
  EXPECT_FALSE(find_asset("/blob.bin", kTable).has_value()) << "not a served kind";
  EXPECT_FALSE(find_asset("/missing.html", kTable).has_value());
  EXPECT_FALSE(find_asset("index.html", kTable).has_value());
}

TEST(DashboardAssets, TheCompiledDashboardHasAnIndex) {
  auto index = find_asset("/index.html");
  ASSERT_TRUE(index.has_value()) << "http/dashboard/index.html is compiled in";
  EXPECT_NE(index->body.find("<"), std::string_view::npos);
}

}  // namespace
}  // namespace nca::http
