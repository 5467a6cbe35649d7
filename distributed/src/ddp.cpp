// DistributedDataParallel: the collective check of the replicas, the broadcast, the buckets and
// their allreduce driven by the post-accumulate-grad hooks.
//
// Order is what keeps the ranks' collectives matched: MPI pairs the k-th MPI_Iallreduce of one
// rank with the k-th of every other, so buckets are started strictly in bucket order (a full
// bucket waits for the ones before it), whatever order the gradients arrive in on each rank.
// OpenMPI's non-blocking collectives progress only inside MPI calls; every hook tests the
// started requests, which moves them on while backward computes the earlier layers.
#include "tapegrad/distributed/ddp.h"

#include <mpi.h>

#include <cstring>

#include "comm_detail.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/distributed/comm.h"

namespace tg::distributed {

struct DistributedDataParallel::Slot {
  std::string name;
  Tensor param;
  std::size_t bucket = 0;
  std::int64_t offset = 0;  // in elements, in the bucket's buffer
  bool ready = false;
};

struct DistributedDataParallel::Bucket {
  DType dtype = kFloat32;
  std::vector<std::size_t> slots;
  std::int64_t numel = 0;
  Tensor buffer;  // the bucket's gradients, flat, in the order of `slots`
  std::size_t ready = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  bool launched = false;
};

namespace {

/// Copies n elements between contiguous tensors of one dtype, or through copy_ otherwise.
void copy_flat(const Tensor& dst, const Tensor& src) {
  if (dst.is_contiguous() && src.is_contiguous() && dst.dtype() == src.dtype()) {
    std::memcpy(dst.data_ptr(), src.data_ptr(), static_cast<std::size_t>(src.numel()) * itemsize(src.dtype()));
  } else {
    dst.copy_(src.reshape({-1}));
  }
}

/// Every rank's text, gathered on every rank (MPI_Allgather of the lengths, then MPI_Allgatherv).
std::vector<std::string> all_gather_text(const std::string& mine) {
  const int p = world_size();
  const int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<std::size_t>(p)), offsets(static_cast<std::size_t>(p));
  detail::check_mpi(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD),
                    "DistributedDataParallel");
  int total = 0;
  for (int r = 0; r < p; ++r) {
    offsets[static_cast<std::size_t>(r)] = total;
    total += lens[static_cast<std::size_t>(r)];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  detail::check_mpi(
      MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD),
      "DistributedDataParallel");
  std::vector<std::string> out;
  for (int r = 0; r < p; ++r)
    out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t end = s.find('\n', start);
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                                 DistributedDataParallelOptions options)
    : nn::Module("DistributedDataParallel"), module_(std::move(module)), options_(std::move(options)) {
  TG_CHECK(module_ != nullptr, "DistributedDataParallel: the module is null");
  TG_CHECK(is_initialized(), "DistributedDataParallel: MPI is not running; call tg::distributed::init() first");
  TG_CHECK(options_.bucket_cap_mb() >= 0.0, "DistributedDataParallel: bucket_cap_mb must be >= 0, got {}",
           options_.bucket_cap_mb());
  register_module("module", module_);
  check_and_broadcast();
  build_buckets();
}

DistributedDataParallel::~DistributedDataParallel() {
  for (auto& h : hooks_) h.remove();
  for (Bucket& b : buckets_) {
    if (b.launched) MPI_Wait(&b.request, MPI_STATUS_IGNORE);  // MPI still writes into the buffer
  }
}

void DistributedDataParallel::check_and_broadcast() {
  // Each rank describes its parameters and buffers, one line each; all ranks compare all lines
  // with rank 0's and throw the same error, so a mismatch never leaves a rank waiting.
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : module_->named_parameters()) tensors.emplace_back("parameter '" + name + "'", t);
  if (options_.broadcast_buffers()) {
    for (auto& [name, t] : module_->named_buffers()) tensors.emplace_back("buffer '" + name + "'", t);
  }
  std::string mine;
  for (const auto& [what, t] : tensors) mine += fmt::format("{}\t{} {}\n", what, dtype_name(t.dtype()), t.shape());
  const std::vector<std::string> all = all_gather_text(mine);
  const std::vector<std::string> ref = split_lines(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    const std::vector<std::string> lines = split_lines(all[r]);
    for (std::size_t i = 0; i < std::min(lines.size(), ref.size()); ++i) {
      if (lines[i] == ref[i]) continue;
      const auto tab = lines[i].find('\t'), ref_tab = ref[i].find('\t');
      const std::string what = lines[i].substr(0, tab), ref_what = ref[i].substr(0, ref_tab);
      TG_CHECK(what == ref_what,
               "DistributedDataParallel: rank {} has {} where rank 0 has {}; every rank must wrap the same model", r,
               what, ref_what);
      fail("DistributedDataParallel: rank {}'s {} is {} but rank 0's is {}; every rank must wrap the same model", r,
           what, lines[i].substr(tab + 1), ref[i].substr(ref_tab + 1));
    }
    TG_CHECK(
        lines.size() == ref.size(),
        "DistributedDataParallel: rank {} has {} parameters and buffers but rank 0 has {}; every rank must wrap the "
        "same model",
        r, lines.size(), ref.size());
  }
  NoGradGuard no_grad;
  for (const auto& [what, t] : tensors) {
    if (t.dtype() != kFloat32 && t.dtype() != kFloat64) continue;  // integer buffers (counters) stay local
    Tensor buf = t.is_contiguous() ? t : t.contiguous();
    detail::check_mpi(
        MPI_Bcast(buf.data_ptr(), static_cast<int>(buf.numel()), detail::mpi_type(buf.dtype()), 0, MPI_COMM_WORLD),
        "DistributedDataParallel: broadcast");
    if (buf.impl() != t.impl()) t.copy_(buf);
  }
}

void DistributedDataParallel::build_buckets() {
  const auto params = module_->named_parameters();
  const double cap_bytes = options_.bucket_cap_mb() * 1024.0 * 1024.0;
  // Reverse registration order: backward produces the last layers' gradients first. One open
  // bucket per dtype; a bucket closes when the next parameter would take it past the cap.
  std::vector<std::ptrdiff_t> open(8, -1);
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Tensor& p = it->second;
    if (!p.requires_grad()) continue;
    TG_CHECK(p.dtype() == kFloat32 || p.dtype() == kFloat64,
             "DistributedDataParallel: parameter '{}' is {}; only float32 and float64 parameters are averaged",
             it->first, dtype_name(p.dtype()));
    const auto d = static_cast<std::size_t>(p.dtype());
    const double bytes = static_cast<double>(p.numel() * static_cast<std::int64_t>(itemsize(p.dtype())));
    if (open[d] >= 0) {
      const Bucket& b = buckets_[static_cast<std::size_t>(open[d])];
      if (static_cast<double>(b.numel * static_cast<std::int64_t>(itemsize(b.dtype))) + bytes > cap_bytes) open[d] = -1;
    }
    if (open[d] < 0) {
      open[d] = static_cast<std::ptrdiff_t>(buckets_.size());
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
    }
    Bucket& b = buckets_[static_cast<std::size_t>(open[d])];
    slots_.push_back({it->first, p, static_cast<std::size_t>(open[d]), b.numel, false});
    b.slots.push_back(slots_.size() - 1);
    b.numel += p.numel();
  }
  for (Bucket& b : buckets_) b.buffer = zeros({b.numel}, b.dtype);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    hooks_.push_back(
        autograd::register_post_accumulate_grad_hook(slots_[i].param, [this, i](const Tensor&) { on_gradient(i); }));
  }
}

void DistributedDataParallel::on_gradient(std::size_t i) {
  if (!sync_) return;  // no_sync(): the gradients accumulate locally
  Slot& s = slots_[i];
  Bucket& b = buckets_[s.bucket];
  TG_CHECK(!b.launched,
           "DistributedDataParallel: a second backward reached parameter '{}' while the averaging of the previous "
           "one was still running; call wait() between backward passes",
           s.name);
  in_round_ = true;
  copy_flat(b.buffer.narrow(0, s.offset, s.param.numel()), s.param.grad());
  if (!s.ready) {
    s.ready = true;
    ++b.ready;
    ++ready_;
  }
  if (options_.overlap()) {
    launch_ready();
    // Move the started requests on (OpenMPI progresses non-blocking collectives inside MPI calls).
    for (std::size_t k = 0; k < next_launch_; ++k) {
      int done = 0;
      if (buckets_[k].request != MPI_REQUEST_NULL) MPI_Test(&buckets_[k].request, &done, MPI_STATUS_IGNORE);
    }
  }
  if (ready_ == slots_.size()) finish();
}

void DistributedDataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].slots.size()) {
    launch(buckets_[next_launch_]);
    ++next_launch_;
  }
}

void DistributedDataParallel::launch(Bucket& b) {
  detail::check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data_ptr(), static_cast<int>(b.numel),
                                   detail::mpi_type(b.dtype), MPI_SUM, MPI_COMM_WORLD, &b.request),
                    "DistributedDataParallel: allreduce");
  b.launched = true;
}

void DistributedDataParallel::finish() {
  // Buckets not started yet: their missing gradients count as zeros; start them in order.
  for (; next_launch_ < buckets_.size(); ++next_launch_) {
    Bucket& b = buckets_[next_launch_];
    for (std::size_t i : b.slots) {
      if (!slots_[i].ready) b.buffer.narrow(0, slots_[i].offset, slots_[i].param.numel()).zero_();
    }
    launch(b);
    if (!options_.overlap()) {
      detail::check_mpi(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "DistributedDataParallel: allreduce");
    }
  }
  NoGradGuard no_grad;
  const double p = static_cast<double>(world_size());
  for (Bucket& b : buckets_) {
    if (b.request != MPI_REQUEST_NULL)
      detail::check_mpi(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "DistributedDataParallel: allreduce");
    b.buffer.div_(p);
    for (std::size_t i : b.slots) {
      Slot& s = slots_[i];
      const Tensor avg = b.buffer.narrow(0, s.offset, s.param.numel());
      Tensor g = s.param.grad();
      if (g.defined() && g.is_contiguous() && g.dtype() == b.dtype) {
        copy_flat(g, avg);
      } else {
        s.param.set_grad(avg.clone().view(s.param.shape()));
      }
    }
  }
  reset_round();
}

void DistributedDataParallel::reset_round() {
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.launched = false;
    b.request = MPI_REQUEST_NULL;
  }
  next_launch_ = 0;
  ready_ = 0;
  in_round_ = false;
}

void DistributedDataParallel::wait() {
  if (in_round_) finish();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  if (in_round_) [[unlikely]] {
    std::string missing;
    for (const Slot& s : slots_) {
      if (!s.ready) {
        missing = s.name;
        break;
      }
    }
    fail(
        "DistributedDataParallel: forward while the last backward's gradients are not averaged ({} of {} parameters "
        "got a gradient, '{}' did not); call wait() after backward when some parameters get no gradient",
        ready_, slots_.size(), missing);
  }
  return module_->forward(input);
}

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_parameter_names() const {
  std::vector<std::vector<std::string>> out;
  for (const Bucket& b : buckets_) {
    out.emplace_back();
    for (std::size_t i : b.slots) out.back().push_back(slots_[i].name);
  }
  return out;
}

}  // namespace tg::distributed
