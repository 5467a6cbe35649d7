// BackgroundTask on a tbb::task_group: run() hands the function to TBB's workers; wait() joins
// it, running it on the calling thread if no worker has taken it (always so with one thread).
#include "tapegrad/core/background.h"

#include <tbb/task_group.h>

namespace tg {

struct BackgroundTask::State {
  tbb::task_group group;
  bool waited = false;
};

BackgroundTask::BackgroundTask(std::function<void()> fn) : state_(std::make_unique<State>()) {
  state_->group.run(std::move(fn));
}

BackgroundTask::~BackgroundTask() {
  if (state_ && !state_->waited) {
    try {
      state_->group.wait();
    } catch (...) {  // NOLINT(bugprone-empty-catch): nobody asked for the result
    }
  }
}

void BackgroundTask::wait() {
  if (state_->waited) return;
  state_->waited = true;
  state_->group.wait();
}

}  // namespace tg
