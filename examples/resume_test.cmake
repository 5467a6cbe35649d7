# The resume test of every example with --stop-after and --resume, run by ctest as
#   cmake -DEXE=<example> -DOUT=<folder> "-DARGS=<flags>" -P resume_test.cmake
# Trains 2 epochs without stopping, then 2 epochs stopped after the first (--stop-after 1) and
# resumed (--resume), and fails unless both runs wrote the same metrics.csv (losses, accuracy) and
# the same checkpoint, byte for byte.
include(${CMAKE_CURRENT_LIST_DIR}/example_test.cmake)

file(REMOVE_RECURSE ${OUT})
run(--epochs 2 --out ${OUT}/uninterrupted)
run(--epochs 2 --stop-after 1 --out ${OUT}/resumed)
run(--epochs 2 --resume --out ${OUT}/resumed)

file(READ ${OUT}/uninterrupted/metrics.csv expected)
file(READ ${OUT}/resumed/metrics.csv actual)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "the resumed run's metrics differ from the uninterrupted run's:\n"
                      "uninterrupted:\n${expected}\nresumed:\n${actual}")
endif()
file(SHA256 ${OUT}/uninterrupted/checkpoint.safetensors expected)
file(SHA256 ${OUT}/resumed/checkpoint.safetensors actual)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "the resumed run's checkpoint differs from the uninterrupted run's")
endif()
message(STATUS "the resumed run wrote the same metrics.csv and checkpoint")
