# Shared by the examples' script tests (resume_test.cmake, mlp_mnist/idx_test.cmake), which ctest
# runs as
#   cmake -DEXE=<example> -DOUT=<folder> "-DARGS=<flags>" -P <script>
# Checks the three variables, splits ARGS and defines run(<more flags>...): runs EXE with ARGS and
# the flags, fails the test unless it exits 0, and leaves its standard output in `output`.
foreach(var EXE OUT ARGS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${CMAKE_SCRIPT_MODE_FILE}: -D${var}=... is missing")
  endif()
endforeach()

separate_arguments(ARGS UNIX_COMMAND "${ARGS}")
get_filename_component(example_name "${EXE}" NAME)

function(run)
  execute_process(COMMAND ${EXE} ${ARGS} ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${example_name} ${ARGS} ${ARGN} failed (${status}):\n${out}\n${err}")
  endif()
  message(STATUS "${example_name} ${ARGN}:\n${out}")
  set(output "${out}" PARENT_SCOPE)
endfunction()
