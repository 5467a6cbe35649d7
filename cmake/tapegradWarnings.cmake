# Flags for tapegrad's own targets (never forced on consumers).
#
# Sanitizers apply to everything built in the tree, so every object and the final link agree.
if(TAPEGRAD_SANITIZE)
  # GCC 12's ASan puts stack objects that need 64-byte alignment at 32-byte offsets of its fake
  # stack (detect_stack_use_after_return=1), so code built for an AVX-512 CPU dies with SIGSEGV
  # on an aligned vmovdqa64 of such a slot (seen on an AMD EPYC with GCC 12.2): the sanitizer
  # presets build for the baseline CPU (TAPEGRAD_NATIVE=OFF), alike on every machine.
  if(TAPEGRAD_NATIVE AND TAPEGRAD_SANITIZE MATCHES "address" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    message(WARNING "TAPEGRAD_SANITIZE=${TAPEGRAD_SANITIZE} with TAPEGRAD_NATIVE=ON: GCC ${CMAKE_CXX_COMPILER_VERSION} "
                    "misaligns 64-byte stack slots under detect_stack_use_after_return on AVX-512 CPUs; "
                    "configure with -DTAPEGRAD_NATIVE=OFF (as the sanitizer presets do)")
  endif()
  add_compile_options(-fsanitize=${TAPEGRAD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TAPEGRAD_SANITIZE})
endif()

# -march=native, unless this compiler miscompiles for this CPU. GCC 12.2 (Debian 12's) with
# AVX-512 enabled builds a vector constant whose trailing elements are zero as a broadcast of its
# first element ({1, 1, 1, 1, 1, 1, 0, 0} is stored as eight ones; seen on an AMD EPYC, also with
# -march=x86-64-v4): a probe compiles and runs that pattern, and if it comes out wrong the targets
# are built with -mno-avx512f (AVX2 and FMA stay; OpenBLAS picks its own kernels at run time).
set(TAPEGRAD_ARCH_FLAGS "")
if(TAPEGRAD_NATIVE)
  set(TAPEGRAD_ARCH_FLAGS -march=native)
  if(NOT DEFINED CACHE{TAPEGRAD_NATIVE_CONSTANTS_OK})
    try_run(_tg_probe_run _tg_probe_compiled ${CMAKE_BINARY_DIR}/probes/avx512_vector_constant
            ${CMAKE_CURRENT_LIST_DIR}/probes/avx512_vector_constant.cpp
            COMPILE_DEFINITIONS -O2 -march=native CXX_STANDARD 20)
    if(_tg_probe_compiled AND _tg_probe_run EQUAL 0)
      set(TAPEGRAD_NATIVE_CONSTANTS_OK ON CACHE INTERNAL "-march=native builds vector constants right")
    else()
      set(TAPEGRAD_NATIVE_CONSTANTS_OK OFF CACHE INTERNAL "-march=native builds vector constants right")
    endif()
  endif()
  if(NOT TAPEGRAD_NATIVE_CONSTANTS_OK)
    message(STATUS "tapegrad: ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} miscompiles vector constants with "
                   "AVX-512 on this CPU (cmake/probes/avx512_vector_constant.cpp); building with -march=native -mno-avx512f")
    list(APPEND TAPEGRAD_ARCH_FLAGS -mno-avx512f)
  endif()
endif()

# tapegrad_setup_target(<target>): warnings and CPU tuning for one of tapegrad's targets.
function(tapegrad_setup_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra ${TAPEGRAD_ARCH_FLAGS})
endfunction()

# tapegrad_add_library(<layer> SOURCES <file>... LINKS <target>...): the library of one layer
# above the core, tapegrad_<layer> (alias tapegrad::<layer>), of the given sources; its public
# headers under include/ of the calling folder, linked publicly to the layers below it, with
# tapegrad_setup_target's flags and position-independent code.
function(tapegrad_add_library layer)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES;LINKS")
  set(target tapegrad_${layer})
  add_library(${target} ${ARG_SOURCES})
  add_library(tapegrad::${layer} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_link_libraries(${target} PUBLIC ${ARG_LINKS})
  tapegrad_setup_target(${target})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
