// Operations endpoints and the gateway's limits: /health, /ready, /metrics (checked by promtool),
// the body limit, deadlines, graceful stop, every error status, and request ids in the logs.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <future>
#include <regex>
#include <sstream>

#include "actors/api_actor.hpp"
#include "http/logging.hpp"
#include "proto/wire.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "storage/column_family.hpp"
#include "tests/http/gateway_fixture.hpp"
#include "tests/http/promtool.hpp"

#include <rocksdb/db.h>

namespace nca {
namespace {

using testing::describe;
using testing::GatewayFixture;
using testing::HttpReply;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

class HttpOpsTest : public GatewayFixture {};

TEST_F(HttpOpsTest, HealthAndReady) {
  auto health = call("GET", "/health");
  ASSERT_EQ(health.status, 200) << describe(health);
  EXPECT_EQ(health.json["status"], "ok");
  // A node alone founds the metadata group and is ready once it has recorded itself (well under a
  // second); until then /ready names what it waits for.
  HttpReply ready;
  ASSERT_TRUE(testing::wait_until([&] {
    ready = call("GET", "/ready");
    if (ready.status == 503) {
      EXPECT_NE(ready.json["details"]["cluster"], "ok") << describe(ready);
    }
    return ready.status == 200;
  })) << describe(ready);
  EXPECT_EQ(ready.json["status"], "ready");
  EXPECT_EQ(ready.json["checks"]["storage"], "ok");
  EXPECT_EQ(ready.json["checks"]["api"], "ok");
  EXPECT_EQ(ready.json["checks"]["cluster"], "ok");
  auto head = call("HEAD", "/health");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(HttpOpsTest, MetricsPassPromtoolAndCountWhatHappened) {
  // Joined first, so the cluster's figures below are those of a founded cluster.
  ASSERT_TRUE(testing::wait_until([&] { return call("GET", "/ready").status == 200; }));
  ASSERT_EQ(call("POST", "/v1/personas/ada/memories", R"({"content": "Ada likes tea"})").status,
            201);
  ASSERT_EQ(call("POST", "/v1/personas/ada/memories", R"({"content": "Ada likes green"})").status,
            201);
  ASSERT_EQ(call("POST", "/v1/personas/ada/consolidate").status, 200);
  ASSERT_EQ(call("GET", "/v1/memories/missing").status, 404);
  ASSERT_EQ(call("POST", "/v1/events", R"({"topic": "t.x", "target_persona": "nobody"})").status,
            201);
  // Compaction figures: flush and compact the items family so RocksDB has done one.
  auto* db = node_->context().db.get();
  ASSERT_TRUE(db->flush().ok());
  ASSERT_TRUE(db->raw()
                  ->CompactRange(rocksdb::CompactRangeOptions(), db->handle(storage::Cf::items),
                                 nullptr, nullptr)
                  .ok());

  auto metrics = call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << describe(metrics);
  EXPECT_EQ(metrics.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body;
  auto check = testing::promtool_check(text);
  ASSERT_NE(check.exit_code, -1) << "promtool is missing (Debian package prometheus)";
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;

  auto has = [&](const std::string& pattern) {
    return std::regex_search(text, std::regex(pattern));
  };
  EXPECT_TRUE(has(
      R"(nca_http_requests_total\{route="/v1/personas/\{id\}/memories",method="POST",status="201"\} 2)"))
      << text;
  EXPECT_TRUE(
      has(R"(nca_http_requests_total\{route="/v1/memories/\{id\}",method="GET",status="404"\} 1)"));
  EXPECT_TRUE(has(
      R"(nca_http_request_duration_seconds_count\{route="/v1/personas/\{id\}/consolidate",method="POST"\} 1)"));
  EXPECT_TRUE(has(R"(nca_memories\{tier="stm"\} 2)"));
  EXPECT_TRUE(has(R"(nca_index_entries\{tier="stm"\} 2)"));
  EXPECT_TRUE(has(R"(nca_consolidation_ticks_total 1)"));
  EXPECT_TRUE(has(
      R"(nca_events\{tenant="default",state="EVENT_PENDING",priority="PRIORITY_UNSPECIFIED|NORMAL"\} 1)"))
      << text;
  EXPECT_TRUE(has(R"(nca_events_published_total 1)"));
  EXPECT_TRUE(has(R"(nca_active_personas 1)"));
  EXPECT_TRUE(has(R"(nca_caf_running_actors [1-9])"));
  EXPECT_TRUE(has(R"(nca_rocksdb_size_bytes [1-9])"));
  EXPECT_TRUE(has(R"(nca_rocksdb_live_sst_bytes\{cf="items"\} [1-9])"));
  EXPECT_TRUE(has(R"(nca_rocksdb_compactions_total\{cf="items"\} [1-9])")) << text;
  EXPECT_TRUE(has(R"(nca_metrics_scrape_errors 0)"));
  // Storage and Raft: the writes above were synced; the node's own cluster elected its leaders.
  EXPECT_TRUE(has(R"(nca_storage_durable_write_duration_seconds_count [1-9])")) << text;
  EXPECT_TRUE(has(R"(nca_storage_durable_write_duration_seconds_bucket\{le="\+Inf"\} [1-9])"));
  EXPECT_TRUE(has(R"(nca_storage_slow_operations_total \d)"));
  EXPECT_TRUE(has(R"(nca_raft_rounds_total [1-9])"));
  EXPECT_TRUE(has(R"(nca_raft_leader_changes_seen_total [1-9])")) << text;
  EXPECT_TRUE(has(R"(nca_cluster_members\{state="alive"\} 1\n)"));
  EXPECT_TRUE(has(R"(nca_cluster_metadata_has_leader 1)"));
  EXPECT_TRUE(has(R"(nca_shards_hosted 0\n)"));  // standalone: no shards
  EXPECT_TRUE(has(R"(nca_shards_without_leader 0)"));
  EXPECT_TRUE(has(R"(nca_shards_catching_up 0)"));
  EXPECT_TRUE(has(R"(nca_node_info\{node_id=")" + node_->context().node_id + R"(",)"));
  // The tests, like nca-node, run on the project's allocator unless NEUROCA_ALLOCATOR=system.
  EXPECT_TRUE(has(R"(nca_allocator_info\{allocator=")" + std::string(alloc::name()) + R"("\} 1)"))
      << text;
  EXPECT_TRUE(has(alloc::serves_operator_new() ? R"(nca_allocator_mapped_bytes [1-9])"
                                               : R"(nca_allocator_mapped_bytes \d)"));
  EXPECT_TRUE(has(R"(nca_allocator_free_bytes \d)"));
}

class SmallBodyTest : public GatewayFixture {
  void customize(config::Settings& s) override { s.http.max_body = 4096; }
};

TEST_F(SmallBodyTest, BodiesOverTheLimitAre413AndTheServerGoesOn) {
  std::string big(8192, 'x');
  auto r = call("POST", "/v1/personas/ada/memories", R"({"content": ")" + big + "\"}");
  ASSERT_EQ(r.status, 413) << describe(r);
  EXPECT_EQ(r.json["code"], "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(r.json["details"]["max_body_bytes"], "4096");
  EXPECT_FALSE(r.header("X-Request-Id").empty());
  auto small = call("POST", "/v1/personas/ada/memories", R"({"content": "fits"})");
  EXPECT_EQ(small.status, 201) << describe(small);
  EXPECT_TRUE(std::regex_search(
      http::render_text(gateway_->metrics().snapshot()),
      std::regex(
          R"(nca_http_requests_total\{route="/v1/personas/\{id\}/memories",method="POST",status="413"\} 1)")));
}

// The node ends a long poll just before its caller's deadline: the caller gets "no event" in time
// rather than a 504, and no event is handed to a poll nobody waits for any more.
TEST_F(HttpOpsTest, ALongPollEndsEmptyBeforeItsCallersDeadline) {
  create_persona("idle");
  auto started = SteadyClock::now();
  auto r = call("POST", "/v1/personas/idle/events/next", R"({"wait_ms": 4000})",
                {{"X-Timeout-Ms", "600"}});
  auto took = SteadyClock::now() - started;
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_TRUE(!r.json.contains("event") || r.json["event"].is_null()) << describe(r);
  EXPECT_LT(took, std::chrono::milliseconds(3500)) << "answered at its deadline, not the wait";
  auto bad = call("GET", "/health", "", {{"X-Timeout-Ms", "soon"}});
  EXPECT_EQ(bad.status, 400) << describe(bad);
  // A long poll within its deadline: the deadline is wait + http.timeout.
  auto ok = call("POST", "/v1/personas/idle/events/next", R"({"wait_ms": 200})");
  EXPECT_EQ(ok.status, 200) << describe(ok);
}

TEST_F(HttpOpsTest, StopLetsARequestInFlightFinishAndRefusesNewOnes) {
  create_persona("idle");
  auto poll = std::async(std::launch::async, [&] {
    return call("POST", "/v1/personas/idle/events/next", R"({"wait_ms": 1000})");
  });
  ASSERT_TRUE(testing::wait_until([&] {
    return gateway_->in_flight() >= 1 ||
           poll.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }));
  ASSERT_NE(poll.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the poll ended early: " << describe(poll.get());
  const uint16_t port = gateway_->port();
  gateway_->stop(std::chrono::seconds(10));
  // stop() returned: the poll has had its reply (the client may still be reading it).
  EXPECT_TRUE(std::regex_search(
      http::render_text(gateway_->metrics().snapshot()),
      std::regex(
          R"(nca_http_requests_total\{route="/v1/personas/\{id\}/events/next",method="POST",status="200"\} 1)")));
  auto finished = poll.get();
  EXPECT_EQ(finished.status, 200) << "drained, not cut: " << describe(finished);
  auto after = testing::http_call(port, "GET", "/health");
  EXPECT_EQ(after.status, 0) << "no longer listening: " << describe(after);
}

TEST_F(HttpOpsTest, StopCutsRequestsThatOutlastTheDrainWith503) {
  create_persona("idle");
  auto poll = std::async(std::launch::async, [&] {
    return call("POST", "/v1/personas/idle/events/next", R"({"wait_ms": 20000})");
  });
  ASSERT_TRUE(testing::wait_until([&] {
    return gateway_->in_flight() >= 1 ||
           poll.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }));
  ASSERT_NE(poll.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the poll ended early: " << describe(poll.get());
  auto started = SteadyClock::now();
  gateway_->stop(std::chrono::milliseconds(200));
  EXPECT_LT(SteadyClock::now() - started, std::chrono::seconds(15))
      << "stop waited for the poll's wait instead of the drain deadline";
  auto cut = poll.get();
  EXPECT_EQ(cut.status, 503) << describe(cut);
  EXPECT_EQ(cut.json["code"], "UNAVAILABLE");
}

// A scripted api actor: answers ping with UNAVAILABLE, every other request with the status its
// request id names ("status-<code>"), or with the request's own header echoed into an ItemReply.
caf::result<uint32_t, std::string> scripted_reply(uint32_t method, const std::string& bytes) {
  pb::Request req;
  pb::Response resp;
  if (!req.ParseFromString(bytes)) {
    resp.mutable_status()->set_code(pb::INTERNAL);
    return caf::result<uint32_t, std::string>(method, resp.SerializeAsString());
  }
  const std::string& id = req.header().request_id();
  if (req.has_ping()) {
    resp.mutable_status()->set_code(pb::UNAVAILABLE);
    resp.mutable_status()->set_message("warming up");
  } else if (id.rfind("status-", 0) == 0) {
    resp.mutable_status()->set_code(static_cast<pb::StatusCode>(std::stoi(id.substr(7))));
    resp.mutable_status()->set_message("scripted: " + id);
    (*resp.mutable_status()->mutable_details())["scripted"] = "yes";
  } else {
    auto* item = resp.mutable_get()->mutable_item();
    item->set_id(id);
    item->set_tenant(req.header().tenant());
    item->set_persona_id(std::to_string(method));
    item->set_content(std::to_string(req.body_case()));
    item->set_created_at_us(req.header().deadline_us());
    item->set_schema_version(req.header().schema_version());
    // The credential, so a test can see it travel (never done by the real api actor).
    (*item->mutable_metadata())["auth_token"] = req.header().auth_token();
  }
  return caf::result<uint32_t, std::string>(method, resp.SerializeAsString());
}

// The gateway's own calls (readiness) come as node-local requests, a client's as envelopes.
caf::behavior scripted_api(caf::event_based_actor*) {
  return {
      [](wire::envelope_atom, uint32_t method, const std::string& bytes) {
        return scripted_reply(method, bytes);
      },
      [](actors::local_request_atom, uint32_t method, const std::string& bytes) {
        return scripted_reply(method, bytes);
      },
  };
}

class ScriptedApiTest : public GatewayFixture {
 protected:
  http::GatewayOptions options() override {
    http::GatewayOptions o;
    o.api = node_->system().spawn(scripted_api);
    return o;
  }
};

TEST_F(ScriptedApiTest, EveryStatusCodeBecomesItsHttpStatus) {
  const std::pair<pb::StatusCode, int> kCases[] = {
      {pb::INVALID_ARGUMENT, 400},   {pb::UNAUTHENTICATED, 401}, {pb::PERMISSION_DENIED, 403},
      {pb::NOT_FOUND, 404},          {pb::ALREADY_EXISTS, 409},  {pb::CONFLICT, 409},
      {pb::RESOURCE_EXHAUSTED, 429}, {pb::UNAVAILABLE, 503},     {pb::DEADLINE_EXCEEDED, 504},
      {pb::INTERNAL, 500},           {pb::DATA_LOSS, 500},
  };
  for (const auto& [code, status] : kCases) {
    SCOPED_TRACE(pb::StatusCode_Name(code));
    auto r = call("GET", "/v1/memories/m1", "",
                  {{"X-Request-Id", "status-" + std::to_string(static_cast<int>(code))}});
    EXPECT_EQ(r.status, status) << describe(r);
    EXPECT_EQ(r.json["code"], pb::StatusCode_Name(code));
    EXPECT_EQ(r.json["message"], "scripted: status-" + std::to_string(static_cast<int>(code)));
    EXPECT_EQ(r.json["details"]["scripted"], "yes");
  }
}

TEST_F(ScriptedApiTest, NotReadyWhenTheApiDoesNotAnswerAndStillAlive) {
  auto ready = call("GET", "/ready");
  ASSERT_EQ(ready.status, 503) << describe(ready);
  EXPECT_EQ(ready.json["code"], "UNAVAILABLE");
  EXPECT_EQ(ready.json["details"]["api"], "warming up");
  EXPECT_EQ(ready.json["details"]["storage"], "ok");
  EXPECT_NE(ready.json["message"].get<std::string>().find("api: warming up"), std::string::npos);
  EXPECT_EQ(call("GET", "/health").status, 200) << "liveness is not readiness";
}

TEST_F(ScriptedApiTest, RequestsCarryTenantRequestIdDeadlineAndTheRightMethod) {
  auto before = node_->context().clock->now_us();
  auto r =
      call("GET", "/v1/memories/m1", "",
           {{"X-Request-Id", "rid-7"}, {"X-Neuroca-Tenant", "acme"}, {"X-Timeout-Ms", "2000"}});
  ASSERT_EQ(r.status, 200) << describe(r);
  const auto& item = r.json["item"];
  EXPECT_EQ(item["id"], "rid-7");
  EXPECT_EQ(item["tenant"], "acme");
  EXPECT_EQ(item["persona_id"], std::to_string(pb::Request::kGet)) << "envelope method";
  EXPECT_EQ(item["content"], std::to_string(pb::Request::kGet)) << "body";
  EXPECT_EQ(item["schema_version"], 1);
  int64_t deadline = std::stoll(item["created_at_us"].get<std::string>());
  EXPECT_GE(deadline, before + 2'000'000);
  EXPECT_LE(deadline, node_->context().clock->now_us() + 2'000'000) << "X-Timeout-Ms applies";
  EXPECT_EQ(item["metadata"]["auth_token"], "");
  // No tenant header: the api actor decides (the credential's tenant, or the default one).
  auto plain = call("GET", "/v1/memories/m1", "", {{"Authorization", "Bearer nca_0123_abc"}});
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.json["item"]["tenant"], "");
  EXPECT_EQ(plain.json["item"]["metadata"]["auth_token"], "nca_0123_abc");
  auto basic = call("GET", "/v1/memories/m1", "", {{"Authorization", "Basic dTpw"}});
  EXPECT_EQ(basic.status, 401);
  EXPECT_EQ(basic.json["message"], "the Authorization header must be 'Bearer <API key or JWT>'");
}

TEST_F(HttpOpsTest, EveryLogLineOfARequestCarriesItsId) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_formatter(http::make_log_formatter("json"));
  auto previous = spdlog::default_logger();
  auto previous_level = spdlog::get_level();
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
  auto r = call("GET", "/v1/memories/none", "", {{"X-Request-Id", "trace-me-1"}});
  auto ok = call("GET", "/health", "", {{"X-Request-Id", "trace-me-2"}});
  spdlog::set_default_logger(previous);
  spdlog::set_level(previous_level);
  EXPECT_EQ(r.status, 404);
  std::istringstream lines(out.str());
  int mine = 0;
  for (std::string line; std::getline(lines, line);) {
    auto j = Json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    std::string msg = j["msg"];
    if (msg.find("/v1/memories/none") != std::string::npos) {
      EXPECT_EQ(j["request_id"], "trace-me-1") << line;
      EXPECT_NE(msg.find("404"), std::string::npos) << line;
      EXPECT_NE(msg.find("/v1/memories/{id}"), std::string::npos) << "the route: " << line;
      ++mine;
    }
    if (msg.find("/health") != std::string::npos) {
      EXPECT_EQ(j["request_id"], "trace-me-2");
      ++mine;
    }
  }
  EXPECT_EQ(mine, 2) << out.str();
}

TEST_F(HttpOpsTest, ServesTheDashboard) {
  auto index = call("GET", "/");
  ASSERT_EQ(index.status, 200) << describe(index);
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<html"), std::string::npos);
  auto again = call("GET", "/index.html");
  EXPECT_EQ(again.body, index.body);
  auto css = call("GET", "/style.css?v=2");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.header("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(call("GET", "/missing.js").status, 404);
}

}  // namespace
}  // namespace nca

namespace nca {
namespace {

TEST_F(HttpOpsTest, StopDoesNotWaitForIdleKeepAliveConnections) {
  httplib::Client keep("127.0.0.1", gateway_->port());
  keep.set_keep_alive(true);
  auto first = keep.Get("/health");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto started = SteadyClock::now();
  gateway_->stop(std::chrono::milliseconds(0));
  auto took = SteadyClock::now() - started;
  std::cout << "[ info ] stop with an idle keep-alive connection took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  EXPECT_LT(took, std::chrono::seconds(5)) << "bounded by the keep-alive timeout, not the client";
}

}  // namespace
}  // namespace nca
