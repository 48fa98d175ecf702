// `nca-bench soak --minutes M`: a cluster of nca-node processes on loopback under mixed load
// (remember, recall, get) from --callers SDK clients, while a killer SIGKILLs a random node every
// --kill-every seconds and starts it again on its data. At the end, with every node back and every
// shard led, each acknowledged remember is read back by id: the run fails (exit 1) if any is
// missing (lost) or differs (corrupt). Errors while nodes die are expected and counted by code;
// losing an acknowledged write is not.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.hpp"
#include "bench/local_cluster.hpp"
#include "bench/subcommands.hpp"
#include "nca/client.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "tests/support/loopback_port.hpp"

namespace nca::bench {
namespace soak_bench {
namespace {

namespace po = boost::program_options;

struct SoakOptions {
  double minutes = 10;
  size_t nodes = 3;
  size_t callers = 4;
  double kill_every_s = 30;
  size_t personas = 32;
  uint32_t shards = 16;
  uint64_t seed = 0;
  bool keep_logs = false;
  bool json = false;
};

struct Acked {
  std::string id, persona, content;
};

struct Outcome {
  std::atomic<uint64_t> remembers{0}, recalls{0}, gets{0}, get_mismatches{0};
  std::mutex mu;                           // guards the members below
  std::map<std::string, uint64_t> errors;  // by code, while nodes come and go
  std::vector<Acked> acked;
  size_t kills = 0;
  std::vector<double> rejoin_s;
  uint64_t verified = 0, lost = 0, corrupt = 0;
  double verify_s = 0;
  std::vector<std::string> lost_ids;
  std::vector<std::string> error_examples;  // the first few distinct errors, "code: message"
  // Persona tiers the nodes rebuilt from RocksDB at an activation (their logs' lines): a node that
  // comes back and leads again pays these while its callers wait.
  uint64_t index_rebuilds = 0;
  // Stalls the nodes logged: Raft rounds, storage writes or fsyncs of a second or more, and
  // RocksDB write stalls (storage/slow_io.hpp).
  uint64_t slow_rounds = 0, slow_storage_ops = 0, write_stalls = 0;
};

void caller(size_t c, const SoakOptions& o, const std::vector<std::string>& addresses,
            const std::atomic<bool>& stop, Outcome& out) {
  std::mt19937_64 rng(o.seed * 7919 + c);
  std::unique_ptr<Client> client;
  std::vector<Acked> mine;
  uint64_t n = 0;
  auto error = [&](const Error& e) {
    std::lock_guard<std::mutex> lock(out.mu);
    out.errors[to_string(e.code)]++;
    if (out.error_examples.size() >= 5) return;
    const std::string example = e.to_string();
    for (const auto& seen : out.error_examples) {
      if (seen.size() >= example.size() &&
          seen.compare(seen.size() - example.size(), example.size(), example) == 0) {
        return;
      }
    }
    // Stamped with the wall clock (UTC), to find the moment in the nodes' logs.
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    out.error_examples.push_back(stamp + example);
  };
  while (!stop.load()) {  // bounded by the soak's deadline
    if (!client) {
      ClientOptions opts;
      opts.request_timeout = std::chrono::milliseconds(5000);
      auto made = Client::connect(addresses, opts);
      if (!made) {
        error(made.error());
        continue;
      }
      client = std::move(*made);
    }
    const std::string persona = "soak-" + std::to_string(rng() % o.personas);
    const unsigned op = rng() % 100;
    if (op < 55 || mine.empty()) {
      pb::MemoryInput m;
      m.set_id("soak-" + std::to_string(c) + "-" + std::to_string(n++));
      m.set_content("caller " + std::to_string(c) + " fact " + std::to_string(n) + " for " +
                    persona + " " + std::to_string(rng()));
      auto r = client->remember(persona, m);
      if (r) {
        mine.push_back({m.id(), persona, m.content()});
        out.remembers++;
      } else {
        error(r.error());
      }
    } else if (op < 80) {
      auto r = client->recall(persona, "fact for " + persona, 5);
      r ? void(out.recalls++) : error(r.error());
    } else {
      const Acked& a = mine[rng() % mine.size()];
      pb::Request req;
      req.mutable_get()->set_id(a.id);
      req.mutable_get()->set_persona_id(a.persona);
      auto r = client->call(req);
      if (!r) {
        error(r.error());
      } else if (r->get().item().content() != a.content) {
        out.get_mismatches++;
      } else {
        out.gets++;
      }
    }
  }
  std::lock_guard<std::mutex> lock(out.mu);
  out.acked.insert(out.acked.end(), mine.begin(), mine.end());
}

bool cluster_led(const std::vector<std::string>& addresses, uint32_t shards) {
  auto c = Client::connect(addresses);
  return c && !shard_leaders(**c, shards).empty();
}

Status soak(const SoakOptions& o, const std::string& dir, Outcome& out) {
  std::vector<std::string> addresses;
  std::vector<std::unique_ptr<Process>> nodes;
  // Short-term memory past its capacity forgets its least healthy items at the persona's next
  // lymphatic tick, by design; the soak writes more than that per persona, and checks that
  // nothing acknowledged is lost to failures, so capacity must not forget any of it.
  const std::vector<std::string> extra = {"--memory.stm-capacity", "100000000"};
  if (auto s = start_nodes(o.nodes, dir, o.shards, &addresses, &nodes, extra); !s) return s;
  progress("soak: " + std::to_string(o.nodes) + " nodes starting");
  if (auto s = await_nodes([&] { return cluster_led(addresses, o.shards); },
                           std::chrono::seconds(60), nodes, "the cluster did not lead its shards");
      !s) {
    return s;
  }
  progress("soak: load for " + std::to_string(o.minutes) + " min, a SIGKILL every " +
           std::to_string(o.kill_every_s) + " s");
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (size_t c = 0; c < o.callers; ++c) {
    callers.emplace_back([&, c] { caller(c, o, addresses, stop, out); });
  }
  std::mt19937_64 rng(o.seed);
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.minutes * 60e3));
  const auto every = std::chrono::milliseconds(static_cast<int64_t>(o.kill_every_s * 1e3));
  Status failed;
  for (auto next = Clock::now() + every; next < end; next += every) {  // bounded by `end`
    while (Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const size_t victim = rng() % o.nodes;
    nodes[victim]->kill();
    out.kills++;
    // Down for 1-4 s: long enough for its shards to fail over, sometimes past cluster.dead-after.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 3000));
    if (auto s = nodes[victim]->restart(); !s) {
      failed = s;
      break;
    }
    const auto restarted = Clock::now();
    if (!await([&] { return cluster_led({addresses[victim]}, o.shards); },
               std::chrono::seconds(60))) {
      failed = make_error(ErrorCode::unavailable,
                          "node " + std::to_string(victim + 1) + " did not rejoin within 60 s");
      break;
    }
    out.rejoin_s.push_back(std::chrono::duration<double>(Clock::now() - restarted).count());
    progress("soak: kill " + std::to_string(out.kills) + " (node " + std::to_string(victim + 1) +
             ") rejoined in " + std::to_string(out.rejoin_s.back()) + " s; " +
             std::to_string(out.remembers.load()) + " remembers acknowledged");
  }
  while (failed.ok() && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (auto& t : callers) t.join();
  if (!failed.ok()) return failed;

  progress("soak: verifying " + std::to_string(out.acked.size()) + " acknowledged writes");
  if (!await([&] { return cluster_led(addresses, o.shards); }, std::chrono::seconds(60))) {
    // What each node sees, for whoever reads the kept logs.
    for (size_t i = 0; i < addresses.size(); ++i) {
      auto c = Client::connect({addresses[i]});
      auto st = c ? (*c)->cluster_status() : Result<pb::ClusterStatusReply>(c.error());
      std::string leaders;
      if (st) {
        for (const auto& sh : st->shards()) {
          leaders += " " + std::to_string(sh.shard()) + ":" + std::to_string(sh.leader());
        }
      }
      progress("node " + std::to_string(i + 1) + ": " +
               (st ? "shard:leader" + leaders : st.error().message));
    }
    return make_error(ErrorCode::unavailable, "the cluster did not settle after the soak");
  }
  const auto verify_start = Clock::now();
  auto reader = Client::connect(addresses);
  if (!reader) return reader.error();
  // Each persona is read whole, a page at a time, and every acknowledged write looked up in it.
  std::map<std::string, std::map<std::string, std::string>> stored;  // persona -> id -> content
  std::map<std::string, bool> wanted;
  for (const Acked& a : out.acked) wanted[a.persona] = true;
  for (const auto& [persona, unused] : wanted) {
    std::string token;
    for (int page = 0; page < 100000; ++page) {
      pb::ListRequest list;
      list.set_persona_id(persona);
      list.set_page_size(1000);
      list.set_page_token(token);
      Result<pb::ListReply> r = make_error(ErrorCode::unavailable, "not asked");
      // A transient refusal (a shard between leaders) is asked again.
      for (int attempt = 0; attempt < 50; ++attempt) {
        r = (*reader)->list(list);
        if (r || (r.code() != ErrorCode::unavailable && r.code() != ErrorCode::deadline_exceeded)) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!r) {
        if (r.code() == ErrorCode::not_found) break;
        return make_error(r.code(),
                          "cannot read persona " + persona + " back: " + r.error().message);
      }
      for (const auto& item : r->items()) stored[persona][item.id()] = item.content();
      token = r->next_page_token();
      if (token.empty()) break;
    }
  }
  for (const Acked& a : out.acked) {
    auto& mine = stored[a.persona];
    auto it = mine.find(a.id);
    if (it == mine.end()) {
      out.lost++;
      if (out.lost_ids.size() < 10) out.lost_ids.push_back(a.persona + "/" + a.id);
    } else if (it->second != a.content) {
      out.corrupt++;
    } else {
      out.verified++;
    }
  }
  out.verify_s = std::chrono::duration<double>(Clock::now() - verify_start).count();
  return {};
}

nlohmann::ordered_json to_json(const SoakOptions& o, const Outcome& r) {
  nlohmann::ordered_json j;
  j["benchmark"] = "soak";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["minutes"] = o.minutes;
  j["nodes"] = o.nodes;
  j["callers"] = o.callers;
  j["seed"] = o.seed;
  j["kills"] = r.kills;
  double worst = 0;
  for (double s : r.rejoin_s) worst = std::max(worst, s);
  j["rejoin_s_max"] = json_number(worst, 2);
  j["remembers_acknowledged"] = r.remembers.load();
  j["recalls"] = r.recalls.load();
  j["gets"] = r.gets.load();
  j["get_mismatches"] = r.get_mismatches.load();
  j["errors"] = r.errors;
  j["error_examples"] = r.error_examples;
  j["verified"] = r.verified;
  j["lost"] = r.lost;
  j["corrupt"] = r.corrupt;
  j["lost_examples"] = r.lost_ids;
  j["verify_s"] = json_number(r.verify_s, 2);
  j["index_rebuilds"] = r.index_rebuilds;
  j["slow_raft_rounds"] = r.slow_rounds;
  j["slow_storage_ops"] = r.slow_storage_ops;
  j["write_stalls"] = r.write_stalls;
  return j;
}

void print_table(const SoakOptions& o, const Outcome& r) {
  uint64_t errors = 0;
  for (const auto& [code, n] : r.errors) errors += n;
  std::vector<TableRow> rows = {
      {"minutes", table_number(o.minutes, 1), "", "", ""},
      {"SIGKILLs", std::to_string(r.kills), "", "", ""},
      {"remembers acknowledged", std::to_string(r.remembers.load()), "", "", ""},
      {"recalls / gets", std::to_string(r.recalls.load()) + " / " + std::to_string(r.gets.load()),
       "", "", ""},
      {"errors while nodes died", std::to_string(errors), "", "", ""},
      {"acknowledged and read back", std::to_string(r.verified), "", "", ""},
      {"index rebuilds (nodes' logs)", std::to_string(r.index_rebuilds), "", "", ""},
      {"slow Raft rounds / storage ops / write stalls (logs)",
       std::to_string(r.slow_rounds) + " / " + std::to_string(r.slow_storage_ops) + " / " +
           std::to_string(r.write_stalls),
       "", "", ""},
      {"lost", std::to_string(r.lost), "", "0", r.lost == 0 ? "yes" : "NO"},
      {"corrupt (read back differently)", std::to_string(r.corrupt + r.get_mismatches.load()), "",
       "0", r.corrupt + r.get_mismatches.load() == 0 ? "yes" : "NO"},
  };
  print_rows(rows);
  for (const auto& e : r.error_examples) std::printf("error seen: %s\n", e.c_str());
}

int run(const std::vector<std::string>& args) {
  SoakOptions o;
  po::options_description desc("nca-bench soak options");
  desc.add_options()                                                                              //
      ("minutes", po::value<double>(&o.minutes)->default_value(o.minutes), "length of the soak")  //
      ("nodes", po::value<size_t>(&o.nodes)->default_value(o.nodes), "nodes (3 or more)")         //
      ("callers", po::value<size_t>(&o.callers)->default_value(o.callers), "concurrent clients")  //
      ("kill-every", po::value<double>(&o.kill_every_s)->default_value(o.kill_every_s),
       "seconds between SIGKILLs")  //
      ("personas", po::value<size_t>(&o.personas)->default_value(o.personas),
       "personas written")                                                                      //
      ("shards", po::value<uint32_t>(&o.shards)->default_value(o.shards), "cluster.shards")     //
      ("seed", po::value<uint64_t>(&o.seed)->default_value(0), "random seed (0: a fresh one)")  //
      ("keep-logs", po::bool_switch(&o.keep_logs),
       "keep the nodes' logs (otherwise kept only when a request failed)")  //
      ("json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  int exit_code = 0;
  auto vm = parse_subcommand_args("soak", desc, args, &exit_code);
  if (!vm) return exit_code;
  if (o.nodes < 3 || o.callers == 0 || o.personas == 0 || o.shards == 0 || !(o.minutes > 0) ||
      !(o.kill_every_s >= 1)) {
    std::cerr << "nca-bench soak: --nodes must be at least 3, --kill-every at least 1 s, and "
                 "--minutes, --callers, --personas and --shards positive\n";
    return 2;
  }
  if (o.seed == 0) o.seed = std::random_device{}() | 1;
  progress("soak: seed " + std::to_string(o.seed));
  TempDir dir("nca-bench-soak");
  if (dir.path().empty()) {
    std::cerr << "nca-bench soak: cannot create a temporary directory\n";
    return 1;
  }
  Outcome out;
  if (auto s = soak(o, dir.path(), out); !s) {
    std::cerr << "nca-bench soak: " << s.error().to_string() << "\n";
    keep_node_logs(dir.path(), "soak");
    return 1;
  }
  const auto counts = count_log_lines(
      dir.path(), {"rebuilding the vector index", "raft: a round of this node's groups took",
                   "ms (the disk or the machine is overloaded", "(were normal)"});
  out.index_rebuilds = counts[0];
  out.slow_rounds = counts[1];
  out.slow_storage_ops = counts[2];
  out.write_stalls = counts[3];
  // The logs of a run with errors too: they say why a request failed.
  if (o.keep_logs || out.lost + out.corrupt + out.get_mismatches.load() > 0 ||
      !out.errors.empty()) {
    keep_node_logs(dir.path(), "soak");
  }
  int code = print_result(
      o.json, [&] { return to_json(o, out).dump(); }, [&] { print_table(o, out); });
  return out.lost + out.corrupt + out.get_mismatches.load() == 0 ? code : 1;
}

}  // namespace
}  // namespace soak_bench

int run_soak(const std::vector<std::string>& args) { return soak_bench::run(args); }

}  // namespace nca::bench
