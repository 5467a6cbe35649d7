#pragma once
/// MPI underneath tapegrad's data parallelism: starting and ending the MPI job, this process's
/// place in it, and the collectives on tensors that training needs. Every function here is
/// collective over MPI_COMM_WORLD (all ranks call it, in the same order) unless it says not.
///
///   int main(int argc, char** argv) {
///     return tg::distributed::run(argc, argv, [&] {
///       // rank(), world_size(), all_reduce(...), DistributedDataParallel, ...
///     });
///   }
///
/// Bad input is a tg::Error naming the op and the values, thrown on every rank alike (the
/// tensors' dtypes and shapes are compared across ranks before any data moves), so a mismatch
/// never hangs the job.
#include <functional>

#include "tapegrad/core/tensor.h"

namespace tg::distributed {

/// Ends MPI (MPI_Finalize) when it goes out of scope, if init() started it.
class [[nodiscard]] InitGuard {
 public:
  InitGuard() = default;
  InitGuard(InitGuard&& other) noexcept : owns_(other.owns_) { other.owns_ = false; }
  InitGuard& operator=(InitGuard&&) = delete;
  InitGuard(const InitGuard&) = delete;
  ~InitGuard();

 private:
  friend InitGuard init(int* argc, char*** argv);
  explicit InitGuard(bool owns) : owns_(owns) {}
  bool owns_ = false;
};

/// Starts MPI (MPI_Init_thread, MPI_THREAD_FUNNELED: MPI is called from the thread that runs
/// backward, which is the one that called init) unless it already runs; makes MPI errors
/// return codes that become tg::Error, and installs a std::terminate handler that prints the
/// uncaught exception with this process's rank and calls MPI_Abort, so that a rank dying of an
/// exception ends the whole job within seconds instead of leaving the others waiting.
InitGuard init(int* argc = nullptr, char*** argv = nullptr);
/// Calls MPI_Finalize (collective) if MPI runs; after it no MPI call may be made.
void finalize();
/// True between init() and finalize() (not collective).
bool is_initialized();

/// init, then fn(); an exception out of fn is printed as "[rank R] error: <what>" on stderr and
/// ends the job with MPI_Abort(1), within seconds, on every rank. Returns 0 after finalize().
int run(int argc, char** argv, const std::function<void()>& fn);
/// Prints "[rank R] <message>" on stderr and ends every rank of the job (MPI_Abort). Not
/// collective.
[[noreturn]] void abort(const std::string& message, int code = 1);

/// This process's rank in [0, world_size()) (not collective); 0 and 1 without MPI running.
int rank();
int world_size();
/// Returns once every rank has called it.
void barrier();

enum class ReduceOp { kSum, kMean };

/// In place: every rank's t becomes the elementwise sum (or mean) over the ranks. float32 or
/// float64, the same dtype and shape on every rank; a non-contiguous t is reduced through a
/// contiguous copy and copied back.
void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::kSum);
/// In place: every rank's t becomes root's t.
void broadcast(const Tensor& t, int root = 0);
/// Every rank's t, stacked in rank order: [world_size(), ...t.shape()].
Tensor all_gather(const Tensor& t);

}  // namespace tg::distributed
