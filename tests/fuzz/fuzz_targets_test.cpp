// The fuzz targets (tools/fuzz/targets.hpp) in CI: every input kept under
// tests/fuzz/corpus/<target> (seeds and the inputs of crashes found by `make fuzz`, kept as
// regressions) plus generated seeds are replayed, then each target runs for a bounded number of
// seeded random mutations of them. A crash or sanitizer report fails the run. Coverage-guided
// fuzzing for longer is `make fuzz`. NCA_FUZZ_CORPUS_OUT=DIR writes the generated seeds to
// DIR/<target>/ for libFuzzer to start from.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cluster/raft/conf_change.hpp"
#include "cluster/transport/raft_codec.hpp"
#include "proto/cluster.pb.h"
#include "proto/neuroca.pb.h"
#include "runtime/jwt.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "tests/support/test_seed.hpp"
#include "tools/fuzz/targets.hpp"

namespace nca::fuzz {
namespace {

namespace fs = std::filesystem;

std::string with_variant(uint8_t variant, const std::string& rest) {
  return std::string(1, static_cast<char>(variant)) + rest;
}

std::vector<std::string> generated_seeds(const std::string& target) {
  std::vector<std::string> out;
  if (target == "request") {
    pb::Request remember;
    remember.mutable_header()->set_tenant("acme");
    JwtClaims claims{"acme", Role::writer, "seed", 0, 0, 1'900'000'000};
    remember.mutable_header()->set_auth_token(sign_jwt(claims, "a-secret"));
    auto* m = remember.mutable_remember()->mutable_memory();
    m->set_content("Ada is allergic to peanuts");
    m->add_tags("health");
    (*m->mutable_metadata())["source"] = "chat";
    m->add_embedding(0.5f);
    out.push_back(remember.SerializeAsString());
    pb::Request recall;
    recall.mutable_recall()->set_persona_id("ada");
    recall.mutable_recall()->set_query("peanuts");
    recall.mutable_recall()->mutable_filter()->add_tags("health");
    out.push_back(recall.SerializeAsString());
    pb::Request publish;
    auto* e = publish.mutable_publish()->add_events();
    e->set_topic("support.ticket");
    e->set_payload("{\"n\": 1}");
    e->add_required_skills("billing");
    out.push_back(publish.SerializeAsString());
    pb::Request update;
    update.mutable_update()->set_id("m-1");
    update.mutable_update()->set_content("new");
    out.push_back(update.SerializeAsString());
  } else if (target == "http") {
    out.push_back(with_variant(0, "POST /v1/personas/ada/memories/search?x=1"));
    out.push_back(with_variant(1, "GET /v1/memories/m-1/history?persona_id=ada"));
    for (uint8_t v = 16; v < 80; v += 7) {
      out.push_back(with_variant(v,
                                 "ada\n{\"content\": \"hi\", \"tags\": [\"a\"], \"importance\": "
                                 "0.5, \"events\": [{\"topic\": \"t\"}], \"query\": \"q\"}"));
    }
  } else if (target == "config") {
    std::ifstream in(std::string(NCA_SOURCE_DIR) + "/deploy/node.ini");
    std::ostringstream text;
    text << in.rdbuf();
    out.push_back(text.str());
    out.push_back(
        "[node]\nlisten = 127.0.0.1:0\n[memory]\ndim = 64\n[limits]\nmemory-high = 1GiB\n");
  } else if (target == "records") {
    pb::MemoryItem item;
    item.set_schema_version(1);
    item.set_id("m-1");
    item.set_content("x");
    item.add_tags("t");
    out.push_back(with_variant(0, item.SerializeAsString()));
    pb::Persona persona;
    persona.set_id("ada");
    (*persona.mutable_skills())["billing"] = 0.9;
    out.push_back(with_variant(1, persona.SerializeAsString()));
    pb::MetaCommand command;
    command.mutable_join()->set_node(7);
    out.push_back(with_variant(10, command.SerializeAsString()));
    out.push_back(with_variant(9, storage::persona_prefix(3, "acme", "ada")));
    // A peer's Raft frame: a leader's append with entries (one a membership change), a heartbeat,
    // a vote request and a snapshot, as node 1 sends them to node 2.
    std::vector<transport::GroupMessage> frame(4);
    raft::Message& append = frame[0].message;
    append.type = raft::MessageType::append;
    append.from = 1;
    append.to = 2;
    append.term = 2;
    append.index = 3;
    append.log_term = 1;
    append.commit = 4;
    append.entries.push_back(raft::Entry{2, 4, raft::EntryType::normal, "x"});
    append.entries.push_back(
        raft::Entry{2, 5, raft::EntryType::conf_change,
                    raft::encode_conf_change({raft::ConfChangeType::add_learner, 4})});
    frame[1].message = append;
    frame[1].message.type = raft::MessageType::heartbeat;
    frame[1].message.entries.clear();
    frame[2].message = frame[1].message;
    frame[2].message.type = raft::MessageType::vote;
    frame[2].message.term = 3;
    frame[3].message = frame[1].message;
    frame[3].message.type = raft::MessageType::snapshot;
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta.index = 9;
    snap->meta.term = 2;
    snap->meta.conf.voters = {1, 2, 3};
    snap->data = "state";
    frame[3].message.snapshot = snap;
    for (auto& gm : frame) gm.group = 7;
    out.push_back(with_variant(8, transport::encode_batch({1, 1, 2}, frame)));
  }
  return out;
}

std::vector<std::string> kept_inputs(const std::string& target) {
  std::vector<std::string> out;
  fs::path dir = fs::path(NCA_SOURCE_DIR) / "tests/fuzz/corpus" / target;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out.push_back(bytes.str());
  }
  return out;
}

std::string mutate(std::string s, const std::vector<std::string>& pool, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < edits; ++i) {
    size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<char>(rng()));
        break;
      case 2:
        if (!s.empty()) s.erase(pos, 1 + rng() % 8);
        break;
      case 3:
        if (!s.empty()) s[pos] = "\x00\xff\x7f\x80{}[]\":,.\\"[rng() % 14];
        break;
      case 4: {  // splice in a piece of another input
        const std::string& other = pool[rng() % pool.size()];
        if (!other.empty()) {
          size_t from = rng() % other.size();
          s.insert(pos, other.substr(from, 1 + rng() % 32));
        }
        break;
      }
      default:
        if (!s.empty()) s.resize(pos);
        break;
    }
  }
  return s;
}

class FuzzTargets : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzTargets, SurviveTheirCorpusAndRandomMutations) {
  const Target& target = GetParam();
  std::vector<std::string> pool = generated_seeds(target.name);
  ASSERT_FALSE(pool.empty());
  if (const char* out = std::getenv("NCA_FUZZ_CORPUS_OUT"); out != nullptr && *out != '\0') {
    fs::path dir = fs::path(out) / target.name;
    fs::create_directories(dir);
    for (size_t i = 0; i < pool.size(); ++i) {
      std::ofstream(dir / ("seed-" + std::to_string(i)), std::ios::binary) << pool[i];
    }
  }
  auto kept = kept_inputs(target.name);
  pool.insert(pool.end(), kept.begin(), kept.end());
  for (const auto& input : pool) target.run(input);

  std::mt19937_64 rng(nca::testing::test_seed(std::string("fuzz ") + target.name));
  const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int runs = 0;
  for (; runs < 200000 && std::chrono::steady_clock::now() < stop; ++runs) {
    target.run(mutate(pool[rng() % pool.size()], pool, rng));
  }
  std::cout << "[ fuzz     ] " << target.name << ": " << pool.size() << " kept and seed inputs, "
            << runs << " mutations" << std::endl;
  EXPECT_GT(runs, 0);
}

INSTANTIATE_TEST_SUITE_P(AllTargets, FuzzTargets, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nca::fuzz
