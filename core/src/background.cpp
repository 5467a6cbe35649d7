// BackgroundTask on a tbb::task_group: run() hands the function to TBB's workers; wait() joins
// it, running it on the calling thread if no worker has taken it (always so with one thread).
#include "tapegrad/core/background.h"

#include <tbb/task_group.h>

#include "kernels/parallel.h"  // TG_TSAN_RELEASE / TG_TSAN_ACQUIRE

namespace tg {

struct BackgroundTask::State {
  tbb::task_group group;
  bool waited = false;
  char edge = 0;  // for TSan: start -> the task, the task -> wait()
};

BackgroundTask::BackgroundTask(std::function<void()> fn) : state_(std::make_unique<State>()) {
  State* s = state_.get();
  TG_TSAN_RELEASE(&s->edge);
  s->group.run([s, fn = std::move(fn)] {
    TG_TSAN_ACQUIRE(&s->edge);
    try {
      fn();
    } catch (...) {
      TG_TSAN_RELEASE(&s->edge);  // the exception, rethrown by wait(), was made here
      throw;
    }
    TG_TSAN_RELEASE(&s->edge);
  });
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
  TG_TSAN_ACQUIRE(&state_->edge);
}

}  // namespace tg
