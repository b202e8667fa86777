# Installation layout: Debian's (make package builds the .debs through packaging/debian/).
# With CMAKE_INSTALL_PREFIX=/usr, CMAKE_INSTALL_FULL_SYSCONFDIR is /etc and
# CMAKE_INSTALL_FULL_LOCALSTATEDIR /var (GNUInstallDirs).
include(GNUInstallDirs)

install(TARGETS dnsverdict RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET dnsverdict_module)
  # The module fits only the Unbound it was built against: the folder names that version.
  set(DNSVERDICT_MODULE_DIR ${CMAKE_INSTALL_LIBDIR}/dnsverdict/unbound-${UNBOUND_VERSION})
  install(TARGETS dnsverdict_module LIBRARY DESTINATION ${DNSVERDICT_MODULE_DIR})
  # The lines that load it into Unbound (the package links them into unbound.conf.d/).
  set(DNSVERDICT_MODULE_PATH ${CMAKE_INSTALL_PREFIX}/${DNSVERDICT_MODULE_DIR}/dnsverdict.so)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/unbound/unbound-module.conf.in
    ${CMAKE_BINARY_DIR}/packaging/unbound-module.conf @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/unbound-module.conf
    DESTINATION ${CMAKE_INSTALL_DATADIR}/dnsverdict)
endif()

# Configuration: the module's, and the sample manifest with its feeds (paths in a manifest
# are relative to its folder), which the compile timer compiles until replaced.
install(FILES
  ${PROJECT_SOURCE_DIR}/conf/dnsverdict.conf
  ${PROJECT_SOURCE_DIR}/conf/feeds.manifest
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/dnsverdict)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/conf/feeds DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/dnsverdict)

# Where Debian 12's systemd and debhelper look for units (not under the prefix).
set(DNSVERDICT_SYSTEMD_UNIT_DIR /lib/systemd/system CACHE PATH "Where the systemd units are installed")
install(FILES
  ${CMAKE_CURRENT_LIST_DIR}/systemd/dnsverdict-compile.service
  ${CMAKE_CURRENT_LIST_DIR}/systemd/dnsverdict-compile.timer
  DESTINATION ${DNSVERDICT_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/logrotate/dnsverdict
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/apparmor/dnsverdict
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/apparmor.d/unbound.d)

# Man pages, generated from the program's --help and the commented config (tools/man/).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(_man_dir ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${_man_dir}/dnsverdict.8 ${_man_dir}/dnsverdict.conf.5
  COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tools/man/make-man.py
          $<TARGET_FILE:dnsverdict> ${PROJECT_SOURCE_DIR}/conf/dnsverdict.conf ${_man_dir}
          ${PROJECT_VERSION}
  DEPENDS dnsverdict ${PROJECT_SOURCE_DIR}/tools/man/make-man.py
          ${PROJECT_SOURCE_DIR}/conf/dnsverdict.conf
  COMMENT "Generating dnsverdict(8) and dnsverdict.conf(5)")
add_custom_target(dnsverdict_man ALL DEPENDS ${_man_dir}/dnsverdict.8 ${_man_dir}/dnsverdict.conf.5)
install(FILES ${_man_dir}/dnsverdict.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${_man_dir}/dnsverdict.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The sample query log and indicators of docs/operations.md's incident workflow.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/conf/samples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
