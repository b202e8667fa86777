# Installation layout and the Debian package (cpack -G DEB in the build folder).
include(GNUInstallDirs)

install(TARGETS dnsverdict RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET dnsverdict_module)
  # The module fits only the Unbound it was built against: the folder names that version.
  install(TARGETS dnsverdict_module LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/dnsverdict/unbound-${UNBOUND_VERSION})
endif()
install(FILES ${PROJECT_SOURCE_DIR}/conf/dnsverdict.conf DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/dnsverdict OPTIONAL)
install(FILES ${PROJECT_SOURCE_DIR}/conf/feeds.manifest DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/conf/feeds DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES
  ${PROJECT_SOURCE_DIR}/packaging/systemd/dnsverdict-compile.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/dnsverdict-compile.timer
  DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/logrotate/dnsverdict
  DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/logrotate.d)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

set(CPACK_PACKAGE_NAME dnsverdict)
set(CPACK_PACKAGE_VENDOR "dnsverdict")
set(CPACK_PACKAGE_CONTACT "dnsverdict maintainers <dnsverdict@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Unbound module and compiler for memory-mapped DNS verdict stores")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The module is loaded by an Unbound built with --with-dynlibmodule of this exact version.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "dnsverdict compiles threat feeds (RPZ, hosts, lists, CSV/JSON) into one LMDB verdict\n store and applies it inside Unbound through its dynlib module (built for Unbound ${UNBOUND_VERSION}).")
include(CPack)
