// sdk/src/callback_executor.hpp: the SDK thread that runs users' completion callbacks.
//
// Callbacks never run on CAF's worker threads: a callback that makes a synchronous call would block
// a worker that call needs, and two such callbacks would deadlock the client. Instead they run
// here, one at a time, in the order completions arrived, on one thread started on first use. post()
// is thread-safe. The destructor runs every callback already posted, then joins; if it runs on the
// executor's own thread (a callback destroyed the Client) it lets the thread finish the queue on
// its own.
#pragma once

#include <functional>
#include <memory>

namespace nca::sdk {

class CallbackExecutor {
 public:
  CallbackExecutor();
  ~CallbackExecutor();
  CallbackExecutor(const CallbackExecutor&) = delete;
  CallbackExecutor& operator=(const CallbackExecutor&) = delete;

  void post(std::function<void()> task);

  struct State;  // defined in the .cpp; shared with the executor's thread

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nca::sdk
