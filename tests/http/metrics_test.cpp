// The Prometheus text format: rendering, escaping, histograms, and promtool's verdict on the node's
// families built from synthetic figures.
#include "http/metrics.hpp"

#include <gtest/gtest.h>

#include "http/node_metrics.hpp"
#include "tests/http/promtool.hpp"

namespace nca::http {
namespace {

TEST(MetricsText, RendersHelpTypeAndSamples) {
  MetricFamily f{"nca_things", MetricType::gauge, "Things.\nTwo lines \\ here.", {}};
  f.add({{"kind", "a\"b\\c\nd"}}, 3);
  f.add({}, 0.25);
  std::string text = render_text({f, MetricFamily{"nca_empty", MetricType::gauge, "none", {}}});
  EXPECT_EQ(text,
            "# HELP nca_things Things.\\nTwo lines \\\\ here.\n"
            "# TYPE nca_things gauge\n"
            "nca_things{kind=\"a\\\"b\\\\c\\nd\"} 3\n"
            "nca_things 0.25\n");
}

TEST(MetricsText, FormatsValuesAsTheFormatExpects) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(12345678901), "12345678901");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(0.1 + 0.2)), 0.1 + 0.2) << "round-trips";
}

TEST(MetricsRegistry, CountsRequestsAndBuildsCumulativeHistograms) {
  MetricsRegistry r;
  r.record_request("/v1/memories/{id}", "GET", 200, 0.0002);
  r.record_request("/v1/memories/{id}", "GET", 200, 0.003);
  r.record_request("/v1/memories/{id}", "GET", 404, 100.0);
  auto families = r.snapshot();
  ASSERT_EQ(families.size(), 2u);
  std::string text = render_text(families);
  EXPECT_NE(text.find("nca_http_requests_total{route=\"/v1/memories/{id}\",method=\"GET\","
                      "status=\"200\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("status=\"404\"} 1"), std::string::npos);
  EXPECT_NE(text.find("nca_http_request_duration_seconds_bucket{route=\"/v1/memories/{id}\","
                      "method=\"GET\",le=\"0.00025\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("le=\"0.005\"} 2"), std::string::npos);
  EXPECT_NE(text.find("le=\"30\"} 2"), std::string::npos) << "100 s is above every bound";
  EXPECT_NE(text.find("le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("nca_http_request_duration_seconds_count{route=\"/v1/memories/{id}\","
                      "method=\"GET\"} 3"),
            std::string::npos);
  auto check = testing::promtool_check(text);
  ASSERT_NE(check.exit_code, -1) << "promtool is missing (Debian package prometheus)";
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

NodeFigures synthetic_figures() {
  NodeFigures f;
  f.node_id = "node-\"odd\"";
  f.version = "0.1.0";
  f.incarnation = 3;
  f.allocator = "thread-cache";
  f.allocator_free_bytes = 4096;
  f.allocator_mapped_bytes = 2 << 20;
  pb::StatsReply stats;
  stats.set_personas(2);
  stats.set_items(10);
  (*stats.mutable_counters())["storage_syncs"] = 5;
  f.node_stats = stats;
  NodeCalls::PersonaFigures personas;
  for (int i = 0; i < 2; ++i) {
    pb::PersonaStats p;
    p.set_persona_id("p" + std::to_string(i));
    for (auto tier : {pb::STM, pb::MTM, pb::LTM}) {
      auto* t = p.add_tiers();
      t->set_tier(tier);
      t->set_items(static_cast<uint64_t>(tier) * 10);
      t->set_index_size(static_cast<uint64_t>(tier) * 10);
    }
    p.set_tubules(4);
    p.mutable_consolidation()->set_ticks(7);
    p.mutable_consolidation()->set_promoted(1);
    personas.personas.push_back(p);
  }
  f.personas = personas;
  actors::EventStats events;
  events.counts.push_back({"default", pb::EVENT_PENDING, pb::HIGH, 2});
  events.counts.push_back({"t2", pb::EVENT_DELIVERED, pb::NORMAL, 1});
  events.acked_retained = 9;
  f.events = events;
  f.node_counters = {{"live_personas", 2}, {"events_published", 3}, {"requests", 40}};
  ColumnFamilyFigures cf;
  cf.name = "items";
  cf.estimate_num_keys = 10;
  cf.compactions = 2;
  cf.compaction_write_bytes = 4096;
  f.column_families.push_back(cf);
  f.db_size_bytes = 1 << 20;
  f.errors.push_back("event stats: late");
  storage::LatencyHistogram fsyncs;
  fsyncs.record(std::chrono::microseconds(300));
  fsyncs.record(std::chrono::milliseconds(20));
  f.durable_writes = fsyncs.snapshot();
  f.slow_storage_operations = 1;
  f.raft_counters = {{"rounds", 12}, {"leader_changes", 3}};
  pb::ClusterStatusReply cluster;
  cluster.set_node(1);
  cluster.set_metadata_leader(1);
  cluster.add_members()->set_node(1);
  f.cluster = cluster;
  return f;
}

TEST(NodeMetrics, FamiliesSumPersonasAndPassPromtool) {
  auto families = MetricsRegistry().snapshot();
  auto node = node_families(synthetic_figures());
  families.insert(families.end(), node.begin(), node.end());
  std::string text = render_text(families);
  EXPECT_NE(text.find("nca_memories{tier=\"stm\"} 20"), std::string::npos) << text;
  EXPECT_NE(text.find("nca_memories{tier=\"ltm\"} 60"), std::string::npos);
  EXPECT_NE(text.find("nca_tubules 8"), std::string::npos);
  EXPECT_NE(text.find("nca_consolidation_ticks_total 14"), std::string::npos);
  EXPECT_NE(text.find("nca_consolidation_actions_total{action=\"promoted\"} 2"), std::string::npos);
  EXPECT_NE(text.find("nca_events{tenant=\"default\",state=\"EVENT_PENDING\",priority=\"HIGH\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("nca_events_acked_retained 9"), std::string::npos);
  EXPECT_NE(text.find("nca_rocksdb_compactions_total{cf=\"items\"} 2"), std::string::npos);
  EXPECT_NE(text.find("nca_node_info{node_id=\"node-\\\"odd\\\"\",version=\"0.1.0\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("nca_metrics_scrape_errors 1"), std::string::npos);
  EXPECT_NE(text.find("nca_allocator_info{allocator=\"thread-cache\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("nca_allocator_free_bytes 4096\n"), std::string::npos);
  EXPECT_NE(text.find("nca_allocator_mapped_bytes 2097152\n"), std::string::npos);
  EXPECT_NE(text.find("nca_storage_durable_write_duration_seconds_bucket{le=\"0.0005\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("nca_storage_durable_write_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("nca_storage_durable_write_duration_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("nca_storage_slow_operations_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("nca_raft_rounds_total 12\n"), std::string::npos);
  EXPECT_NE(text.find("nca_raft_leader_changes_seen_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("nca_raft_slow_rounds_total 0\n"), std::string::npos);
  EXPECT_NE(text.find("nca_cluster_members{state=\"alive\"} 1\n"), std::string::npos);
  auto check = testing::promtool_check(text);
  ASSERT_NE(check.exit_code, -1) << "promtool is missing (Debian package prometheus)";
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST(NodeMetrics, PromtoolRejectsABrokenText) {
  // The check can fail: a counter without _total and a sample line without a value.
  auto check = testing::promtool_check(
      "# HELP nca_bad Bad.\n# TYPE nca_bad counter\nnca_bad 1\nnca_broken{\n");
  ASSERT_NE(check.exit_code, -1) << "promtool is missing (Debian package prometheus)";
  EXPECT_NE(check.exit_code, 0) << check.output;
}

}  // namespace
}  // namespace nca::http
