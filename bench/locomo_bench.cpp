// nca-bench locomo: turn-level evidence recall on LoCoMo conversations (see ../shared/data/locomo).
//
// Every conversation file becomes one persona: each turn "speaker: text" (plus " [image: caption]")
// is a memory with session_id = its session and created_at = the session's date, remembered in
// order through the SDK. Every question of categories 1-4 is asked in each mode, k = 25, read-only
// (no_reinforce, so questions do not influence each other), and we count the evidence turns in the
// top 1/5/10/25. Baseline `bm25`: a plain BM25 over the same turn texts (k1 1.2, b 0.75,
// lower-cased alphanumeric tokens), computed here, outside the node.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "actors/node.hpp"
#include "bench/subcommands.hpp"
#include "config/schema.hpp"
#include "nca/client.hpp"

namespace nca::bench {
namespace locomo_bench {
namespace {

using Json = nlohmann::json;
constexpr std::array<size_t, 4> kCutoffs = {1, 5, 10, 25};

struct Turn {
  std::string id;  // dia_id
  std::string text;
  std::string session;
  int64_t created_at_us = 0;
};

struct Question {
  std::string question;
  int category = 0;
  std::vector<std::string> evidence;
};

struct Conversation {
  std::string name;
  std::vector<Turn> turns;
  std::vector<Question> questions;
};

// "1:56 pm on 8 May, 2023" -> microseconds since the epoch (UTC); 0 if it does not parse.
int64_t parse_locomo_date(const std::string& text) {
  static const char* months[] = {"january",   "february", "march",    "april",
                                 "may",       "june",     "july",     "august",
                                 "september", "october",  "november", "december"};
  std::string s = text;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  for (char& c : s) {
    if (c == ',') c = ' ';
  }
  std::istringstream in(s);
  std::string clock, ampm, on, month;
  int day = 0, year = 0;
  in >> clock >> ampm >> on >> day >> month >> year;
  int hour = 0, minute = 0;
  std::sscanf(clock.c_str(), "%d:%d", &hour, &minute);
  if (ampm == "pm" && hour < 12) hour += 12;
  if (ampm == "am" && hour == 12) hour = 0;
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (month == months[i]) mon = i;
  }
  if (mon < 0 || year == 0) return 0;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000;
}

std::vector<std::string> split_evidence(const Json& ev) {
  std::vector<std::string> out;
  for (const auto& e : ev) {
    if (!e.is_string()) continue;
    std::string s = e.get<std::string>();
    std::string cur;
    for (char c : s + ";") {
      if (c == ';' || c == ',') {
        while (!cur.empty() && cur.back() == ' ') cur.pop_back();
        size_t start = cur.find_first_not_of(' ');
        if (start != std::string::npos) out.push_back(cur.substr(start));
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
  }
  return out;
}

Result<Conversation> load_conversation(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) return make_error(ErrorCode::not_found, "cannot read " + path.string());
  Json j;
  try {
    f >> j;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::invalid_argument, path.string() + ": " + e.what());
  }
  Conversation c;
  c.name = path.stem().string();
  for (int n = 1; n < 1000; ++n) {
    std::string key = "session_" + std::to_string(n);
    if (!j.contains(key)) {
      if (n > 1 && !j.contains(key + "_date_time")) break;
      continue;
    }
    int64_t when = parse_locomo_date(j.value(key + "_date_time", std::string{}));
    for (const auto& t : j[key]) {
      Turn turn;
      turn.id = t.value("dia_id", std::string{});
      turn.text = t.value("speaker", std::string{}) + ": " + t.value("text", std::string{});
      if (t.contains("blip_caption") && t["blip_caption"].is_string()) {
        turn.text += " [image: " + t["blip_caption"].get<std::string>() + "]";
      }
      turn.session = key;
      turn.created_at_us = when;
      if (!turn.id.empty()) c.turns.push_back(std::move(turn));
    }
  }
  for (const auto& q : j.value("qa", Json::array())) {
    Question question;
    question.category = q.value("category", 0);
    if (question.category < 1 || question.category > 4) continue;
    question.question = q.value("question", std::string{});
    if (q.contains("evidence")) question.evidence = split_evidence(q["evidence"]);
    if (!question.evidence.empty()) c.questions.push_back(std::move(question));
  }
  return c;
}

// The baseline: plain BM25 over the turns, independent of the node's tokenizer.
class PlainBm25 {
 public:
  explicit PlainBm25(const std::vector<Turn>& turns) {
    for (const auto& t : turns) {
      auto toks = tokens(t.text);
      std::unordered_map<std::string, int> tf;
      for (auto& w : toks) tf[w]++;
      for (const auto& [w, n] : tf) df_[w]++;
      docs_.push_back(std::move(tf));
      lengths_.push_back(toks.size());
      total_ += toks.size();
    }
  }
  std::vector<size_t> rank(const std::string& query, size_t k) const {
    double n = static_cast<double>(docs_.size());
    double avg = n > 0 ? static_cast<double>(total_) / n : 0;
    std::vector<double> score(docs_.size(), 0);
    for (const auto& w : tokens(query)) {
      auto d = df_.find(w);
      if (d == df_.end()) continue;
      double idf = std::log(1 + (n - d->second + 0.5) / (d->second + 0.5));
      for (size_t i = 0; i < docs_.size(); ++i) {
        auto it = docs_[i].find(w);
        if (it == docs_[i].end()) continue;
        double tf = it->second;
        score[i] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths_[i] / avg));
      }
    }
    std::vector<size_t> order(docs_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return score[a] > score[b]; });
    std::vector<size_t> out;
    for (size_t i = 0; i < order.size() && out.size() < k && score[order[i]] > 0; ++i) {
      out.push_back(order[i]);
    }
    return out;
  }

 private:
  static std::vector<std::string> tokens(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (std::isalnum(c)) {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else if (!cur.empty()) {
        out.push_back(std::move(cur));
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
  }
  std::vector<std::unordered_map<std::string, int>> docs_;
  std::vector<size_t> lengths_;
  std::unordered_map<std::string, int> df_;
  size_t total_ = 0;
};

struct Scores {
  std::array<double, 4> sum{};
  std::map<int, std::array<double, 4>> by_category;
  std::map<int, size_t> count_by_category;
  size_t questions = 0;
  std::vector<double> latency_us;

  // `only` < kCutoffs.size(): `ranked` is the answer to a query with k = kCutoffs[only]; count that
  // cutoff alone (and the question once, with the first cutoff).
  void add(const Question& q, const std::vector<std::string>& ranked,
           size_t only = kCutoffs.size()) {
    if (only == kCutoffs.size() || only == 0) {
      ++questions;
      count_by_category[q.category]++;
    }
    auto& cat = by_category[q.category];
    for (size_t c = 0; c < kCutoffs.size(); ++c) {
      if (only != kCutoffs.size() && c != only) continue;
      std::set<std::string> top(
          ranked.begin(), ranked.begin() + static_cast<long>(std::min(kCutoffs[c], ranked.size())));
      size_t found = 0;
      for (const auto& e : q.evidence) found += top.count(e);
      double r = static_cast<double>(found) / static_cast<double>(q.evidence.size());
      sum[c] += r;
      cat[c] += r;
    }
  }
  Json json() const {
    Json out;
    for (size_t c = 0; c < kCutoffs.size(); ++c) {
      out["r@" + std::to_string(kCutoffs[c])] = questions ? sum[c] / questions : 0.0;
    }
    Json cats;
    for (const auto& [cat, s] : by_category) {
      Json one;
      for (size_t c = 0; c < kCutoffs.size(); ++c) {
        one["r@" + std::to_string(kCutoffs[c])] = s[c] / count_by_category.at(cat);
      }
      cats[std::to_string(cat)] = one;
    }
    out["by_category"] = cats;
    if (!latency_us.empty()) {
      auto v = latency_us;
      std::sort(v.begin(), v.end());
      out["recall_p50_us"] = v[v.size() / 2];
      out["recall_p99_us"] = v[std::min(v.size() - 1, v.size() * 99 / 100)];
    }
    return out;
  }
};

struct Mode {
  std::string name;
  pb::RecallMode mode;
  bool spread;
};

int run(const std::vector<std::string>& args) {
  std::string data_dir = "../shared/data/locomo";
  bool json = false;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--data" && i + 1 < args.size()) {
      data_dir = args[++i];
    } else if (args[i] == "--set" && i + 1 < args.size()) {
      std::string kv = args[++i];
      auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::cerr << "nca-bench locomo: --set takes KEY=VALUE\n";
        return 2;
      }
      overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: nca-bench locomo [--data DIR] [--json] [--set KEY=VALUE]...\n"
                   "  turn-level evidence recall@1/5/10/25 on LoCoMo conversations (one persona\n"
                   "  per file), modes bm25 (baseline), vector, lexical, hybrid, hybrid_tubules\n";
      return 0;
    } else {
      std::cerr << "nca-bench locomo: unknown argument '" << args[i] << "'\n";
      return 2;
    }
  }
  std::vector<Conversation> convs;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(data_dir, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  if (ec || files.empty()) {
    std::cerr << "nca-bench locomo: no .json conversations in " << data_dir << "\n";
    return 1;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto c = load_conversation(f);
    if (!c) {
      std::cerr << "nca-bench locomo: " << c.error().message << "\n";
      return 1;
    }
    convs.push_back(std::move(*c));
  }

  spdlog::set_level(spdlog::level::warn);  // stdout carries the result only
  char tmpl[] = "/tmp/nca-locomo-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  config::Settings s = config::defaults();
  s.node.data_dir = dir;
  s.node.listen = "127.0.0.1:0";
  s.lymphatic.enabled = false;
  s.log.level = "warn";
  for (const auto& [k, v] : overrides) {
    if (auto st = config::set(s, k, v); !st) {
      std::cerr << "nca-bench locomo: " << st.error().message << "\n";
      return 2;
    }
  }
  auto node = actors::Node::start(s);
  if (!node) {
    std::cerr << "nca-bench locomo: " << node.error().message << "\n";
    return 1;
  }
  auto client = Client::connect({"127.0.0.1:" + std::to_string((*node)->port())});
  if (!client) {
    std::cerr << "nca-bench locomo: " << client.error().message << "\n";
    return 1;
  }

  std::vector<Mode> modes = {{"vector", pb::VECTOR, false},
                             {"lexical", pb::LEXICAL, false},
                             {"hybrid", pb::HYBRID, false},
                             {"hybrid_tubules", pb::HYBRID, true}};
  std::map<std::string, Scores> scores;
  std::map<std::string, Json> per_conversation;
  double ingest_s = 0;
  size_t turns = 0;
  for (const auto& c : convs) {
    std::string persona = "locomo-" + c.name;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<pb::MemoryInput> batch;
    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      auto r = (*client)->remember_batch(persona, batch);
      batch.clear();
      if (!r) std::cerr << "nca-bench locomo: ingest failed: " << r.error().message << "\n";
      return r.ok();
    };
    for (const auto& t : c.turns) {
      pb::MemoryInput in;
      in.set_id("c" + c.name + "-" + t.id);
      in.set_content(t.text);
      in.set_session_id(t.session);
      in.set_created_at_us(t.created_at_us);
      batch.push_back(std::move(in));
      if (batch.size() == 256 && !flush()) return 1;
    }
    if (!flush()) return 1;
    ingest_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    turns += c.turns.size();
    std::cerr << "locomo: " << c.name << ": " << c.turns.size() << " turns, " << c.questions.size()
              << " questions\n";

    PlainBm25 baseline(c.turns);
    Scores conv_bm25, conv_best;
    for (const auto& q : c.questions) {
      std::vector<std::string> ranked;
      for (size_t i : baseline.rank(q.question, 25)) ranked.push_back(c.turns[i].id);
      scores["bm25"].add(q, ranked);
      conv_bm25.add(q, ranked);
      // A recall of k items is what a user gets for k: each cutoff is its own query (spreading
      // depends on which hits are on top).
      for (const auto& m : modes) {
        for (size_t ci = 0; ci < kCutoffs.size(); ++ci) {
          pb::RecallRequest r;
          r.set_persona_id(persona);
          r.set_query(q.question);
          r.set_k(static_cast<uint32_t>(kCutoffs[ci]));
          r.set_mode(m.mode);
          r.set_spread(m.spread);
          r.set_no_reinforce(true);
          auto start = std::chrono::steady_clock::now();
          auto res = (*client)->recall(r);
          double us =
              std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                  .count();
          if (!res) {
            std::cerr << "nca-bench locomo: recall failed: " << res.error().message << "\n";
            return 1;
          }
          std::vector<std::string> got;
          std::string prefix = "c" + c.name + "-";
          for (const auto& h : res->hits()) got.push_back(h.item().id().substr(prefix.size()));
          scores[m.name].add(q, got, ci);
          if (kCutoffs[ci] == 10) scores[m.name].latency_us.push_back(us);
          if (m.name == "hybrid_tubules") conv_best.add(q, got, ci);
        }
      }
    }
    per_conversation[c.name] = {{"bm25_r@10", conv_bm25.json()["r@10"]},
                                {"hybrid_tubules_r@10", conv_best.json()["r@10"]}};
  }
  client->reset();
  (void)(*node)->stop();
  node->reset();
  std::filesystem::remove_all(dir);

  Json out;
  out["questions"] = scores["bm25"].questions;
  out["turns"] = turns;
  out["ingest_s"] = ingest_s;
  Json jm;
  for (const auto& name : {"bm25", "vector", "lexical", "hybrid", "hybrid_tubules"}) {
    jm[name] = scores[name].json();
  }
  out["modes"] = jm;
  out["per_conversation"] = per_conversation;
  double gain = jm["hybrid_tubules"]["r@10"].get<double>() - jm["bm25"]["r@10"].get<double>();
  out["hybrid_tubules_minus_bm25_r@10"] = gain;
  out["target_met"] = gain >= 0.08;
  if (json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::cout << "LoCoMo turn-level evidence recall (" << out["questions"] << " questions, " << turns
            << " turns, ingest " << std::fixed << std::setprecision(2) << ingest_s << " s)\n";
  std::cout << std::left << std::setw(16) << "mode" << std::right;
  for (size_t c : kCutoffs) std::cout << std::setw(8) << ("R@" + std::to_string(c));
  std::cout << std::setw(12) << "p50 us" << std::setw(12) << "p99 us"
            << "\n";
  for (const auto& name : {"bm25", "vector", "lexical", "hybrid", "hybrid_tubules"}) {
    const Json& m = jm[name];
    std::cout << std::left << std::setw(16) << name << std::right << std::setprecision(3);
    for (size_t c : kCutoffs)
      std::cout << std::setw(8) << m["r@" + std::to_string(c)].get<double>();
    if (m.contains("recall_p50_us")) {
      std::cout << std::setprecision(0) << std::setw(12) << m["recall_p50_us"].get<double>()
                << std::setw(12) << m["recall_p99_us"].get<double>();
    }
    std::cout << "\n";
  }
  std::cout << std::setprecision(3) << "hybrid_tubules R@10 - bm25 R@10 = " << gain
            << (gain >= 0.08 ? " (target +0.08 met)" : " (target +0.08 MISSED)") << "\n";
  return 0;
}

}  // namespace
}  // namespace locomo_bench

int run_locomo(const std::vector<std::string>& args) { return locomo_bench::run(args); }

}  // namespace nca::bench
