// Test support: a PersonaWriter for persona "ada" over a real Db in a temp dir, with a manual clock and
// 4-dimensional embeddings; commit() plans, commits and acknowledges like the persona actor does.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/persona_writer.hpp"

namespace nca::testing {

class PersonaWriterFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nca-pw-XXXXXX";
    dir_ = mkdtemp(tmpl);
    storage::Db::Options o;
    o.path = dir_ + "/db";
    auto db = storage::Db::open(o);
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    policy_.dim = 4;
    health_ = HealthModel(policy_.health);
    writer_ = make_writer("ada");
  }
  void TearDown() override {
    writer_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<PersonaWriter> make_writer(const std::string& persona) {
    auto w = std::make_unique<PersonaWriter>(*db_, PersonaRef::make("default", persona, 64),
                                             policy_, health_, clock_, ids_);
    EXPECT_TRUE(w->open().ok());
    return w;
  }

  pb::MemoryInput input(const std::string& content, const std::string& id = "",
                        const std::string& session = "") {
    pb::MemoryInput in;
    in.set_content(content);
    in.set_id(id);
    in.set_importance(0.5);
    in.set_session_id(session);
    return in;
  }

  // Plans and commits; returns the plan (its batch moved out).
  Plan commit(Result<Plan> plan) {
    EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
    Plan p = std::move(*plan);
    EXPECT_TRUE(db_->commit(std::move(p.batch)).ok());
    writer_->committed(p);
    return p;
  }

  std::string dir_;
  std::unique_ptr<storage::Db> db_;
  MemoryPolicy policy_;
  HealthModel health_;
  ManualClock clock_;
  IdGenerator ids_{clock_, 7};
  std::unique_ptr<PersonaWriter> writer_;
};

}  // namespace nca::testing
