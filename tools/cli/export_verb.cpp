// nca export: a persona's memories as JSONL, one line per memory (memory_line.hpp), in the list
// verb's order (by id), a page at a time. Embeddings are not in list replies; --with-embeddings
// fetches each item's with a get (a few in flight at once). Written to stdout, or to --output FILE
// through FILE.partial renamed at the end, so a failed export never leaves a file that looks whole.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <vector>

#include "tools/cli/args.hpp"
#include "tools/cli/exit_codes.hpp"
#include "tools/cli/memory_line.hpp"
#include "tools/cli/progress.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {

namespace {

// Gets of embeddings in flight at once.
constexpr size_t kEmbeddingWindow = 16;

using Floats = google::protobuf::RepeatedField<float>;

struct ExportOptions {
  std::string persona;
  std::vector<pb::Tier> tiers;
  uint32_t page_size = 500;
  bool with_embeddings = false;
  std::string output;  // empty or "-": stdout
};

Result<ExportOptions> export_options(const po::variables_map& values) {
  ExportOptions options;
  options.persona = text_of(values, "persona");
  for (const std::string& text : list_of(values, "tier")) {
    auto tier = parse_tier(text, "--tier");
    if (!tier.ok()) return tier.error();
    options.tiers.push_back(*tier);
  }
  auto size = count_of(values, "page-size", "--page-size", 1, 1000);
  if (!size.ok()) return size.error();
  options.page_size = *size;
  options.with_embeddings = values["with-embeddings"].as<bool>();
  options.output = text_of(values, "output");
  if (options.output == "-") options.output.clear();
  return options;
}

void declare_export(po::options_description& options, po::options_description&,
                    po::positional_options_description&) {
  options.add_options()  //
      ("persona", po::value<std::string>()->required()->value_name("P"),
       "persona whose memories to export")  //
      ("tier", po::value<Strings>()->composing()->value_name("T"),
       "only this tier (repeatable; default all)")  //
      ("with-embeddings", po::bool_switch(),
       "also write each memory's embedding (one extra call per memory)")  //
      ("page-size", po::value<std::string>()->default_value("500")->value_name("N"),
       "memories per list call (1..1000)")  //
      ("output,o", po::value<std::string>()->value_name("FILE"),
       "write to FILE instead of stdout (complete or not at all)");
}

Result<pb::Request> check_export(const po::variables_map& values) {
  auto options = export_options(values);
  if (!options.ok()) return options.error();
  return pb::Request();
}

// The persona's number of memories in the tiers asked for, for the progress bar; 0 if unknown.
uint64_t expected_count(Client& client, const ExportOptions& options) {
  Result<pb::StatsReply> stats = client.stats(options.persona);
  if (!stats.ok()) return 0;
  uint64_t total = 0;
  for (const pb::PersonaStats& persona : stats->persona()) {
    if (persona.persona_id() != options.persona) continue;
    for (const pb::TierStats& tier : persona.tiers()) {
      bool wanted = options.tiers.empty();
      for (pb::Tier asked : options.tiers) wanted = wanted || asked == tier.tier();
      if (wanted) total += tier.items();
    }
  }
  return total;
}

// The embedding of each item; `gone[i]` when the item was deleted after the list call.
Status fetch_embeddings(Client& client, const std::string& persona,
                        const google::protobuf::RepeatedPtrField<pb::MemoryItem>& items,
                        std::vector<Floats>* embeddings, std::vector<bool>* gone) {
  size_t count = static_cast<size_t>(items.size());
  embeddings->assign(count, Floats());
  gone->assign(count, false);
  for (size_t start = 0; start < count; start += kEmbeddingWindow) {
    size_t end = std::min(count, start + kEmbeddingWindow);
    std::vector<Client::Future<pb::Response>> replies;
    for (size_t i = start; i < end; ++i) {
      pb::Request request;
      pb::ItemRequest* get = request.mutable_get();
      get->set_id(items[static_cast<int>(i)].id());
      get->set_persona_id(persona);
      get->set_include_embedding(true);
      replies.push_back(client.call_async(std::move(request)));
    }
    for (size_t i = start; i < end; ++i) {
      Result<pb::Response> reply = replies[i - start].get();
      if (!reply.ok()) {
        if (reply.error().code == ErrorCode::not_found) {
          (*gone)[i] = true;
          continue;
        }
        return reply.error();
      }
      (*embeddings)[i] = reply->get().embedding();
    }
  }
  return {};
}

int run_export(const po::variables_map& values, RunContext& context) {
  auto options = export_options(values);
  if (!options.ok()) return report(options.error(), false, context.err);
  std::ofstream file;
  std::string partial = options->output + ".partial";
  if (!options->output.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      return report(make_error(ErrorCode::invalid_argument,
                               "cannot write '" + partial + "': " + std::strerror(errno)),
                    false, context.err);
    }
  }
  std::ostream& sink = options->output.empty() ? context.out_stream : file;
  auto fail = [&](const Error& error, bool from_node) {
    if (!options->output.empty()) {
      file.close();
      std::remove(partial.c_str());
    }
    return report(error, from_node, context.err);
  };

  Progress progress(context.err, context.err_is_terminal, context.clock, "memories");
  if (context.err_is_terminal) progress.set_total(expected_count(context.client, *options));
  pb::ListRequest request;
  request.set_persona_id(options->persona);
  request.set_page_size(options->page_size);
  for (pb::Tier tier : options->tiers) request.add_tiers(tier);
  uint64_t exported = 0;
  std::vector<Floats> embeddings;
  std::vector<bool> gone;
  const Floats none;
  // Each page's token must differ from the last, so this ends with the persona's last page.
  while (true) {
    Result<pb::ListReply> page = context.client.list(request);
    if (!page.ok()) return fail(page.error(), true);
    if (options->with_embeddings) {
      Status fetched =
          fetch_embeddings(context.client, options->persona, page->items(), &embeddings, &gone);
      if (!fetched.ok()) return fail(fetched.error(), true);
    }
    for (int i = 0; i < page->items_size(); ++i) {
      auto at = static_cast<size_t>(i);
      if (options->with_embeddings && gone[at]) continue;
      Result<std::string> line =
          format_memory_line(page->items(i), options->with_embeddings ? embeddings[at] : none);
      if (!line.ok()) return fail(line.error(), false);
      sink << *line << '\n';
      ++exported;
    }
    if (!sink) {
      return fail(
          make_error(ErrorCode::unavailable,
                     "cannot write " + (options->output.empty() ? std::string("to standard output")
                                                                : "'" + partial + "'")),
          false);
    }
    progress.update(exported, exported);
    if (page->next_page_token().empty()) break;
    if (page->next_page_token() == request.page_token()) {
      return fail(make_error(ErrorCode::internal, "the node answered the same page token twice: " +
                                                      page->next_page_token()),
                  true);
    }
    request.set_page_token(page->next_page_token());
  }
  progress.finish();
  sink.flush();
  if (!options->output.empty()) {
    file.close();
    if (!file || std::rename(partial.c_str(), options->output.c_str()) != 0) {
      return fail(make_error(ErrorCode::unavailable,
                             "cannot write '" + options->output + "': " + std::strerror(errno)),
                  false);
    }
    if (context.json) {
      context.out_stream << nlohmann::ordered_json{{"exported", exported},
                                                   {"persona_id", options->persona},
                                                   {"file", options->output}}
                                .dump(-1, ' ', false,
                                      nlohmann::ordered_json::error_handler_t::replace)
                         << "\n";
    } else {
      context.out.line("exported " + std::to_string(exported) + " memories of " + options->persona +
                       " to " + options->output);
    }
  } else if (context.err_is_terminal) {
    context.err << "exported " << exported << " memories of " << options->persona << "\n";
  }
  return kExitOk;
}

}  // namespace

const VerbSpec& export_verb() {
  static const VerbSpec verb = {
      "export",
      "export --persona P [--tier T]... [--with-embeddings] [--page-size N] [-o FILE]",
      "write a persona's memories as JSONL (what nca import reads)",
      "nca export --persona ada > ada-memories.jsonl\n"
      "nca export --persona ada --tier ltm --with-embeddings -o ada-ltm.jsonl",
      declare_export,
      check_export,
      nullptr,
      run_export};
  return verb;
}

}  // namespace nca::cli
