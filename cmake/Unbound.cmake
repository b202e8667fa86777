# Provides an Unbound built with the dynlib module, and the source tree the module compiles
# against. Built once into UNBOUND_PREFIX at configure time; later configures reuse it.
if(NOT DNSVERDICT_BUILD_MODULE)
  return()
endif()

# An Unbound configured and built elsewhere, out of tree (make package: the rebuilt Debian
# package): the module compiles against that very configuration; nothing is built here, and
# the tests that need an Unbound binary are left out.
if(UNBOUND_BUILD_DIR)
  if(NOT UNBOUND_SOURCE_DIR OR NOT EXISTS "${UNBOUND_SOURCE_DIR}/dynlibmod/dynlibmod.h")
    message(FATAL_ERROR "dnsverdict: UNBOUND_BUILD_DIR needs UNBOUND_SOURCE_DIR, the Unbound source tree it was configured from")
  endif()
  file(STRINGS "${UNBOUND_BUILD_DIR}/config.h" _unbound_dynlib REGEX "^#define WITH_DYNLIBMODULE 1")
  if(NOT _unbound_dynlib)
    message(FATAL_ERROR "dnsverdict: ${UNBOUND_BUILD_DIR}/config.h is missing or not configured --with-dynlibmodule")
  endif()
  set(UNBOUND_TREE "${UNBOUND_SOURCE_DIR}")
  # Its config.h and generated headers come before the sources' (directory scope: the module).
  include_directories(BEFORE "${UNBOUND_BUILD_DIR}")
  file(STRINGS "${UNBOUND_BUILD_DIR}/config.h" _unbound_version_line REGEX "^#define PACKAGE_VERSION ")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" UNBOUND_VERSION "${_unbound_version_line}")
  message(STATUS "dnsverdict: module built against Unbound ${UNBOUND_VERSION} (${UNBOUND_BUILD_DIR})")
  return()
endif()

set(_unbound_work "${CMAKE_BINARY_DIR}/unbound-src")
# Where the source comes from: a tree, a release tarball, or (neither) Debian's source package.
if(UNBOUND_SOURCE_DIR AND UNBOUND_RELEASE_TARBALL)
  message(FATAL_ERROR "dnsverdict: set UNBOUND_SOURCE_DIR or UNBOUND_RELEASE_TARBALL, not both")
endif()
set(_unbound_source "${UNBOUND_SOURCE_DIR}")
if(UNBOUND_RELEASE_TARBALL)
  set(_unbound_source "${UNBOUND_RELEASE_TARBALL}")
endif()
if(NOT EXISTS "${UNBOUND_PREFIX}/.built")
  message(STATUS "dnsverdict: building Unbound with the dynlib module (once, about a minute)")
endif()
execute_process(
  COMMAND "${PROJECT_SOURCE_DIR}/scripts/build-unbound.sh" "${UNBOUND_PREFIX}" "${_unbound_work}" "${_unbound_source}"
  RESULT_VARIABLE _unbound_result)
if(NOT _unbound_result EQUAL 0)
  message(FATAL_ERROR "dnsverdict: could not build Unbound (see above); pass -DUNBOUND_SOURCE_DIR=<tree>, -DUNBOUND_RELEASE_TARBALL=<unbound-X.Y.Z.tar.gz> or -DDNSVERDICT_BUILD_MODULE=OFF")
endif()
file(READ "${UNBOUND_PREFIX}/.built" UNBOUND_TREE)
string(STRIP "${UNBOUND_TREE}" UNBOUND_TREE)
file(STRINGS "${UNBOUND_TREE}/config.h" _unbound_version_line REGEX "^#define PACKAGE_VERSION ")
string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" UNBOUND_VERSION "${_unbound_version_line}")
set(UNBOUND_EXECUTABLE "${UNBOUND_PREFIX}/sbin/unbound")
set(UNBOUND_CONTROL_EXECUTABLE "${UNBOUND_PREFIX}/sbin/unbound-control")
set(UNBOUND_CHECKCONF_EXECUTABLE "${UNBOUND_PREFIX}/sbin/unbound-checkconf")
message(STATUS "dnsverdict: module built against Unbound ${UNBOUND_VERSION} (${UNBOUND_TREE})")
