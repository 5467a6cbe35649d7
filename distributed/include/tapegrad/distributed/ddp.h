#pragma once
/// DistributedDataParallel: one replica of a module per process, gradients averaged across the
/// processes during backward, so that every replica takes the same optimizer step.
///
///   auto ddp = std::make_shared<tg::distributed::DistributedDataParallel>(model);
///   for (batch : loader) {                       // each rank its own shard of the global batch
///     auto loss = F::cross_entropy(ddp->forward(x), y);
///     loss.backward();                           // gradients averaged over the ranks here
///     opt.step();                                // opt over model->parameters()
///     opt.zero_grad();
///   }
///
/// How: at construction every rank checks that its parameters and buffers have rank 0's names,
/// dtypes and shapes (a mismatch is a tg::Error naming the rank and the parameter, thrown on
/// every rank), then takes rank 0's values (MPI_Bcast). The parameters that require grad are
/// cut into buckets of at most bucket_cap_mb megabytes, in reverse order of registration (the
/// order backward produces their gradients) and one dtype per bucket. A post-accumulate-grad
/// hook on each parameter copies its gradient into its bucket; when a bucket is full and every
/// bucket before it has been started, its MPI_Iallreduce starts, while backward goes on with
/// the earlier layers. When the last parameter's gradient has arrived, the buckets are waited
/// for and each parameter's .grad() becomes the mean over the ranks: after loss.backward()
/// returns, the gradients are averaged.
///
/// Parameters that get no gradient in a backward (unused branches): their share is zeros, and
/// their buckets are started by wait(), which the user then calls after backward (before the
/// optimizer step). Calling wait() when everything finished already does nothing; forward()
/// refuses to run while a backward's averaging is unfinished, so a forgotten wait() is an
/// error, not silently unaveraged gradients.
///
/// Every rank must run the same number of backward passes (each averaging is collective), and
/// the model must have its final dtype before it is wrapped: the hooks sit on the parameter
/// tensors that exist at construction. Gradients are averaged by summing with MPI_Iallreduce
/// and dividing by world_size(); with a fixed process count and bucket layout the additions
/// happen in the same order every run (bit-reproducible).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/core/grad_hooks.h"
#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::distributed {

struct DistributedDataParallelOptions : public ChainedOptions<DistributedDataParallelOptions> {
  /// Largest bucket in megabytes (PyTorch's default 25); 0 puts each parameter in its own bucket.
  DistributedDataParallelOptions& bucket_cap_mb(double mb) { return assign(bucket_cap_mb_, mb); }
  /// Start each bucket's allreduce during backward, as soon as it is full (default). Off: every
  /// bucket is reduced after the last gradient arrived, one after the other (for measuring
  /// what the overlap gains).
  DistributedDataParallelOptions& overlap(bool on) { return assign(overlap_, on); }
  /// Copy rank 0's buffers (running statistics) to every rank at construction.
  DistributedDataParallelOptions& broadcast_buffers(bool on) { return assign(broadcast_buffers_, on); }

  double bucket_cap_mb() const { return bucket_cap_mb_; }
  bool overlap() const { return overlap_; }
  bool broadcast_buffers() const { return broadcast_buffers_; }

 private:
  double bucket_cap_mb_ = 25.0;
  bool overlap_ = true, broadcast_buffers_ = true;
};

class DistributedDataParallel : public nn::Module {
 public:
  /// Collective: every rank constructs its DistributedDataParallel at the same point.
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                   DistributedDataParallelOptions options = DistributedDataParallelOptions());
  ~DistributedDataParallel() override;
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  /// The wrapped module's forward (an error while an averaging is unfinished: see wait()).
  Tensor forward(const Tensor& input) override;
  nn::Module& module() { return *module_; }
  const std::shared_ptr<nn::Module>& module_ptr() const { return module_; }

  /// Finishes the averaging of this backward's gradients: starts the buckets still waiting
  /// (their missing gradients as zeros), waits for all and writes the means into .grad(). A
  /// no-op when backward finished it (every parameter got a gradient) or no backward ran.
  /// Collective when it has work to do.
  void wait();

  /// RAII: while it lives, backward accumulates gradients locally without communicating
  /// (gradient accumulation); the first backward after it averages the accumulated sums.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp) : ddp_(ddp), previous_(ddp.sync_) { ddp.sync_ = false; }
    ~NoSyncGuard() { ddp_.sync_ = previous_; }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  /// The names of the parameters in each bucket, in the order the buckets are reduced.
  std::vector<std::vector<std::string>> bucket_parameter_names() const;
  const DistributedDataParallelOptions& options() const { return options_; }

 private:
  struct Bucket;
  struct Slot;
  void check_and_broadcast();
  void build_buckets();
  void on_gradient(std::size_t slot);
  void launch_ready();
  void launch(Bucket& bucket);
  void finish();
  void reset_round();

  std::shared_ptr<nn::Module> module_;
  DistributedDataParallelOptions options_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<autograd::HookHandle> hooks_;
  std::size_t next_launch_ = 0;  // the first bucket not started in this round
  std::size_t ready_ = 0;        // parameters whose gradient arrived in this round
  bool in_round_ = false;        // a backward has delivered gradients not yet averaged
  bool sync_ = true;
};

}  // namespace tg::distributed
