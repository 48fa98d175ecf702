// The rules of a persona's profile: ids, field limits, and how an update applies.
#include "runtime/persona_profile.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace nca {
namespace {

pb::Persona valid_profile() {
  pb::Persona p;
  p.set_id("ada");
  p.set_tenant("acme");
  p.set_name("Ada");
  p.set_role("support engineer");
  (*p.mutable_skills())["billing"] = 0.9;
  (*p.mutable_skills())["refunds"] = 0.0;
  p.add_responsibilities("answer billing tickets");
  p.add_traits("patient");
  p.mutable_preferences()->add_likes("short answers");
  auto& rel = (*p.mutable_relationships())["grace"];
  rel.set_affinity(-1.0);
  rel.set_relation("colleague");
  p.set_capacity(4);
  p.set_status(pb::PERSONA_ACTIVE);
  p.set_version(3);
  p.set_created_at_us(1000);
  return p;
}

void expect_refused(const pb::Persona& p, const std::string& mentions) {
  Status s = validate_profile(p);
  ASSERT_FALSE(s.ok()) << "accepted a profile that should mention " << mentions;
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find(mentions), std::string::npos) << s.error().message;
}

TEST(PersonaProfile, PersonaIdsFollowTheIdRuleAndReserveTheUnderscore) {
  EXPECT_TRUE(validate_persona_id("ada").ok());
  EXPECT_TRUE(validate_persona_id(kSharedPersona).ok());
  EXPECT_TRUE(validate_persona_id(std::string(128, 'a')).ok());
  EXPECT_FALSE(validate_persona_id(std::string(129, 'a')).ok());
  EXPECT_FALSE(validate_persona_id("").ok());
  EXPECT_FALSE(validate_persona_id("a/b").ok());
  Status reserved = validate_persona_id("_system");
  ASSERT_FALSE(reserved.ok());
  EXPECT_NE(reserved.error().message.find("reserved"), std::string::npos);
}

TEST(PersonaProfile, AFullProfileIsValid) {
  Status s = validate_profile(valid_profile());
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST(PersonaProfile, EachFieldIsCheckedAndTheErrorNamesIt) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  {
    pb::Persona p = valid_profile();
    (*p.mutable_skills())["billing"] = 1.5;
    expect_refused(p, "billing");
  }
  {
    pb::Persona p = valid_profile();
    (*p.mutable_skills())["billing"] = nan;
    expect_refused(p, "billing");
  }
  {
    pb::Persona p = valid_profile();
    (*p.mutable_skills())["bad skill"] = 0.5;
    expect_refused(p, "skill name");
  }
  {
    pb::Persona p = valid_profile();
    (*p.mutable_relationships())["grace"].set_affinity(-1.01);
    expect_refused(p, "grace");
  }
  {
    pb::Persona p = valid_profile();
    (*p.mutable_relationships())["grace"].set_affinity(std::nan(""));
    expect_refused(p, "grace");
  }
  {
    pb::Persona p = valid_profile();
    p.set_name(std::string("\xff\xfe", 2));
    expect_refused(p, "name");
  }
  {
    pb::Persona p = valid_profile();
    p.set_description(std::string(kMaxProfileText + 1, 'x'));
    expect_refused(p, "description");
  }
  {
    pb::Persona p = valid_profile();
    p.add_traits("");
    expect_refused(p, "traits");
  }
  {
    pb::Persona p = valid_profile();
    for (size_t i = 0; i <= kMaxProfileEntries; ++i) p.add_responsibilities("r");
    expect_refused(p, "responsibilities");
  }
  {
    pb::Persona p = valid_profile();
    p.mutable_preferences()->add_dislikes(std::string("\xc3", 1));
    expect_refused(p, "preferences.dislikes");
  }
  {
    pb::Persona p = valid_profile();
    p.set_capacity(kMaxCapacity + 1);
    expect_refused(p, "capacity");
  }
  {
    pb::Persona p = valid_profile();
    p.set_status(static_cast<pb::PersonaStatus>(99));
    expect_refused(p, "status");
  }
}

TEST(PersonaProfile, AnUpdateCopiesTheNamedFieldsOnly) {
  const pb::Persona current = valid_profile();
  pb::PersonaWriteRequest req;
  req.mutable_persona()->set_name("Ada Lovelace");
  (*req.mutable_persona()->mutable_skills())["poetry"] = 0.4;
  req.mutable_persona()->set_capacity(9);
  req.add_fields("skills");
  auto next = apply_profile_update(current, req, 5000);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->name(), "Ada") << "name was not among the fields";
  EXPECT_EQ(next->capacity(), 4u);
  ASSERT_EQ(next->skills().size(), 1);
  EXPECT_DOUBLE_EQ(next->skills().at("poetry"), 0.4);
  EXPECT_EQ(next->version(), current.version() + 1);
  EXPECT_EQ(next->updated_at_us(), 5000);
}

TEST(PersonaProfile, AnUpdateWithoutFieldsReplacesTheProfileButKeepsItsIdentity) {
  const pb::Persona current = valid_profile();
  pb::PersonaWriteRequest req;
  req.mutable_persona()->set_id("someone-else");
  req.mutable_persona()->set_tenant("other-tenant");
  req.mutable_persona()->set_created_at_us(7);
  req.mutable_persona()->set_version(100);
  req.mutable_persona()->set_name("Countess");
  auto next = apply_profile_update(current, req, 6000);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->name(), "Countess");
  EXPECT_TRUE(next->skills().empty()) << "every field is replaced, the empty ones too";
  EXPECT_EQ(next->id(), "ada");
  EXPECT_EQ(next->tenant(), "acme");
  EXPECT_EQ(next->created_at_us(), 1000);
  EXPECT_EQ(next->version(), 4u);
}

TEST(PersonaProfile, AStaleExpectedVersionIsAConflictThatNamesBothVersions) {
  const pb::Persona current = valid_profile();  // version 3
  pb::PersonaWriteRequest req;
  req.set_expected_version(2);
  req.mutable_persona()->set_name("late writer");
  req.add_fields("name");
  auto stale = apply_profile_update(current, req, 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.code(), ErrorCode::conflict);
  EXPECT_NE(stale.error().message.find("version 3"), std::string::npos) << stale.error().message;
  EXPECT_NE(stale.error().message.find("expected 2"), std::string::npos) << stale.error().message;
  req.set_expected_version(3);
  auto current_version = apply_profile_update(current, req, 1);
  ASSERT_TRUE(current_version.ok()) << current_version.error().message;
  EXPECT_EQ(current_version->name(), "late writer");
  req.set_expected_version(0);  // no check
  EXPECT_TRUE(apply_profile_update(current, req, 1).ok());
}

TEST(PersonaProfile, AnUpdateThatWouldLeaveAnInvalidProfileChangesNothing) {
  const pb::Persona current = valid_profile();
  pb::PersonaWriteRequest req;
  (*req.mutable_persona()->mutable_skills())["billing"] = 2.0;
  req.add_fields("skills");
  auto refused = apply_profile_update(current, req, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  pb::PersonaWriteRequest unknown;
  unknown.add_fields("version");
  auto not_a_field = apply_profile_update(current, unknown, 1);
  ASSERT_FALSE(not_a_field.ok());
  EXPECT_NE(not_a_field.error().message.find("'version' is not an updatable profile field"),
            std::string::npos)
      << not_a_field.error().message;
}

TEST(PersonaProfile, CopyRefusesAnUnknownFieldBeforeCopyingAny) {
  pb::Persona base = valid_profile();
  pb::Persona from;
  from.set_name("changed");
  google::protobuf::RepeatedPtrField<std::string> fields;
  *fields.Add() = "name";
  *fields.Add() = "nickname";
  Status s = copy_profile_fields(from, fields, &base);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(base.name(), "Ada");
}

}  // namespace
}  // namespace nca
