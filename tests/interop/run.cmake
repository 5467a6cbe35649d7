# One interop test: cmake -DPYTHON=... -DINTEROP=... -DSCRIPT=... -DMODEL=... -DDIR=...
#   -DDIRECTION=tapegrad_to_torch|torch_to_tapegrad -P run.cmake
# tapegrad_to_torch: tapegrad trains and saves, torch loads and compares.
# torch_to_tapegrad: torch trains and saves, tapegrad loads and compares.
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
if(DIRECTION STREQUAL "tapegrad_to_torch")
  set(first ${INTEROP} export ${MODEL} ${DIR})
  set(second ${PYTHON} ${SCRIPT} check ${MODEL} ${DIR})
elseif(DIRECTION STREQUAL "torch_to_tapegrad")
  set(first ${PYTHON} ${SCRIPT} export ${MODEL} ${DIR})
  set(second ${INTEROP} check ${MODEL} ${DIR})
else()
  message(FATAL_ERROR "run.cmake: DIRECTION must be tapegrad_to_torch or torch_to_tapegrad, not '${DIRECTION}'")
endif()
foreach(step first second)
  execute_process(COMMAND ${${step}} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "interop ${MODEL} ${DIRECTION}: '${${step}}' failed (${status})")
  endif()
endforeach()
