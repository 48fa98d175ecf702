#include "sdk/src/callback_executor.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace nca::sdk {

// Shared with the thread, so a thread left to finish on its own never touches a destroyed executor.
struct CallbackExecutor::State {
  std::mutex mu;
  std::condition_variable wake;
  std::deque<std::function<void()>> queue;
  bool stopping = false;
  std::thread thread;
};

namespace {

void run_queue(const std::shared_ptr<CallbackExecutor::State>& state);

}  // namespace

CallbackExecutor::CallbackExecutor() : state_(std::make_shared<State>()) {}

CallbackExecutor::~CallbackExecutor() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
    thread = std::move(state_->thread);
  }
  state_->wake.notify_all();
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) {
    thread.detach();
  } else {
    thread.join();
  }
}

void CallbackExecutor::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    // A task posted after shutdown began runs on the caller's thread instead: a completion is never
    // lost.
    if (!state_->stopping) {
      state_->queue.push_back(std::move(task));
      if (!state_->thread.joinable()) {
        std::shared_ptr<State> state = state_;
        state_->thread = std::thread([state] { run_queue(state); });
      }
      state_->wake.notify_one();
      return;
    }
  }
  task();
}

namespace {

void run_queue(const std::shared_ptr<CallbackExecutor::State>& state) {
  std::unique_lock<std::mutex> lock(state->mu);
  for (;;) {
    state->wake.wait(lock, [&] { return state->stopping || !state->queue.empty(); });
    if (state->queue.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(state->queue.front());
    state->queue.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace

}  // namespace nca::sdk
