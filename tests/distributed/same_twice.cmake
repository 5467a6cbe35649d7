# cmake -DCOMMAND=<list> -P same_twice.cmake: runs COMMAND (the determinism case under mpirun)
# twice, as two separate jobs, and passes when both succeed and print the same "parameter
# checksum" line (the sum of every parameter, 17 significant digits).
foreach(run 1 2)
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 100)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run ${run} failed (${status}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "parameter checksum [^\n]*" line${run} "${out}")
  message(STATUS "run ${run}: ${line${run}}")
endforeach()
if(NOT line1 OR NOT line1 STREQUAL line2)
  message(FATAL_ERROR "two jobs with the same seed gave different parameters: '${line1}' and '${line2}'")
endif()
