#include "bench/interleaved_calls.hpp"

#include <caf/all.hpp>

#include <future>
#include <memory>

#include "proto/wire.hpp"

namespace nca::bench {
namespace {

struct DriverState {
  InterleavedQueries queries;
  caf::actor api;
  std::chrono::milliseconds call_timeout{0};
  size_t step = 0;  // 0 .. 2 * count: the first pass warms up, the second is timed
  InterleavedResult out;
  std::promise<Status> done;
};

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

void finish(caf::event_based_actor* self, const std::shared_ptr<DriverState>& st, Status s) {
  st->done.set_value(std::move(s));
  self->quit();
}

void next(caf::event_based_actor* self, const std::shared_ptr<DriverState>& st) {
  const size_t count = st->queries.count;
  if (st->step == 2 * count) {
    finish(self, st, {});
    return;
  }
  const size_t q = st->step % count;
  const bool timed = st->step >= count;
  const Clock::time_point start = Clock::now();
  std::string bytes = st->queries.request(q);
  self->request(st->api, st->call_timeout, wire::envelope_atom::value, st->queries.method,
                std::move(bytes))
      .then(
          [=](uint32_t, const std::string& reply) {
            std::vector<int64_t> rows;
            Status s = st->queries.reply_rows(reply, &rows);
            const Clock::time_point replied = Clock::now();
            if (!s) {
              finish(self, st, std::move(s));
              return;
            }
            std::vector<int64_t> base;
            if (st->queries.baseline) base = st->queries.baseline(q);
            const Clock::time_point base_done = Clock::now();
            if (timed) {
              st->out.node.add(us_between(start, replied));
              if (st->queries.baseline) st->out.baseline.add(us_between(replied, base_done));
            }
            st->out.node_rows[q] = std::move(rows);
            st->out.baseline_rows[q] = std::move(base);
            ++st->step;
            next(self, st);
          },
          [=](caf::error& e) {
            finish(self, st,
                   make_error(ErrorCode::unavailable,
                              "query " + std::to_string(q) +
                                  ": the api actor did not answer: " + self->system().render(e)));
          });
}

}  // namespace

Result<InterleavedResult> run_interleaved(caf::actor_system& sys, const caf::actor& api,
                                          const InterleavedQueries& queries,
                                          std::chrono::milliseconds call_timeout) {
  auto st = std::make_shared<DriverState>();
  st->queries = queries;
  st->api = api;
  st->call_timeout = call_timeout;
  st->out.node.reserve(queries.count);
  st->out.baseline.reserve(queries.count);
  st->out.node_rows.resize(queries.count);
  st->out.baseline_rows.resize(queries.count);
  std::future<Status> done = st->done.get_future();
  if (queries.count == 0) return st->out;
  sys.spawn([st](caf::event_based_actor* self) { next(self, st); });
  // Every call has its own timeout, so the driver always finishes; the bound only guards against an
  // actor system that stops underneath it.
  const auto bound = call_timeout * static_cast<int64_t>(2 * queries.count + 1);
  if (done.wait_for(bound) != std::future_status::ready) {
    return make_error(ErrorCode::deadline_exceeded, "the in-process driver did not finish");
  }
  if (auto s = done.get(); !s) return s.error();
  return std::move(st->out);
}

}  // namespace nca::bench
