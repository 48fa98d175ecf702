// The route table: matching, precedence of literal segments, 404 and 405 decisions.
#include "http/route_table.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace nca::http {
namespace {

TEST(RouteTable, MatchesTemplatesAndExtractsParameters) {
  auto m = match_route("GET", "/v1/personas/ada/memories");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->op, Op::list_memories);
  EXPECT_EQ(m.template_path, "/v1/personas/{id}/memories");
  EXPECT_EQ(m.params.at("id"), "ada");

  m = match_route("POST", "/v1/personas/ada/memories/search");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->op, Op::search_memories);

  m = match_route("POST", "/v1/events/ev-1/nack");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->op, Op::nack_event);
  EXPECT_EQ(m.params.at("id"), "ev-1");
}

TEST(RouteTable, LiteralSegmentsBeatParameters) {
  auto dead = match_route("GET", "/v1/events/dead");
  ASSERT_EQ(dead.kind, RouteMatch::Kind::found);
  EXPECT_EQ(dead.route->op, Op::list_dead_letters);
  auto stats = match_route("GET", "/v1/events/stats");
  ASSERT_EQ(stats.kind, RouteMatch::Kind::found);
  EXPECT_EQ(stats.route->op, Op::event_stats);
  auto event = match_route("GET", "/v1/events/0190abcd");
  ASSERT_EQ(event.kind, RouteMatch::Kind::found);
  EXPECT_EQ(event.route->op, Op::get_event);
  auto health = match_route("GET", "/health");
  ASSERT_EQ(health.kind, RouteMatch::Kind::found);
  EXPECT_EQ(health.route->op, Op::health) << "not a dashboard file named 'health'";
  auto asset = match_route("GET", "/app.js");
  ASSERT_EQ(asset.kind, RouteMatch::Kind::found);
  EXPECT_EQ(asset.route->op, Op::dashboard_asset);
  EXPECT_EQ(asset.params.at("asset"), "app.js");
  auto index = match_route("GET", "/");
  ASSERT_EQ(index.kind, RouteMatch::Kind::found);
  EXPECT_EQ(index.route->op, Op::dashboard_index);
}

TEST(RouteTable, KnownPathWithOtherMethodIsWrongMethod) {
  auto m = match_route("PUT", "/v1/personas");
  ASSERT_EQ(m.kind, RouteMatch::Kind::wrong_method);
  EXPECT_EQ(std::set<std::string>(m.allowed.begin(), m.allowed.end()),
            (std::set<std::string>{"GET", "POST"}));
  // The most specific template decides: requeue is POST only, even though GET /v1/events/{id}
  // would match the path.
  auto requeue = match_route("GET", "/v1/events/requeue");
  ASSERT_EQ(requeue.kind, RouteMatch::Kind::wrong_method);
  EXPECT_EQ(requeue.allowed, std::vector<std::string>{"POST"});
  auto del = match_route("DELETE", "/health");
  EXPECT_EQ(del.kind, RouteMatch::Kind::wrong_method);
}

TEST(RouteTable, UnknownPathsAreNoRoute) {
  for (const char* path : {"/v1/nothing", "/v1/personas/", "/v1/personas//memories", "",
                           "v1/personas", "/v1/personas/a/b/c/d/e", "/v2/personas"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(match_route("GET", path).kind, RouteMatch::Kind::no_route);
  }
}

TEST(RouteTable, HeadMatchesAsGet) {
  auto m = match_route("HEAD", "/health");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route->op, Op::health);
}

TEST(RouteTable, EveryRouteIsUniqueAndMatchesItself) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : routes()) {
    SCOPED_TRACE(std::string(r.method) + " " + r.path);
    EXPECT_TRUE(seen.insert({r.method, r.path}).second) << "listed twice";
    // Substitute a value for every parameter and match the result.
    std::string path = r.path;
    for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{')) {
      path.replace(open, path.find('}', open) - open + 1, "x1");
    }
    auto m = match_route(r.method, path);
    ASSERT_EQ(m.kind, RouteMatch::Kind::found);
    EXPECT_EQ(m.route, &r);
    EXPECT_STRNE(op_name(r.op), "unknown");
  }
}

}  // namespace
}  // namespace nca::http
