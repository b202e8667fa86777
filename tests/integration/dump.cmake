# `dnsverdict dump --format rpz` loads in Unbound's own rpz: clause (tests/integration/
# dump_rpz_test.py). Included from tests/CMakeLists.txt when the module (and so the
# dynlib-enabled Unbound of cmake/Unbound.cmake) is built.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND UNBOUND_EXECUTABLE)
  add_test(NAME integration.dump_rpz_loads_in_unbound
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/dump_rpz_test.py
                   --cli $<TARGET_FILE:dnsverdict>
                   --unbound ${UNBOUND_EXECUTABLE}
                   --checkconf ${UNBOUND_CHECKCONF_EXECUTABLE})
  set_tests_properties(integration.dump_rpz_loads_in_unbound PROPERTIES
                       LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 60)
endif()
