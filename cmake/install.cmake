# cmake --install: the plena binary, the module libraries with their public headers, a CMake
# package (find_package(plena) -> plena::plena), plena.pc, the Python module, a man page and
# bash completion. Every version below comes from project(VERSION) in the top CMakeLists.txt.
include(CMakePackageConfigHelpers)

# Module libraries, most dependent first (the static link order plena.pc lists them in).
set(PLENA_INSTALL_LIBS plena_mcp_bench plena_mcp plena_bench plena_dse plena_serve plena_validate plena_eval plena_runner plena_analytic plena_compiler plena_sim
    plena_sim_timing plena_ppa plena_config plena_dram plena_model plena_tokenizer plena_isa plena_numerics plena_support)
set(_plena_libs)
foreach(lib IN LISTS PLENA_INSTALL_LIBS)
  if(TARGET ${lib})
    list(APPEND _plena_libs ${lib})
  endif()
endforeach()

# plena::plena: every module library (consumers link one target).
add_library(plena_library INTERFACE)
set_target_properties(plena_library PROPERTIES EXPORT_NAME plena)
target_link_libraries(plena_library INTERFACE ${_plena_libs})

install(TARGETS plena RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${_plena_libs} plena_library plena_options EXPORT plenaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Public headers keep their "module/header.hpp" paths under include/plena (the CLI and the Python
# bindings are not library API).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/plena
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.def"
        PATTERN "cli" EXCLUDE PATTERN "python" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/generated/plena/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/plena/plena)

set(PLENA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/plena)
install(EXPORT plenaTargets NAMESPACE plena:: DESTINATION ${PLENA_CMAKE_DIR})
# MPI was looked for in src/dse's scope: ask the library whether it links it.
set(PLENA_CONFIG_MPI OFF)
if(TARGET plena_dse)
  get_target_property(_dse_links plena_dse LINK_LIBRARIES)
  if("MPI::MPI_CXX" IN_LIST _dse_links)
    set(PLENA_CONFIG_MPI ON)
  endif()
endif()
# The tokenizer's private (static) dependencies: PCRE2 always, ICU when it was found.
set(PLENA_CONFIG_ICU OFF)
set(PLENA_CONFIG_SENTENCEPIECE "")
if(TARGET plena_tokenizer)
  get_target_property(_tok_links plena_tokenizer LINK_LIBRARIES)
  if("PkgConfig::ICU_UC" IN_LIST _tok_links)
    set(PLENA_CONFIG_ICU ON)
  endif()
  if(PLENA_SENTENCEPIECE_LIB AND "${PLENA_SENTENCEPIECE_LIB}" IN_LIST _tok_links)
    set(PLENA_CONFIG_SENTENCEPIECE " -lsentencepiece")
  endif()
endif()
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/plenaConfig.cmake.in ${CMAKE_BINARY_DIR}/plenaConfig.cmake
                              INSTALL_DESTINATION ${PLENA_CMAKE_DIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/plenaConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/plenaConfig.cmake ${CMAKE_BINARY_DIR}/plenaConfigVersion.cmake
        DESTINATION ${PLENA_CMAKE_DIR})

# pkg-config: -l flags in static link order; the libraries are static, so their own dependencies
# are public here (Requires, not Requires.private).
set(PLENA_PC_REQUIRES "fmt tomlplusplus libhwy libpcre2-8")
if(PLENA_CONFIG_ICU)
  string(APPEND PLENA_PC_REQUIRES " icu-uc")
endif()
if(PLENA_CONFIG_MPI)
  string(APPEND PLENA_PC_REQUIRES " mpi-cxx")
endif()
set(PLENA_PC_LIBS "")
foreach(lib IN LISTS _plena_libs)
  get_target_property(_type ${lib} TYPE)
  if(NOT _type STREQUAL "INTERFACE_LIBRARY")
    string(REGEX REPLACE "^lib" "" _name "${lib}")
    string(APPEND PLENA_PC_LIBS " -l${_name}")
  endif()
endforeach()
# Relocatable: the prefix is found from the .pc file's own folder (cmake --install --prefix P).
file(RELATIVE_PATH PLENA_PC_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file(${CMAKE_SOURCE_DIR}/cmake/plena.pc.in ${CMAKE_BINARY_DIR}/plena.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/plena.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Python module under the prefix's usual site-packages path (PYTHONPATH=PREFIX/<this>).
if(TARGET plena_python)
  set(PLENA_PYTHON_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/python${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}/site-packages"
      CACHE STRING "Where cmake --install puts the Python module, relative to the prefix")
  install(TARGETS plena_python LIBRARY DESTINATION ${PLENA_PYTHON_INSTALL_DIR})
  install(FILES ${CMAKE_SOURCE_DIR}/src/python/plena.pyi DESTINATION ${PLENA_PYTHON_INSTALL_DIR})
endif()

# Man page from the CLI's own help (help2man, Debian package help2man), one section per command.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/plena.1
    COMMAND ${CMAKE_COMMAND} -DPLENA=$<TARGET_FILE:plena> -DHELP2MAN=${HELP2MAN} -DOUT=${CMAKE_BINARY_DIR}/man/plena.1
            -P ${CMAKE_SOURCE_DIR}/cmake/gen-man.cmake
    DEPENDS plena ${CMAKE_SOURCE_DIR}/cmake/gen-man.cmake
    COMMENT "Generating the plena man page from plena --help")
  add_custom_target(plena_man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/plena.1)
  install(FILES ${CMAKE_BINARY_DIR}/man/plena.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "plena: help2man not found, no man page")
endif()

install(FILES ${CMAKE_SOURCE_DIR}/scripts/plena-completion.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME plena)
