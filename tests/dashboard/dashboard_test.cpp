// The dashboard as a user sees it: a real `nca-node --dev` with its HTTP gateway on an OS-chosen
// port, seeded through the SDK (personas with profiles, memories in every tier, tubules, events in
// every state, a second tenant), then opened in headless Chromium. The checks read the DOM after
// the page's scripts ran (the dashboard marks what it shows with ids and data-* attributes) and
// save a screenshot next to the build's binaries (build/dashboard.png).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "nca/client.hpp"
#include "runtime/httplib.hpp"
#include "tests/dashboard/dom_query.hpp"
#include "tests/dashboard/headless_browser.hpp"
#include "tests/integration/process.hpp"

namespace nca {
namespace {

using testing::attr_of;
using testing::ChildProcess;
using testing::DomTag;
using testing::find_tags;
using testing::HeadlessBrowser;
using testing::parse_tags;

constexpr auto kBudget = std::chrono::milliseconds(10000);
const std::string kDashboardDir = std::string(NCA_SOURCE_DIR) + "/http/dashboard";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One node and one seeded data set for the whole suite: starting the node and a browser is the
// expensive part, and every test only reads.
class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/nca-dash-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    node_ = new ChildProcess({std::string(NCA_BIN_DIR) + "/nca-node", "--dev", "--node.listen",
                              "127.0.0.1:0", "--http.listen", "127.0.0.1:0", "--memory.dim", "64"},
                             *dir_, *dir_ + "/node.log");
    // The node prints its actor port, then its HTTP port: "nca-node http on HOST:PORT (http port
    // N)".
    std::regex port_line(R"(\(port (\d+)\))");
    std::regex http_line(R"(\(http port (\d+)\))");
    auto actor_port = node_->wait_for_line(port_line, std::chrono::seconds(30));
    auto http_port = node_->wait_for_line(http_line, std::chrono::seconds(30));
    if (actor_port && http_port) {
      addr_ = new std::string("127.0.0.1:" + *actor_port);
      http_port_ = std::stoi(*http_port);
    }
  }

  static void TearDownTestSuite() {
    delete node_;
    node_ = nullptr;
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete addr_;
    addr_ = nullptr;
    seed_attempted_ = false;
    seeded_ = false;
  }

  void SetUp() override {
    ASSERT_NE(addr_, nullptr) << "nca-node did not print its ports; see " << *dir_ << "/node.log";
    browser_path_ = HeadlessBrowser::find();
    ASSERT_FALSE(browser_path_.empty())
        << "the dashboard test needs headless Chromium (Debian package `chromium`, see "
           "scripts/install-deps) or NCA_CHROMIUM=/path/to/chrome";
    if (!seed_attempted_) {
      seed_attempted_ = true;
      seed();
      seeded_ = !HasFatalFailure();
    }
    ASSERT_TRUE(seeded_) << "seeding the node failed earlier in this run";
  }

  std::string url(const std::string& path_and_query = "/") const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + path_and_query;
  }

  // Opens the dashboard at `query` and returns the DOM's tags once the page says it is ready.
  std::vector<DomTag> open_dashboard(const std::string& query, std::string* dom_out = nullptr) {
    HeadlessBrowser browser(browser_path_, *dir_);
    auto run = browser.dump_dom(url("/" + query), kBudget);
    EXPECT_EQ(run.exit_code, 0) << "chromium failed (124: time limit); log: " << run.log;
    auto tags = parse_tags(run.out);
    auto body = find_tags(tags, {{"data-dashboard-state", "*"}});
    EXPECT_EQ(body.size(), 1u) << "no dashboard in the DOM:\n" << run.out.substr(0, 2000);
    if (body.size() == 1) {
      EXPECT_EQ(body[0].attrs["data-dashboard-state"], "ready")
          << "the page did not finish loading within the virtual time budget";
    }
    if (dom_out != nullptr) *dom_out = std::move(run.out);
    return tags;
  }

  static std::unique_ptr<Client> connect(const std::string& tenant) {
    ClientOptions options;
    options.tenant = tenant;
    auto c = Client::connect({*addr_}, options);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? std::move(*c) : nullptr;
  }

  static pb::Persona persona(const std::string& id, const std::string& name,
                             const std::string& role,
                             std::vector<std::pair<std::string, double>> skills,
                             uint32_t capacity) {
    pb::Persona p;
    p.set_id(id);
    p.set_name(name);
    p.set_role(role);
    for (const auto& [skill, level] : skills) (*p.mutable_skills())[skill] = level;
    p.set_capacity(capacity);
    return p;
  }

  static void remember(Client& c, const std::string& persona, const std::string& id,
                       const std::string& content, pb::Tier tier, double importance) {
    pb::MemoryInput in;
    in.set_id(id);
    in.set_content(content);
    in.set_tier(tier);
    in.set_importance(importance);
    auto r = c.remember(persona, in);
    ASSERT_TRUE(r.ok()) << id << ": " << r.error().message;
  }

  static std::string publish(Client& c, const std::string& topic, pb::EventPriority priority,
                             const std::string& target) {
    pb::EventInput in;
    in.set_topic(topic);
    in.set_priority(priority);
    in.set_payload(R"({"ticket": ")" + topic + R"("})");
    in.set_target_persona(target);
    auto r = c.publish(in);
    EXPECT_TRUE(r.ok() && r->events_size() == 1) << topic << ": " << r.error().message;
    return r.ok() && r->events_size() == 1 ? r->events(0).id() : "";
  }

  // Hands the worker's next event out and checks it is `id` (events are targeted, so the order
  // is known).
  static uint32_t deliver(Client& c, const std::string& id) {
    auto next = c.next_event("worker", std::chrono::milliseconds(2000));
    EXPECT_TRUE(next.ok()) << next.error().message;
    if (!next.ok()) return 0;
    EXPECT_TRUE(next->has_event()) << "no event for worker within 2 s";
    EXPECT_EQ(next->event().id(), id);
    return next->event().attempts();
  }

  void seed() {
    auto c = connect("default");
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->create_persona(persona("ada", "Ada Lovelace", "analyst",
                                          {{"mathematics", 0.9}, {"poetry", 0.4}}, 4))
                    .ok());
    ASSERT_TRUE(
        c->create_persona(persona("bob", "Bob Paused", "reviewer", {{"review", 0.7}}, 2)).ok());
    ASSERT_TRUE(c->pause_persona("bob").ok());
    ASSERT_TRUE(
        c->create_persona(persona("worker", "Wendy Worker", "support", {{"support", 0.8}}, 10))
            .ok());

    // Ada's memories: 3 STM, 2 MTM, 1 LTM; health starts at 40 + 40 x importance.
    remember(*c, "ada", "ada-stm-1", "Ada is allergic to peanuts", pb::STM, 0.9);
    remember(*c, "ada", "ada-stm-2", "Ada drinks her coffee black", pb::STM, 0.5);
    remember(*c, "ada", "ada-stm-3", "Ada met Babbage on Tuesday", pb::STM, 0.1);
    remember(*c, "ada", "ada-mtm-1", "Ada is writing notes on the Analytical Engine", pb::MTM, 0.7);
    remember(*c, "ada", "ada-mtm-2", "Ada prefers letters to visits", pb::MTM, 0.3);
    remember(*c, "ada", "ada-ltm-1", "Ada was born in London in 1815", pb::LTM, 1.0);
    auto strong = c->link("ada-stm-1", "ada-ltm-1", 0.9);
    ASSERT_TRUE(strong.ok()) << strong.error().message;
    auto weak = c->link("ada-stm-2", "ada-mtm-1", 0.4);
    ASSERT_TRUE(weak.ok()) << weak.error().message;
    ASSERT_TRUE(c->update([] {
                   pb::UpdateRequest u;
                   u.set_id("ada-stm-1");
                   u.set_content("Ada is allergic to peanuts and cashews");
                   return u;
                 }())
                    .ok());

    // Events, all targeted at worker so the order of delivery is known: one of each state.
    std::string acked = publish(*c, "support.acked", pb::NORMAL, "worker");
    auto ack = c->ack(acked, deliver(*c, acked), "answered");
    ASSERT_TRUE(ack.ok()) << ack.error().message;
    std::string dead = publish(*c, "support.dead", pb::LOW, "worker");
    auto nack = c->nack(dead, deliver(*c, dead), "cannot parse", /*dead_letter=*/true);
    ASSERT_TRUE(nack.ok()) << nack.error().message;
    std::string delivered = publish(*c, "support.delivered", pb::HIGH, "worker");
    deliver(*c, delivered);
    std::string assigned = publish(*c, "support.assigned", pb::CRITICAL, "worker");
    // bob is paused: an event for him waits.
    std::string pending = publish(*c, "review.pending", pb::NORMAL, "bob");
    const std::vector<std::pair<std::string, pb::EventState>> expected = {
        {acked, pb::EVENT_ACKED},
        {dead, pb::EVENT_DEAD},
        {delivered, pb::EVENT_DELIVERED},
        {assigned, pb::EVENT_ASSIGNED},
        {pending, pb::EVENT_PENDING}};
    for (const auto& [id, state] : expected) {
      auto st = c->event_status(id);
      ASSERT_TRUE(st.ok()) << id << ": " << st.error().message;
      ASSERT_EQ(st->event().state(), state) << "seeding: event " << st->event().topic();
    }

    // The persona stats the dashboard will show, as the SDK sees them.
    auto stats = c->stats("ada");
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    ASSERT_EQ(stats->persona_size(), 1);
    std::map<pb::Tier, uint64_t> tiers;
    for (const auto& t : stats->persona(0).tiers()) tiers[t.tier()] = t.items();
    ASSERT_EQ(tiers[pb::STM], 3u);
    ASSERT_EQ(tiers[pb::MTM], 2u);
    ASSERT_EQ(tiers[pb::LTM], 1u);

    // Another tenant: the dashboard must show it only when asked for it.
    auto acme = connect("acme");
    ASSERT_NE(acme, nullptr);
    ASSERT_TRUE(
        acme->create_persona(persona("acme-bot", "Acme Bot", "sales", {{"selling", 1.0}}, 0)).ok());
    remember(*acme, "acme-bot", "acme-1", "Acme sells anvils", pb::STM, 0.5);
  }

  static std::string* dir_;
  static std::string* addr_;
  static int http_port_;
  static ChildProcess* node_;
  static bool seed_attempted_;
  static bool seeded_;
  std::string browser_path_;
};

std::string* DashboardTest::dir_ = nullptr;
std::string* DashboardTest::addr_ = nullptr;
int DashboardTest::http_port_ = 0;
ChildProcess* DashboardTest::node_ = nullptr;
bool DashboardTest::seed_attempted_ = false;
bool DashboardTest::seeded_ = false;

// The node serves the files of http/dashboard/ byte for byte, with their content types, and the
// files reference nothing outside the node.
TEST_F(DashboardTest, ServesTheDashboardFilesAndNothingExternal) {
  httplib::Client http("127.0.0.1", http_port_);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  const std::vector<std::tuple<std::string, std::string, std::string>> files = {
      {"/", "index.html", "text/html"},
      {"/app.js", "app.js", "javascript"},
      {"/style.css", "style.css", "text/css"}};
  for (const auto& [path, file, type] : files) {
    SCOPED_TRACE(path);
    auto res = http.Get(path.c_str());
    ASSERT_TRUE(res) << "no answer: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->get_header_value("Content-Type").find(type), std::string::npos)
        << res->get_header_value("Content-Type");
    std::string on_disk = read_file(kDashboardDir + "/" + file);
    ASSERT_FALSE(on_disk.empty());
    EXPECT_EQ(res->body, on_disk) << "the node serves another version of " << file;
    // Only the SVG namespace may name another host; nothing is loaded from anywhere else.
    std::string scrubbed = on_disk;
    for (size_t at; (at = scrubbed.find("http://www.w3.org/2000/svg")) != std::string::npos;) {
      scrubbed.erase(at, 26);
    }
    EXPECT_EQ(scrubbed.find("http://"), std::string::npos) << file;
    EXPECT_EQ(scrubbed.find("https://"), std::string::npos) << file;
    EXPECT_EQ(scrubbed.find("@import"), std::string::npos) << file;
  }
  auto missing = http.Get("/no-such-asset.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DashboardTest, ShowsPersonasTiersHealthGraphHistoryEventsAndCluster) {
  std::string dom;
  auto tags = open_dashboard("?memory=ada-stm-1", &dom);
  EXPECT_EQ(attr_of(tags, {{"data-dashboard-state", "*"}}, "data-error-count"), "0")
      << "the page reported errors:\n"
      << dom.substr(0, 3000);

  // Personas: the profiles of this tenant only, bob paused.
  EXPECT_EQ(find_tags(tags, {{"data-persona-id", "*"}, {"data-status", "*"}}).size(), 3u);
  EXPECT_EQ(attr_of(tags, {{"data-persona-id", "bob"}, {"data-status", "*"}}, "data-status"),
            "paused");
  EXPECT_EQ(attr_of(tags, {{"data-persona-id", "ada"}, {"data-status", "*"}}, "data-status"),
            "active");
  EXPECT_NE(dom.find("Ada Lovelace"), std::string::npos);
  EXPECT_NE(dom.find("Wendy Worker"), std::string::npos);
  EXPECT_NE(dom.find("analyst"), std::string::npos);
  EXPECT_EQ(attr_of(tags, {{"data-skill", "mathematics"}}, "data-level"), "0.9");
  EXPECT_EQ(dom.find("Acme Bot"), std::string::npos) << "another tenant's persona leaked";

  // The first persona (ada) is selected; its tier sizes.
  EXPECT_EQ(attr_of(tags, {{"id", "persona-detail"}}, "data-persona-id"), "ada");
  EXPECT_EQ(attr_of(tags, {{"data-tier", "STM"}, {"class", "tier-row"}}, "data-count"), "3");
  EXPECT_EQ(attr_of(tags, {{"data-tier", "MTM"}, {"class", "tier-row"}}, "data-count"), "2");
  EXPECT_EQ(attr_of(tags, {{"data-tier", "LTM"}, {"class", "tier-row"}}, "data-count"), "1");

  // Health histogram: all six memories in ten buckets.
  EXPECT_EQ(attr_of(tags, {{"id", "health"}}, "data-total"), "6");
  auto buckets = find_tags(tags, {{"data-bucket", "*"}});
  ASSERT_EQ(buckets.size(), 10u);
  int total = 0;
  for (auto& b : buckets) total += std::stoi(b.attrs["data-count"]);
  EXPECT_EQ(total, 6);

  // Memories, with the updated content.
  EXPECT_EQ(find_tags(tags, {{"data-memory-id", "*"}, {"data-tier", "*"}}).size(), 6u);
  EXPECT_EQ(attr_of(tags, {{"data-memory-id", "ada-ltm-1"}, {"data-tier", "*"}}, "data-tier"),
            "LTM");
  EXPECT_NE(dom.find("Ada is allergic to peanuts and cashews"), std::string::npos);
  EXPECT_NE(dom.find("Ada was born in London in 1815"), std::string::npos);

  // The tubule graph: both links, the strong one consolidated (>= 0.7), the weak one decaying.
  EXPECT_EQ(attr_of(tags, {{"id", "tubule-graph"}}, "data-edges"), "2");
  EXPECT_EQ(attr_of(tags, {{"data-a", "ada-ltm-1"}, {"data-b", "ada-stm-1"}}, "data-consolidated"),
            "true");
  EXPECT_EQ(attr_of(tags, {{"data-a", "ada-mtm-1"}, {"data-b", "ada-stm-2"}}, "data-consolidated"),
            "false");
  EXPECT_EQ(find_tags(tags, {{"data-item-id", "*"}}).size(), 4u);

  // The memory named in the URL: its history, the add and then the update.
  EXPECT_EQ(attr_of(tags, {{"id", "history"}}, "data-memory-id"), "ada-stm-1");
  EXPECT_EQ(attr_of(tags, {{"id", "history"}}, "hidden"), "<missing>") << "history is hidden";
  EXPECT_EQ(find_tags(tags, {{"data-action", "ADD"}}).size(), 1u);
  EXPECT_EQ(find_tags(tags, {{"data-action", "UPDATE"}}).size(), 1u);

  // Events by state (this tenant), and by priority in the table.
  EXPECT_EQ(attr_of(tags, {{"data-state", "EVENT_PENDING"}, {"class", "tile state-pending"}},
                    "data-count"),
            "1");
  EXPECT_EQ(attr_of(tags, {{"data-state", "EVENT_ASSIGNED"}, {"class", "tile state-assigned"}},
                    "data-count"),
            "1");
  EXPECT_EQ(attr_of(tags, {{"data-state", "EVENT_DELIVERED"}, {"class", "tile state-delivered"}},
                    "data-count"),
            "1");
  EXPECT_EQ(
      attr_of(tags, {{"data-state", "EVENT_DEAD"}, {"class", "tile state-dead"}}, "data-count"),
      "1");
  EXPECT_EQ(
      attr_of(tags, {{"data-state", "EVENT_ACKED"}, {"class", "tile state-acked"}}, "data-count"),
      "1");
  auto critical = find_tags(tags, {{"data-priority", "CRITICAL"}, {"data-count", "1"}});
  EXPECT_EQ(critical.size(), 1u) << "the assigned CRITICAL event in the priority table";

  // Cluster: whatever the node reports, shown without an error.
  EXPECT_TRUE(find_tags(tags, {{"class", "section-error"}, {"data-code", "*"}}).empty())
      << "a section shows an error";
  EXPECT_EQ(attr_of(tags, {{"id", "cluster-body"}}, "data-members"), "1");
  auto self = find_tags(tags, {{"class", "cluster-self"}});
  ASSERT_EQ(self.size(), 1u);
  EXPECT_NE(self[0].attrs["data-node-id"], "");
}

TEST_F(DashboardTest, ShowsOnlyTheChosenTenant) {
  std::string dom;
  auto tags = open_dashboard("?tenant=acme", &dom);
  EXPECT_EQ(attr_of(tags, {{"data-dashboard-state", "*"}}, "data-error-count"), "0");
  EXPECT_EQ(find_tags(tags, {{"data-persona-id", "*"}, {"data-status", "*"}}).size(), 1u);
  EXPECT_NE(dom.find("Acme Bot"), std::string::npos);
  EXPECT_EQ(dom.find("Ada Lovelace"), std::string::npos);
  EXPECT_EQ(attr_of(tags, {{"data-tier", "STM"}, {"class", "tier-row"}}, "data-count"), "1");
  EXPECT_NE(dom.find("Acme sells anvils"), std::string::npos);
  EXPECT_EQ(attr_of(tags, {{"data-state", "EVENT_PENDING"}, {"class", "tile state-pending"}},
                    "data-count"),
            "0")
      << "acme has no events";
}

// An API error is shown, with the code and message the node sent, and the rest still loads.
TEST_F(DashboardTest, ShowsErrorsVisibly) {
  std::string dom;
  auto tags = open_dashboard("?persona=ada&memory=no-such-memory", &dom);
  EXPECT_EQ(attr_of(tags, {{"data-dashboard-state", "*"}}, "data-error-count"), "1");
  auto listed = find_tags(tags, {{"data-path", "/v1/memories/no-such-memory/history"}});
  ASSERT_EQ(listed.size(), 1u) << dom.substr(0, 3000);
  EXPECT_EQ(listed[0].attrs["data-code"], "NOT_FOUND");
  EXPECT_EQ(attr_of(tags, {{"id", "error"}}, "hidden"), "<missing>")
      << "the error banner is hidden";
  EXPECT_NE(dom.find("NOT_FOUND: "), std::string::npos);
  EXPECT_NE(dom.find("no-such-memory"), std::string::npos);
  EXPECT_EQ(attr_of(tags, {{"data-tier", "STM"}, {"class", "tier-row"}}, "data-count"), "3")
      << "one failed request does not blank the rest";
}

TEST_F(DashboardTest, SavesAScreenshot) {
  const std::string png = std::string(NCA_BIN_DIR) + "/../dashboard.png";
  std::filesystem::remove(png);
  HeadlessBrowser browser(browser_path_, *dir_);
  auto run = browser.screenshot(url("/?memory=ada-stm-1"), png, 1280, 900, kBudget);
  ASSERT_EQ(run.exit_code, 0) << "chromium failed; log: " << run.log;
  ASSERT_TRUE(std::filesystem::exists(png)) << run.log;
  std::string bytes = read_file(png);
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
  };
  EXPECT_EQ(be32(16), 1280u) << "width";
  EXPECT_EQ(be32(20), 900u) << "height";
  // A blank or error page of this size compresses to a few KiB; the dashboard's bars, histogram
  // and graph do not.
  EXPECT_GT(bytes.size(), 30u * 1024) << "the screenshot looks empty: " << png;
  std::cout << "[ screenshot ] " << std::filesystem::weakly_canonical(png).string() << " ("
            << bytes.size() << " bytes)" << std::endl;
}

}  // namespace
}  // namespace nca
