# The resume test of examples/lstm_attention (and of the other examples with --stop-after and
# --resume), run by ctest as
#   cmake -DEXE=<example> -DOUT=<folder> "-DARGS=<flags>" -P resume_test.cmake
# Trains 2 epochs without stopping, then 2 epochs stopped after the first (--stop-after 1) and
# resumed (--resume), and fails unless both runs wrote the same metrics.csv (losses, accuracy) and
# the same checkpoint, byte for byte.
foreach(var EXE OUT ARGS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "resume_test.cmake: -D${var}=... is missing")
  endif()
endforeach()

separate_arguments(ARGS UNIX_COMMAND "${ARGS}")
get_filename_component(name "${EXE}" NAME)

function(run)
  execute_process(COMMAND ${EXE} ${ARGS} ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${name} ${ARGS} ${ARGN} failed (${status}):\n${out}\n${err}")
  endif()
  message(STATUS "${name} ${ARGN}:\n${out}")
endfunction()

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
