// nca import: JSONL of memories into the node, in remember_batch calls.
//
// Lines are grouped per persona into batches of --batch memories. Every line has an id (its own or
// a derived one, memory_line.hpp), and the node answers a known id with created=false without
// changing anything, so a second run of the same file imports nothing and counts every line as
// skipped: an import that stopped half-way is resumed by running it again. A batch is all or
// nothing on the node; when the node rejects one memory of it ("memories[3]: ..."), that line is
// reported with its number and, with --continue-on-error, the rest of the batch is sent again
// without it.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "tools/cli/exit_codes.hpp"
#include "tools/cli/memory_line.hpp"
#include "tools/cli/progress.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {

namespace {

// Per-line messages shown (and kept for --json); more failures are only counted.
constexpr size_t kMaxReportedErrors = 100;
// Pending batches of this many personas are all sent before another persona starts one, so a file
// that interleaves many personas does not hold them all in memory.
constexpr size_t kMaxPendingPersonas = 64;

struct ImportOptions {
  std::string path;  // "-" is stdin
  std::string persona;
  uint32_t batch = 200;
  bool continue_on_error = false;
  bool derive_ids = false;
};

Result<ImportOptions> import_options(const po::variables_map& values) {
  ImportOptions options;
  options.path = text_of(values, "file");
  if (options.path.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "missing FILE: the JSONL to import, or - for stdin");
  }
  options.persona = text_of(values, "persona");
  auto batch = count_of(values, "batch", "--batch", 1, 1000);
  if (!batch.ok()) return batch.error();
  options.batch = *batch;
  options.continue_on_error = values["continue-on-error"].as<bool>();
  options.derive_ids = values["derive-ids"].as<bool>();
  return options;
}

void declare_import(po::options_description& options, po::options_description& hidden,
                    po::positional_options_description& positional) {
  options.add_options()  //
      ("persona", po::value<std::string>()->value_name("P"),
       "import every line into this persona (lines' persona_id is then ignored)")  //
      ("batch", po::value<std::string>()->default_value("200")->value_name("N"),
       "memories per remember_batch call (1..1000, at most the node's memory.max-batch)")  //
      ("continue-on-error", po::bool_switch(),
       "report bad lines and go on (exit 6 at the end) instead of stopping at the first")  //
      ("derive-ids", po::bool_switch(),
       "ignore the lines' ids and derive them (to copy memories into another persona of the "
       "same tenant)");
  hidden.add_options()("file", po::value<std::string>());
  positional.add("file", 1);
}

Result<pb::Request> check_import(const po::variables_map& values) {
  auto options = import_options(values);
  if (!options.ok()) return options.error();
  if (options->path != "-") {
    std::ifstream file(options->path);
    if (!file) {
      return make_error(ErrorCode::invalid_argument,
                        "cannot open '" + options->path + "': " + std::strerror(errno));
    }
  }
  return pb::Request();
}

// A batch of one persona: the memories and the line each came from.
struct Batch {
  std::vector<pb::MemoryInput> memories;
  std::vector<uint64_t> lines;
  std::set<std::string> ids;
};

// The index in "memories[3]: content must not be empty", and the message without it.
std::optional<size_t> failing_index(const std::string& message, std::string* rest) {
  const std::string prefix = "memories[";
  if (message.rfind(prefix, 0) != 0) return std::nullopt;
  size_t at = prefix.size();
  size_t index = 0;
  size_t digits = 0;
  while (at < message.size() && std::isdigit(static_cast<unsigned char>(message[at])) &&
         digits < 9) {
    index = index * 10 + static_cast<size_t>(message[at] - '0');
    ++at;
    ++digits;
  }
  if (digits == 0 || message.compare(at, 3, "]: ") != 0) return std::nullopt;
  *rest = message.substr(at + 3);
  return index;
}

class Importer {
 public:
  Importer(RunContext& context, ImportOptions options, Progress& progress)
      : context_(context), options_(std::move(options)), progress_(progress) {}

  // Imports every line of `in`; returns the exit code after printing the summary.
  int run(std::istream& in) {
    std::string text;
    uint64_t line = 0;
    uint64_t bytes = 0;
    while (!stop_ && std::getline(in, text)) {
      ++line;
      bytes += text.size() + 1;
      progress_.update(line, bytes);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      bool blank = true;
      for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
      if (blank) continue;
      ++lines_;
      add(line, text);
    }
    if (!stop_ && in.bad()) {
      stop_ = make_error(ErrorCode::unavailable,
                         "cannot read " + source_name() + " after line " + std::to_string(line));
    }
    if (!stop_) flush_all();
    progress_.finish();
    return finish();
  }

 private:
  std::string source_name() const {
    return options_.path == "-" ? "standard input" : "'" + options_.path + "'";
  }

  void add(uint64_t line, const std::string& text) {
    Result<MemoryLine> parsed = parse_memory_line(text, options_.persona);
    if (!parsed.ok()) {
      fail_line(line, parsed.error());
      return;
    }
    if (options_.derive_ids && !parsed->derived_id) {
      parsed->memory.set_id(derived_memory_id(parsed->persona_id, parsed->memory));
    }
    if (pending_.size() >= kMaxPendingPersonas && pending_.count(parsed->persona_id) == 0) {
      if (!flush_all()) return;
    }
    Batch& batch = pending_[parsed->persona_id];
    // The same id twice in one call is an error on the node; apart, the second is skipped.
    if (batch.ids.count(parsed->memory.id()) != 0) {
      if (!flush(parsed->persona_id)) return;
    }
    Batch& open = pending_[parsed->persona_id];
    open.ids.insert(parsed->memory.id());
    open.memories.push_back(std::move(parsed->memory));
    open.lines.push_back(line);
    if (open.memories.size() >= options_.batch) flush(parsed->persona_id);
  }

  bool flush_all() {
    // A copy: flush() erases the map entry whose key this is.
    while (!stop_ && !pending_.empty()) flush(std::string(pending_.begin()->first));
    return !stop_;
  }

  // Sends the persona's pending batch. False when the import must stop.
  bool flush(const std::string& persona) {
    auto found = pending_.find(persona);
    if (found == pending_.end()) return !stop_;
    Batch batch = std::move(found->second);
    pending_.erase(found);
    return send(persona, std::move(batch));
  }

  // Each round either ends the batch or takes one rejected line out of it: at most size+1 calls.
  bool send(const std::string& persona, Batch batch) {
    while (!batch.memories.empty()) {
      Result<pb::RememberBatchReply> reply =
          context_.client.remember_batch(persona, batch.memories);
      if (reply.ok()) {
        if (static_cast<size_t>(reply->results_size()) != batch.memories.size()) {
          stop_ = make_error(ErrorCode::internal,
                             "the node answered " + std::to_string(reply->results_size()) +
                                 " results for " + std::to_string(batch.memories.size()) +
                                 " memories (lines " + line_range(batch) + ")");
          return false;
        }
        for (const pb::RememberReply& result : reply->results()) {
          ++(result.created() ? imported_ : skipped_);
        }
        return true;
      }
      const Error& error = reply.error();
      bool about_a_line =
          error.code == ErrorCode::invalid_argument || error.code == ErrorCode::already_exists;
      std::string message;
      std::optional<size_t> index = failing_index(error.message, &message);
      if (about_a_line && !index && batch.memories.size() == 1) {
        index = 0;
        message = error.message;
      }
      bool batch_too_big = error.message.find("memory.max-batch") != std::string::npos;
      if (!about_a_line || !index || *index >= batch.memories.size()) {
        if (about_a_line && options_.continue_on_error && batch.memories.size() > 1 && !index &&
            !batch_too_big) {
          // The node did not say which line: send them one by one to find out.
          for (size_t i = 0; i < batch.memories.size() && !stop_; ++i) {
            Batch single;
            single.memories.push_back(std::move(batch.memories[i]));
            single.lines.push_back(batch.lines[i]);
            send(persona, std::move(single));
          }
          return !stop_;
        }
        std::string hint = batch_too_big ? " (use a smaller --batch)" : "";
        stop_ = Error{error.code, "lines " + line_range(batch) + " (persona " + persona +
                                      "): " + error.message + hint};
        return false;
      }
      fail_line(batch.lines[*index], Error{error.code, message});
      if (stop_) return false;
      batch.memories.erase(batch.memories.begin() + static_cast<long>(*index));
      batch.lines.erase(batch.lines.begin() + static_cast<long>(*index));
    }
    return true;
  }

  static std::string line_range(const Batch& batch) {
    if (batch.lines.empty()) return "-";
    return std::to_string(batch.lines.front()) + "-" + std::to_string(batch.lines.back());
  }

  // A line that cannot be imported: reported, and the end of the import unless
  // --continue-on-error.
  void fail_line(uint64_t line, const Error& error) {
    ++failed_;
    Error named{error.code, "line " + std::to_string(line) + ": " + error.message};
    if (!options_.continue_on_error) {
      stop_ = named;
      stop_line_error_ = error;
      stopped_at_line_ = line;
      return;
    }
    if (errors_.size() < kMaxReportedErrors) {
      errors_.push_back({line, error});
      progress_.message("nca: " + std::string(to_string(named.code)) + ": " + named.message);
    } else if (errors_.size() == kMaxReportedErrors && !said_more_) {
      said_more_ = true;
      progress_.message("nca: more lines failed; they are counted in the summary");
    }
  }

  int finish() {
    int code = kExitOk;
    if (stop_) {
      code = stopped_at_line_ != 0 ? kExitInvalidArgument : exit_code_of(*stop_, true);
      report(*stop_, true, context_.err);
      if (stopped_at_line_ != 0) {
        context_.err << "nca: stopped at line " << stopped_at_line_
                     << "; fix it (or pass --continue-on-error) and run the same command again: "
                        "memories already imported are skipped\n";
      } else {
        context_.err << "nca: import stopped; run the same command again to resume: memories "
                        "already imported are skipped\n";
      }
    } else if (failed_ > 0) {
      code = kExitInvalidArgument;
    }
    if (context_.json) {
      nlohmann::ordered_json summary = {{"imported", imported_},
                                        {"skipped", skipped_},
                                        {"failed", failed_},
                                        {"lines", lines_},
                                        {"complete", !stop_}};
      nlohmann::ordered_json errors = nlohmann::ordered_json::array();
      // Lines the node rejected are known after lines rejected here: report them in file order.
      std::stable_sort(errors_.begin(), errors_.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [line, error] : errors_) {
        errors.push_back(
            {{"line", line}, {"code", to_string(error.code)}, {"message", error.message}});
      }
      if (stop_) {
        errors.push_back(
            {{"line", stopped_at_line_},
             {"code", to_string(stop_->code)},
             {"message", stop_line_error_ ? stop_line_error_->message : stop_->message}});
      }
      summary["errors"] = std::move(errors);
      context_.out_stream << summary.dump(-1, ' ', false,
                                          nlohmann::ordered_json::error_handler_t::replace)
                          << "\n";
    } else {
      context_.out.line((stop_ ? "stopped: imported " : "imported ") + std::to_string(imported_) +
                        ", skipped " + std::to_string(skipped_) + " (already there), failed " +
                        std::to_string(failed_) + " of " + std::to_string(lines_) + " lines");
    }
    return code;
  }

  RunContext& context_;
  const ImportOptions options_;
  Progress& progress_;
  std::map<std::string, Batch> pending_;
  std::optional<Error> stop_;
  uint64_t stopped_at_line_ = 0;
  std::optional<Error> stop_line_error_;  // the stopping line's error without "line N: "
  uint64_t lines_ = 0;
  uint64_t imported_ = 0;
  uint64_t skipped_ = 0;
  uint64_t failed_ = 0;
  std::vector<std::pair<uint64_t, Error>> errors_;
  bool said_more_ = false;
};

int run_import(const po::variables_map& values, RunContext& context) {
  auto options = import_options(values);
  if (!options.ok()) return report(options.error(), false, context.err);
  Progress progress(context.err, context.err_is_terminal, context.clock, "lines");
  std::ifstream file;
  std::istream* in = &std::cin;
  if (options->path != "-") {
    file.open(options->path, std::ios::binary);
    if (!file) {
      return report(make_error(ErrorCode::invalid_argument,
                               "cannot open '" + options->path + "': " + std::strerror(errno)),
                    false, context.err);
    }
    struct stat info {};
    if (::stat(options->path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      progress.set_total(static_cast<uint64_t>(info.st_size));
    }
    in = &file;
  }
  Importer importer(context, *options, progress);
  return importer.run(*in);
}

}  // namespace

const VerbSpec& import_verb() {
  static const VerbSpec verb = {
      "import",
      "import FILE|- [--persona P] [--batch N] [--continue-on-error] [--derive-ids]",
      "store memories from JSONL (as nca export writes); a re-run skips those already stored",
      "nca import ada-memories.jsonl\n"
      "nca export --persona ada | nca --addr other:7420 import --persona ada-copy -\n"
      "nca import --persona ada --batch 500 --continue-on-error notes.jsonl\n"
      "nca export --persona ada | nca import --persona ada-copy --derive-ids -",
      declare_import,
      check_import,
      nullptr,
      run_import};
  return verb;
}

}  // namespace nca::cli
