# install(): libraries, headers under include/tapegrad/, tapegradConfig.cmake (which finds
# tapegrad's own dependencies for the consumer) and tapegrad.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(tapegrad_core PROPERTIES EXPORT_NAME core)
set_target_properties(tapegrad_nn PROPERTIES EXPORT_NAME nn)
set_target_properties(tapegrad_optim PROPERTIES EXPORT_NAME optim)
set_target_properties(tapegrad_train PROPERTIES EXPORT_NAME train)
set_target_properties(tapegrad PROPERTIES EXPORT_NAME tapegrad)
# tapegrad::distributed when it was built (MPI found): the consumer's find_package(tapegrad)
# then finds MPI too (tapegradConfig.cmake).
set(tapegrad_installed_libs tapegrad tapegrad_core tapegrad_nn tapegrad_optim tapegrad_train)
set(tapegrad_include_dirs core/include nn/include optim/include train/include include)
set(TAPEGRAD_HAS_DISTRIBUTED OFF)
if(TARGET tapegrad_distributed)
  set(TAPEGRAD_HAS_DISTRIBUTED ON)
  set_target_properties(tapegrad_distributed PROPERTIES EXPORT_NAME distributed)
  list(APPEND tapegrad_installed_libs tapegrad_distributed)
  list(APPEND tapegrad_include_dirs distributed/include)
endif()

install(TARGETS ${tapegrad_installed_libs}
  EXPORT tapegradTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir ${tapegrad_include_dirs})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(TAPEGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake INSTALL_DESTINATION ${TAPEGRAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/tapegradDependencies.cmake DESTINATION ${TAPEGRAD_CMAKE_DIR})

# tapegrad.pc. Static libraries carry no record of what they link, so when tapegrad is static
# its dependencies go in the public Requires/Libs (a plain `pkg-config --libs tapegrad` must
# link); when shared, they are private.
get_target_property(tapegrad_core_type tapegrad_core TYPE)
if(tapegrad_core_type STREQUAL "STATIC_LIBRARY")
  set(TAPEGRAD_PC_REQUIRES "fmt tbb openblas")
  set(TAPEGRAD_PC_REQUIRES_PRIVATE "")
  set(TAPEGRAD_PC_LIBS_DEPS "-lpthread")
  set(TAPEGRAD_PC_LIBS_PRIVATE "")
else()
  set(TAPEGRAD_PC_REQUIRES "fmt")
  set(TAPEGRAD_PC_REQUIRES_PRIVATE "tbb openblas")
  set(TAPEGRAD_PC_LIBS_DEPS "")
  set(TAPEGRAD_PC_LIBS_PRIVATE "-lpthread")
endif()
# Its prefix is the one installed to, known only at install time (`cmake --install --prefix`
# overrides CMAKE_INSTALL_PREFIX): fill in everything else now, the prefix when installing.
set(TAPEGRAD_PC_PREFIX "@TAPEGRAD_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/tapegrad.pc.in ${PROJECT_BINARY_DIR}/tapegrad.pc.in @ONLY)
install(CODE "
  set(TAPEGRAD_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/tapegrad.pc.in\" \"${PROJECT_BINARY_DIR}/tapegrad.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
