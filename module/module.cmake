# The Unbound module: build/module/dnsverdict.so (no "lib" prefix), loaded by Unbound's
# dynlib module. Included by module/CMakeLists.txt when DNSVERDICT_BUILD_MODULE is on.
#
# The shared object is dnsverdict_module_logic (module/logic/) plus the glue in
# unbound/, the only files that include Unbound's headers (unbound/glue.h has their map).

add_library(dnsverdict_module MODULE
  ${CMAKE_CURRENT_LIST_DIR}/unbound/answers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/blocked_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/callbacks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/client.c
  ${CMAKE_CURRENT_LIST_DIR}/unbound/entry_points.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/queries.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/running_unbound.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unbound/state.cpp
)
# Unbound's headers expect its config.h first; they are included only here.
target_include_directories(dnsverdict_module PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${UNBOUND_TREE})
target_compile_definitions(dnsverdict_module PRIVATE
  DNSVERDICT_VERSION="${PROJECT_VERSION}"
  DNSVERDICT_UNBOUND_VERSION="${UNBOUND_VERSION}")
# Unbound's C headers do not build clean under -Wextra in C++ (and its own C neither).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/unbound/client.c PROPERTIES
  COMPILE_OPTIONS "-Wno-unused-parameter;-Wno-sign-compare")
target_link_libraries(dnsverdict_module PRIVATE dnsverdict_module_logic ${CMAKE_DL_LIBS})
# Only the six dynlib entry points are exported; Unbound's own symbols resolve from the
# unbound executable at load time.
set_target_properties(dnsverdict_module PROPERTIES
  OUTPUT_NAME dnsverdict
  PREFIX ""
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/module
  CXX_VISIBILITY_PRESET hidden
  C_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON)
target_link_options(dnsverdict_module PRIVATE -Wl,--exclude-libs,ALL)
