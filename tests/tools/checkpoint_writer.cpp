// A child process for the crash test in tests/train/test_checkpoint.cpp: writes checkpoints of
// generation first, first + 1, ... to path, forever or count times. Every value of generation g
// is g, so a reader can tell a whole checkpoint from a torn one. The test kills it with SIGKILL
// while it writes.
//
//   tapegrad_checkpoint_writer PATH FIRST_GENERATION COUNT(0 = forever) ELEMENTS
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tapegrad/tapegrad.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PATH FIRST_GENERATION COUNT ELEMENTS\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const long long first = std::atoll(argv[2]), count = std::atoll(argv[3]), elements = std::atoll(argv[4]);
  for (long long g = first; count == 0 || g < first + count; ++g) {
    tg::Checkpoint ck;
    ck.model.insert("weight", tg::full({elements}, static_cast<double>(g)));
    ck.model.insert("bias", tg::full({16}, static_cast<double>(g), tg::kFloat64));
    ck.step = g;
    ck.metadata["generation"] = std::to_string(g);
    tg::save_checkpoint(ck, path);
  }
  return 0;
}
