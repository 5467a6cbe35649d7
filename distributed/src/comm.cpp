// MPI's start, end and collectives on tensors.
//
// Every collective on a tensor first gathers each rank's description of it (dtype, rank of the
// shape, extents) with one small MPI_Allgather; all ranks then compare the same table, so bad
// input is one tg::Error thrown on every rank alike and never a hang or a mismatched transfer.
// Sums are left to MPI_Allreduce: for a fixed process count and message size OpenMPI's
// algorithm, and so the order of the additions, is fixed, which makes runs bit-reproducible.
#include "tapegrad/distributed/comm.h"

#include <mpi.h>

#include <array>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "comm_detail.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"

namespace tg::distributed {
namespace {

bool g_started_here = false;

void terminate_handler() {
  std::string what = "terminate called without an active exception";
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = std::string("uncaught exception: ") + ex.what();
    } catch (...) {
      what = "uncaught exception of an unknown type";
    }
  }
  abort(what, 1);
}

constexpr int kMaxDims = 8;
// A tensor's description as every rank sends it: dtype, dim, numel, then the first kMaxDims extents.
using Header = std::array<std::int64_t, 3 + kMaxDims>;

Header header_of(const Tensor& t) {
  Header h{};
  h[0] = static_cast<std::int64_t>(t.dtype());
  h[1] = t.dim();
  h[2] = t.numel();
  for (std::int64_t d = 0; d < std::min<std::int64_t>(t.dim(), kMaxDims); ++d) h[3 + d] = t.size(d);
  return h;
}

std::string describe(const Header& h) {
  std::string shape = "[";
  for (std::int64_t d = 0; d < std::min<std::int64_t>(h[1], kMaxDims); ++d) {
    if (d) shape += ", ";
    shape += std::to_string(h[3 + d]);
  }
  if (h[1] > kMaxDims) shape += ", ...";
  shape += "]";
  return fmt::format("{} {}", dtype_name(static_cast<DType>(h[0])), shape);
}

/// Checks locally that t can be sent, then that every rank holds the same dtype and shape.
void check_collective(const char* op, const Tensor& t) {
  TG_CHECK(is_initialized(), "{}: MPI is not running; call tg::distributed::init() first", op);
  TG_CHECK(t.defined(), "{}: the tensor is undefined", op);
  TG_CHECK(t.dtype() == kFloat32 || t.dtype() == kFloat64, "{}: expects a float32 or float64 tensor, got {} (shape {})",
           op, dtype_name(t.dtype()), t.shape());
  const Header mine = header_of(t);
  std::vector<Header> all(static_cast<std::size_t>(world_size()));
  detail::check_mpi(MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_INT64_T, all.data(),
                                  static_cast<int>(mine.size()), MPI_INT64_T, MPI_COMM_WORLD),
                    op);
  for (std::size_t r = 1; r < all.size(); ++r) {
    TG_CHECK(all[r] == all[0],
             "{}: rank {} holds a {} tensor but rank 0 holds {}; every rank must pass the same dtype and shape", op, r,
             describe(all[r]), describe(all[0]));
  }
}

}  // namespace

namespace detail {

void check_mpi(int code, const char* op) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  fail("{}: MPI error {}: {}", op, code, std::string(text, static_cast<std::size_t>(len)));
}

MPI_Datatype mpi_type(DType t) { return t == kFloat64 ? MPI_DOUBLE : MPI_FLOAT; }

}  // namespace detail

InitGuard::~InitGuard() {
  if (owns_ && is_initialized()) finalize();
}

InitGuard init(int* argc, char*** argv) {
  int running = 0;
  MPI_Initialized(&running);
  if (running) return InitGuard(false);
  int provided = 0;
  detail::check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "distributed::init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::set_terminate(terminate_handler);
  g_started_here = true;
  return InitGuard(true);
}

void finalize() {
  if (!is_initialized()) return;
  MPI_Finalize();
  g_started_here = false;
}

bool is_initialized() {
  int running = 0, done = 0;
  MPI_Initialized(&running);
  MPI_Finalized(&done);
  return running && !done;
}

int run(int argc, char** argv, const std::function<void()>& fn) {
  InitGuard guard = init(&argc, &argv);
  try {
    fn();
  } catch (const std::exception& e) {
    abort(std::string("error: ") + e.what(), 1);
  } catch (...) {
    abort("error: an exception of an unknown type", 1);
  }
  return 0;
}

void abort(const std::string& message, int code) {
  std::fprintf(stderr, "[rank %d] %s\n", rank(), message.c_str());
  std::fflush(stderr);
  if (is_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int rank() {
  if (!is_initialized()) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  if (!is_initialized()) return 1;
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

void barrier() {
  TG_CHECK(is_initialized(), "barrier: MPI is not running; call tg::distributed::init() first");
  detail::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

void all_reduce(const Tensor& t, ReduceOp op) {
  check_collective("all_reduce", t);
  NoGradGuard no_grad;
  Tensor buf = t.is_contiguous() ? t : t.contiguous();
  detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr(), static_cast<int>(buf.numel()),
                                  detail::mpi_type(buf.dtype()), MPI_SUM, MPI_COMM_WORLD),
                    "all_reduce");
  if (op == ReduceOp::kMean) buf.div_(static_cast<double>(world_size()));
  if (buf.impl() != t.impl()) t.copy_(buf);
}

void broadcast(const Tensor& t, int root) {
  TG_CHECK(is_initialized(), "broadcast: MPI is not running; call tg::distributed::init() first");
  TG_CHECK(root >= 0 && root < world_size(), "broadcast: root {} is not a rank of this job of {} processes", root,
           world_size());
  check_collective("broadcast", t);
  NoGradGuard no_grad;
  Tensor buf = t.is_contiguous() ? t : t.contiguous();
  detail::check_mpi(
      MPI_Bcast(buf.data_ptr(), static_cast<int>(buf.numel()), detail::mpi_type(buf.dtype()), root, MPI_COMM_WORLD),
      "broadcast");
  if (buf.impl() != t.impl()) t.copy_(buf);
}

Tensor all_gather(const Tensor& t) {
  check_collective("all_gather", t);
  NoGradGuard no_grad;
  const Tensor buf = t.contiguous();
  std::vector<std::int64_t> shape{world_size()};
  for (std::int64_t d = 0; d < t.dim(); ++d) shape.push_back(t.size(d));
  Tensor out = empty(shape, t.dtype());
  detail::check_mpi(
      MPI_Allgather(buf.data_ptr(), static_cast<int>(buf.numel()), detail::mpi_type(buf.dtype()), out.data_ptr(),
                    static_cast<int>(buf.numel()), detail::mpi_type(buf.dtype()), MPI_COMM_WORLD),
      "all_gather");
  return out;
}

}  // namespace tg::distributed
