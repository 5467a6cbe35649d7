# Finds tapegrad's dependencies, all from Debian 12 packages, and gives each an imported
# target. Used by the build and, installed, by tapegradConfig.cmake for consumers.
include(CMakeFindDependencyMacro)

find_dependency(Threads)
find_dependency(TBB)            # libtbb-dev: TBB::tbb
find_dependency(fmt)            # libfmt-dev: fmt::fmt

# libopenblas-dev ships OpenBLASConfig.cmake with variables only; wrap them in a target.
if(NOT TARGET tapegrad::openblas)
  find_dependency(OpenBLAS)
  add_library(tapegrad::openblas INTERFACE IMPORTED)
  set_target_properties(tapegrad::openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
endif()
