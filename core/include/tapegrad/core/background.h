#pragma once
/// BackgroundTask: one function run on tapegrad's threads while the caller goes on, for layers
/// above core (the DataLoader prepares its next batch this way) that must not touch TBB
/// themselves. It shares the one thread budget of tg::set_num_threads: with one thread there
/// is no second thread to run it, and the function then runs inside wait() on the caller's
/// thread, so the result is the same either way.
#include <functional>
#include <memory>

namespace tg {

class BackgroundTask {
 public:
  /// Starts fn. An exception it throws is kept and rethrown by wait().
  explicit BackgroundTask(std::function<void()> fn);
  /// Waits for the function (an exception it threw is dropped: call wait() to see it).
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;

  /// Blocks until the function has run; rethrows what it threw. Calling it again does nothing.
  void wait();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tg
