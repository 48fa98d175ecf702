// nca backup / nca restore (docs/operations.md). A backup is a directory: one checkpoint file per
// shard, as the shard's serving leader took it (storage/shard_snapshot.hpp, checksummed), and
// manifest.json, written last, naming each file with its size, SHA-256, the shard's applied Raft
// index and when it was taken. A directory without a manifest is not a backup. `nca restore`
// checks every file against the manifest before it sends anything, then loads each shard into the
// node or cluster at --addr, which must have the same number of shards and hold nothing yet.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/crypto.hpp"
#include "tools/cli/exit_codes.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {
namespace {

namespace fs = std::filesystem;
constexpr char kFormat[] = "neuroca-backup/1";
constexpr char kManifest[] = "manifest.json";
// A checkpoint of an empty shard: the header (magic and version) and the checksum.
constexpr size_t kEmptyCheckpointBytes = 9;

std::string shard_file(uint32_t shard) {
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%04u.ncss", shard);
  return name;
}

// Writes `bytes` to `path` through path.partial, fsynced, then renamed.
Status write_durably(const fs::path& path, std::string_view bytes) {
  const std::string partial = path.string() + ".partial";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  size_t done = 0;
  while (ok && done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok || std::rename(partial.c_str(), path.c_str()) != 0) {
    return make_error(ErrorCode::unavailable,
                      "cannot write '" + path.string() + "': " + std::strerror(errno));
  }
  return {};
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::invalid_argument, "cannot read '" + path.string() + "'");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- nca backup ------------------------------------------------------------------------------

void declare_backup(po::options_description& options, po::options_description&,
                    po::positional_options_description&) {
  options.add_options()  //
      ("out,o", po::value<std::string>()->value_name("DIR"),
       "directory to create for the backup (must not exist or be empty)");
}

Result<pb::Request> check_backup(const po::variables_map& values) {
  std::string out = text_of(values, "out");
  if (out.empty()) return make_error(ErrorCode::invalid_argument, "missing --out DIR");
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    return make_error(ErrorCode::invalid_argument,
                      "--out '" + out + "' is not empty: a backup never overwrites another");
  }
  return pb::Request();
}

int run_backup(const po::variables_map& values, RunContext& context) {
  const fs::path dir = text_of(values, "out");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return report(make_error(ErrorCode::invalid_argument,
                             "cannot create '" + dir.string() + "': " + ec.message()),
                  false, context.err);
  }
  const int64_t started = now_us();
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  uint32_t shards = 1;
  uint64_t total_bytes = 0;
  for (uint32_t shard = 0; shard < shards; ++shard) {
    pb::Request req;
    req.mutable_backup_shard()->set_shard(shard);
    auto resp = context.client.call(req);
    if (!resp) {
      context.err << "nca: backup of shard " << shard << " failed; " << dir.string()
                  << " has no manifest and is not a backup\n";
      return report(resp.error(), true, context.err);
    }
    const auto& cp = resp->backup_shard();
    shards = cp.shards();
    if (auto s = write_durably(dir / shard_file(shard), cp.checkpoint()); !s) {
      return report(s.error(), false, context.err);
    }
    total_bytes += cp.checkpoint().size();
    entries.push_back({{"shard", shard},
                       {"file", shard_file(shard)},
                       {"bytes", cp.checkpoint().size()},
                       {"sha256", sha256_hex(cp.checkpoint())},
                       {"applied_index", cp.applied_index()},
                       {"node_id", cp.node_id()},
                       {"taken_at_us", cp.taken_at_us()}});
    if (context.err_is_terminal) {
      context.err << "\rshard " << shard + 1 << "/" << shards << std::flush;
    }
  }
  if (context.err_is_terminal) context.err << "\n";
  nlohmann::ordered_json manifest = {{"format", kFormat},          {"started_at_us", started},
                                     {"finished_at_us", now_us()}, {"shards", shards},
                                     {"bytes", total_bytes},       {"entries", entries}};
  if (auto s = write_durably(dir / kManifest, manifest.dump(2) + "\n"); !s) {
    return report(s.error(), false, context.err);
  }
  const double seconds = double(now_us() - started) / 1e6;
  if (context.json) {
    context.out_stream << nlohmann::ordered_json{{"backup", dir.string()},
                                                 {"shards", shards},
                                                 {"bytes", total_bytes},
                                                 {"seconds", seconds}}
                              .dump()
                       << "\n";
  } else {
    context.out.line("backed up " + std::to_string(shards) + " shards (" +
                     std::to_string(total_bytes) + " bytes) to " + dir.string() + " in " +
                     std::to_string(seconds) + " s");
  }
  return kExitOk;
}

// --- nca restore --from ----------------------------------------------------------------------

struct Checked {
  uint32_t shards = 0;
  std::vector<std::pair<uint32_t, std::string>> checkpoints;  // shard, bytes
};

// Every file read and checked against the manifest: nothing is sent from a damaged backup.
Result<Checked> check_backup_dir(const fs::path& dir) {
  auto text = read_file(dir / kManifest);
  if (!text) {
    return make_error(ErrorCode::invalid_argument,
                      dir.string() + " has no readable manifest.json: not a complete backup");
  }
  auto manifest = nlohmann::json::parse(*text, nullptr, false);
  if (!manifest.is_object() || manifest.value("format", "") != kFormat ||
      !manifest["shards"].is_number_unsigned() || !manifest["entries"].is_array()) {
    return make_error(ErrorCode::invalid_argument,
                      (dir / kManifest).string() + " is not a " + kFormat + " manifest");
  }
  Checked out;
  out.shards = manifest["shards"].get<uint32_t>();
  if (manifest["entries"].size() != out.shards) {
    return make_error(ErrorCode::invalid_argument,
                      "the manifest lists " + std::to_string(manifest["entries"].size()) +
                          " checkpoints for " + std::to_string(out.shards) + " shards");
  }
  for (const auto& e : manifest["entries"]) {
    if (!e.is_object() || !e["shard"].is_number_unsigned() || !e["file"].is_string() ||
        !e["sha256"].is_string()) {
      return make_error(ErrorCode::invalid_argument, "a manifest entry is malformed");
    }
    const std::string file = e["file"].get<std::string>();
    if (file.find('/') != std::string::npos || file.empty() || file[0] == '.') {
      return make_error(ErrorCode::invalid_argument, "a manifest entry names '" + file + "'");
    }
    auto bytes = read_file(dir / file);
    if (!bytes) return bytes.error();
    if (sha256_hex(*bytes) != e["sha256"].get<std::string>()) {
      return make_error(ErrorCode::data_loss, (dir / file).string() +
                                                  " does not match its SHA-256 in the manifest: "
                                                  "the backup is damaged; nothing was restored");
    }
    out.checkpoints.emplace_back(e["shard"].get<uint32_t>(), std::move(*bytes));
  }
  return out;
}

}  // namespace

int restore_from_backup(const po::variables_map& values, RunContext& context) {
  const fs::path dir = text_of(values, "from");
  auto checked = check_backup_dir(dir);
  if (!checked) return report(checked.error(), false, context.err);
  const int64_t started = now_us();
  uint64_t records = 0, restored = 0;
  for (auto& [shard, bytes] : checked->checkpoints) {
    if (bytes.size() <= kEmptyCheckpointBytes) continue;  // nothing to load
    pb::Request req;
    auto* r = req.mutable_restore_shard();
    r->set_shard(shard);
    r->set_shards(checked->shards);
    r->set_checkpoint(std::move(bytes));
    auto resp = context.client.call(req);
    if (!resp) {
      context.err << "nca: restore of shard " << shard << " failed after " << restored
                  << " shards were loaded\n";
      return report(resp.error(), true, context.err);
    }
    records += resp->restore_shard().records();
    ++restored;
    if (context.err_is_terminal) context.err << "\rshard " << shard + 1 << std::flush;
  }
  if (context.err_is_terminal) context.err << "\n";
  const double seconds = double(now_us() - started) / 1e6;
  if (context.json) {
    context.out_stream << nlohmann::ordered_json{{"restored_shards", restored},
                                                 {"records", records},
                                                 {"seconds", seconds}}
                              .dump()
                       << "\n";
  } else {
    context.out.line("restored " + std::to_string(restored) + " shards (" +
                     std::to_string(records) + " records) from " + dir.string() + " in " +
                     std::to_string(seconds) + " s");
  }
  return kExitOk;
}

const VerbSpec& backup_verb() {
  static const VerbSpec verb = {"backup",
                                "backup --out DIR",
                                "take an online, consistent backup of every shard (admin)",
                                "nca backup --out /backups/neuroca-$(date +%F)",
                                declare_backup,
                                check_backup,
                                nullptr,
                                run_backup};
  return verb;
}

}  // namespace nca::cli
