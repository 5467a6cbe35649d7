// Configure-time probe (cmake/tapegradWarnings.cmake): GCC 12.2 with AVX-512 enabled
// (-march=native on an AVX-512 CPU, or -march=x86-64-v4) builds a vector constant whose last
// elements are zero as a broadcast of its first element, so {1, 1, 1, 1, 1, 1, 0, 0} is stored
// as eight ones. Exit status 0: the constant comes out right.
#include <cstring>

// Reads the stored values where the optimiser cannot see them.
__attribute__((noinline)) int wrong(const float* v) {
  const volatile float* p = v;
  for (int i = 0; i < 8; ++i)
    if (p[i] != (i < 6 ? 1.0f : 0.0f)) return 1;
  return 0;
}

int main() {
  float* v = new float[8];
  const float init[8] = {1, 1, 1, 1, 1, 1, 0, 0};
  std::memcpy(v, init, sizeof init);
  const int bad = wrong(v);
  delete[] v;
  return bad;
}
