// Memory and time of one attention step, fused or composed, as a function of the sequence length:
// the measurement behind docs/performance.md's "Fused attention" table (no test asserts it).
//
//   tapegrad_attention_memory fused 4096            # [1, 4, 4096, 64] fwd+bwd, 1 thread
//   tapegrad_attention_memory composed 2048 --threads 2 --iters 5
//   tapegrad_attention_memory fused 4096 --heads 1 --threads 2   # one head: the split backward
//
// One process per (path, T), so that peak RSS is the step's own: q, k, v [1, 4, T, 64] requiring
// grad, out = attention(q, k, v) with scale 1/8 as ../shared/bench's long_attention writes it,
// out.sum().backward(). "fused" is nn::functional::scaled_dot_product_attention (core's fused
// kernel); "composed" is softmax(q k^T / 8) v from matmul and softmax, which holds the [T, T]
// scores, weights and their gradients. Prints one JSON line with the keys of tapegrad_bench.
// bench/attention_memory.py runs it (and the torch side) for T = 1k, 2k, 4k, 8k.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/core.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

int usage() {
  std::fprintf(
      stderr, "usage: tapegrad_attention_memory fused|composed T [--threads N] [--iters N] [--warmup N] [--heads H]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string_view path = argv[1];
  if (path != "fused" && path != "composed") return usage();
  const std::int64_t T = std::atoll(argv[2]);
  int threads = 1, iters = 3, warmup = 1, heads = 4;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--threads") threads = value;
    else if (flag == "--iters") iters = value;
    else if (flag == "--warmup") warmup = value;
    else if (flag == "--heads") heads = value;
    else return usage();
  }
  if (T < 1 || threads < 1 || iters < 1 || warmup < 0 || heads < 1) return usage();
  tg::set_num_threads(threads);
  tg::manual_seed(0);
  const tg::Tensor q = tg::randn({1, heads, T, 64}).requires_grad_();
  const tg::Tensor k = tg::randn({1, heads, T, 64}).requires_grad_();
  const tg::Tensor v = tg::randn({1, heads, T, 64}).requires_grad_();
  volatile float sink = 0;
  auto step = [&] {
    for (const tg::Tensor* t : {&q, &k, &v}) t->zero_grad(true);
    tg::Tensor out;
    if (path == "fused") out = tg::nn::functional::scaled_dot_product_attention(q, k, v);
    else out = tg::matmul(tg::softmax(tg::div(tg::matmul(q, k.transpose(-2, -1)), 8.0), -1), v);
    out.sum().backward();
    sink = q.grad().data<float>()[0];
  };
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  static_cast<void>(sink);
  std::sort(ms.begin(), ms.end());
  std::printf(
      "{\"workload\": \"long_attention_%s_T%lld%s\", \"framework\": \"tapegrad\", \"threads\": %d, "
      "\"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"peak_rss_mb\": %.1f}\n",
      std::string(path).c_str(), static_cast<long long>(T), heads == 4 ? "" : ("_H" + std::to_string(heads)).c_str(),
      threads, ms[ms.size() / 2], ms.front(), ms.back(), peak_rss_mb());
  return 0;
}
