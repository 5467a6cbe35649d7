# cmake -DCOMMAND=<list> -DMESSAGE=<regex> -P expect_abort.cmake: runs COMMAND (an mpirun whose
# rank throws) and passes when it ends within 60 s with a non-zero status and prints MESSAGE.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 60)
message("${out}")
if(status MATCHES "timeout" OR status MATCHES "Process terminated")
  message(FATAL_ERROR "the job did not end within 60 s: ${status}")
endif()
if(status EQUAL 0)
  message(FATAL_ERROR "the job exited with status 0; expected a failure")
endif()
if(NOT out MATCHES "${MESSAGE}")
  message(FATAL_ERROR "the output does not contain '${MESSAGE}'")
endif()
message(STATUS "the job ended with status ${status} and the failing rank's message")
