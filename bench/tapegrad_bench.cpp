// tapegrad's half of the side-by-side benchmark: the workloads of the PyTorch reference
// (../shared/bench/torch_reference.py) on the same shapes, timed the same way.
//
//   tapegrad_bench                              # every workload, 2 threads
//   tapegrad_bench --threads 1 tiny_mlp         # one workload
//   tapegrad_bench --list                       # names, warmup and iteration counts
//
// Method (the reference's `timed`): run the step `warmup` times, then time `iters` single
// steps with a monotonic clock, and print one JSON line per workload with the same keys as
// the reference: workload, framework, threads, median/min/max ms per step, peak RSS in MB.
// --warmup / --iters override the counts (for profiling under callgrind; comparisons use the
// defaults). bench/compare.py runs this program and the reference alternately.
//
// Adding a workload: write a `make_<name>()` that builds the inputs and returns the step,
// and add a row to kWorkloads with the reference's warmup and iteration counts. A workload
// with no counterpart in the reference (sgemm_1024) is a baseline for a target, not a race.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/tapegrad.h"

#ifndef TAPEGRAD_BENCH_VERSION
#define TAPEGRAD_BENCH_VERSION "unknown"
#endif

namespace {

using Step = std::function<void()>;

/// Written once per step with one value of the step's result, so the work cannot be elided.
volatile float g_sink = 0.0f;

void consume(const tg::Tensor& t) { g_sink = t.data<float>()[0]; }

// ---- micro-benchmarks (forward only) ----------------------------------------------------------

Step make_matmul_1024() {
  tg::Tensor a = tg::randn({1024, 1024}), b = tg::randn({1024, 1024});
  return [a, b] { consume(tg::matmul(a, b)); };
}

/// The bare OpenBLAS rate on matmul_1024's shapes: cblas_sgemm into a preallocated output, no
/// tensor, no allocation, OpenBLAS's own threading with --threads threads. matmul_1024 is held
/// to >= 90% of it, measured in the same run. tapegrad keeps OpenBLAS single-threaded (its
/// matmul splits work over TBB), so the count is set here for this workload only and the
/// previous one is restored when the step is destroyed.
Step make_sgemm_1024() {
  constexpr int n = 1024;
  struct BlasThreads {
    int previous = openblas_get_num_threads();
    explicit BlasThreads(int threads) { openblas_set_num_threads(threads); }
    ~BlasThreads() { openblas_set_num_threads(previous); }
  };
  auto threads = std::make_shared<BlasThreads>(tg::get_num_threads());
  tg::Tensor a = tg::randn({n, n}), b = tg::randn({n, n}), c = tg::empty({n, n});
  return [a, b, c, threads] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                0.0f, c.data<float>(), n);
    consume(c);
  };
}

Step make_add_16m() {
  tg::Tensor a = tg::randn({std::int64_t{1} << 24}), b = tg::randn({std::int64_t{1} << 24});
  return [a, b] { consume(tg::add(a, b)); };
}

Step make_softmax_4096x1024() {
  tg::Tensor a = tg::randn({4096, 1024});
  return [a] { consume(tg::softmax(a, -1)); };
}

// ---- per-op overhead: a tiny MLP at batch 1 ------------------------------------------------------

/// A leaf initialised like PyTorch's nn.Linear default: uniform(-1/sqrt(in), 1/sqrt(in)), for
/// the weight and the bias alike.
tg::Tensor linear_init(tg::IntArrayRef shape, std::int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  tg::Tensor p;
  {
    tg::NoGradGuard no_grad;
    p = tg::sub(tg::mul(tg::rand(shape), 2.0 * bound), bound);
  }
  p.requires_grad_();
  return p;
}

/// The reference's Linear(32,32)-Tanh-Linear(32,32)-Tanh-Linear(32,1), mse_loss, SGD(lr=1e-2),
/// from raw ops: each Linear is matmul + add with the weight stored as [in, out] (x W^T with
/// W^T held directly, so no transpose view per step), the loss is mean((out - y)^2). Step:
/// zero_grad, forward, backward, update. zero_grad(false) zeroes in place as torch 1.13's
/// Optimizer.zero_grad() does by default (set_to_none=False), so both sides do the same work.
Step make_tiny_mlp() {
  struct Mlp {
    tg::Tensor w1, b1, w2, b2, w3, b3, x, y;
    tg::optim::SGD opt;
  };
  tg::Tensor w1 = linear_init({32, 32}, 32), b1 = linear_init({32}, 32);
  tg::Tensor w2 = linear_init({32, 32}, 32), b2 = linear_init({32}, 32);
  tg::Tensor w3 = linear_init({32, 1}, 32), b3 = linear_init({1}, 32);
  tg::Tensor x = tg::randn({1, 32}), y = tg::randn({1, 1});
  auto m = std::make_shared<Mlp>(Mlp{w1, b1, w2, b2, w3, b3, x, y, tg::optim::SGD({w1, b1, w2, b2, w3, b3}, 1e-2)});
  return [m] {
    m->opt.zero_grad(/*set_to_none=*/false);
    tg::Tensor h = tg::tanh(tg::add(tg::matmul(m->x, m->w1), m->b1));
    h = tg::tanh(tg::add(tg::matmul(h, m->w2), m->b2));
    tg::Tensor out = tg::add(tg::matmul(h, m->w3), m->b3);
    tg::Tensor loss = tg::mean(tg::pow(tg::sub(out, m->y), 2.0));
    loss.backward();
    m->opt.step();
    consume(loss);
  };
}

// ---- the table -----------------------------------------------------------------------------------

struct Workload {
  const char* name;
  Step (*make)();
  int warmup;
  int iters;
};

// Names, warmup and iteration counts as in torch_reference.py's WORKLOADS (sgemm_1024: ours only).
const Workload kWorkloads[] = {
    {"tiny_mlp", make_tiny_mlp, 100, 2000},
    {"matmul_1024", make_matmul_1024, 3, 30},
    {"sgemm_1024", make_sgemm_1024, 3, 30},
    {"add_16m", make_add_16m, 3, 30},
    {"softmax_4096x1024", make_softmax_4096x1024, 3, 30},
};

const Workload* find_workload(std::string_view name) {
  for (const Workload& w : kWorkloads)
    if (name == w.name) return &w;
  return nullptr;
}

// ---- timing and output ---------------------------------------------------------------------------

std::vector<double> timed(const Step& step, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    const auto t = std::chrono::steady_clock::now();
    step();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return samples;
}

/// statistics.median: the middle value, or the mean of the two middle values.
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/// A number as Python's json.dumps(round(x, digits)) writes it: shortest round-trip form, with
/// a ".0" on integral values.
std::string py_float(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  x = std::round(x * scale) / scale;
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int usage_error(const char* prog, const std::string& message) {
  std::fprintf(stderr, "%s: %s\nusage: %s [--threads N] [--warmup N] [--iters N] [--list] [workload ...]\n", prog,
               message.c_str(), prog);
  return 2;
}

bool parse_int(const char* s, int& out) {
  const char* end = s + std::strlen(s);
  const auto res = std::from_chars(s, end, out);
  return res.ec == std::errc() && res.ptr == end;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, warmup_override = -1, iters_override = -1;
  std::vector<const Workload*> selected;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    int* target = nullptr;
    std::string_view option;
    for (auto [flag, dst] : {std::pair{"--threads", &threads}, std::pair{"--warmup", &warmup_override},
                             std::pair{"--iters", &iters_override}}) {
      const std::string_view f = flag;
      if (arg == f || (arg.size() > f.size() && arg.substr(0, f.size() + 1) == std::string(f) + "=")) {
        target = dst;
        option = f;
      }
    }
    if (target) {
      const char* value = nullptr;
      if (arg.size() > option.size()) value = argv[i] + option.size() + 1;
      else if (i + 1 < argc) value = argv[++i];
      const int minimum = target == &warmup_override ? 0 : 1;
      if (!value || !parse_int(value, *target) || *target < minimum)
        return usage_error(argv[0], "bad value for " + std::string(option));
    } else if (arg == "--list") {
      for (const Workload& w : kWorkloads) std::printf("%s warmup=%d iters=%d\n", w.name, w.warmup, w.iters);
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      usage_error(argv[0], "tapegrad's side of bench/compare.py; prints one JSON line per workload");
      return 0;
    } else if (arg.starts_with("-")) {
      return usage_error(argv[0], "unknown option " + std::string(arg));
    } else if (const Workload* w = find_workload(arg)) {
      selected.push_back(w);
    } else {
      return usage_error(argv[0], "unknown workload '" + std::string(arg) + "' (see --list)");
    }
  }
  if (selected.empty())
    for (const Workload& w : kWorkloads) selected.push_back(&w);

  try {
    tg::set_num_threads(threads);
    tg::manual_seed(0);
    for (const Workload* w : selected) {
      const int warmup = warmup_override >= 0 ? warmup_override : w->warmup;
      const int iters = iters_override >= 0 ? iters_override : w->iters;
      const std::vector<double> samples = timed(w->make(), warmup, iters);
      std::printf(
          "{\"workload\": \"%s\", \"framework\": \"tapegrad-%s\", \"threads\": %d, \"median_ms\": %s, "
          "\"min_ms\": %s, \"max_ms\": %s, \"peak_rss_mb\": %s}\n",
          w->name, TAPEGRAD_BENCH_VERSION, threads, py_float(median(samples), 4).c_str(),
          py_float(*std::min_element(samples.begin(), samples.end()), 4).c_str(),
          py_float(*std::max_element(samples.begin(), samples.end()), 4).c_str(), py_float(peak_rss_mb(), 1).c_str());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tapegrad_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
