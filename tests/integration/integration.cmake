# Integration tests that need the dynlib-enabled Unbound: included from tests/CMakeLists.txt
# when the module is built. Each starts NSD and Unbound (2 threads) with the module on free
# loopback ports and always stops them.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND UNBOUND_EXECUTABLE)
  if(TARGET dnsverdict_module)
    add_test(NAME integration.module
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/module_test.py)
    set_tests_properties(integration.module PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE}")
    # The counters of issue 5: persistence across a restart, cache hits, the Prometheus file.
    add_test(NAME integration.counters
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/counters_test.py)
    set_tests_properties(integration.counters PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE}")
  endif()
endif()
