# Integration tests that need the dynlib-enabled Unbound: included from tests/CMakeLists.txt
# when the module is built. Each starts NSD and Unbound (2 threads) with the module on free
# loopback ports and always stops them.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND UNBOUND_EXECUTABLE)
  # A sanitizer build's module needs the ASan runtime loaded first into the (plain) Unbound
  # process: the harness preloads it there only, and fails a test whose Unbound reported.
  set(DNSVERDICT_UNBOUND_PRELOAD "")
  if(DNSVERDICT_SANITIZE)
    # libstdc++ too: Unbound is C, and ASan finds the C++ runtime's __cxa_throw only if that
    # is loaded when ASan starts.
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE asan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                    OUTPUT_VARIABLE cxx_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
    set(DNSVERDICT_UNBOUND_PRELOAD "${asan_runtime}:${cxx_runtime}")
  endif()
  if(TARGET dnsverdict_module)
    add_test(NAME integration.module
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/module_test.py)
    set_tests_properties(integration.module PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
    # Do no harm: reloads, module chains, super-queries, stores rewritten in place.
    add_test(NAME integration.safety
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/safety_test.py)
    set_tests_properties(integration.safety PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
    # Policy beyond the query name: address rules (RPZ's IP trigger) on every query path.
    add_test(NAME integration.policy
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/policy_test.py)
    set_tests_properties(integration.policy PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
    # The same RPZ zone through Unbound's native rpz: and through the module: same answers.
    add_test(NAME integration.differential
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/differential_test.py)
    set_tests_properties(integration.differential PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
    # Counting: persistence across a restart, cache hits, the Prometheus file.
    add_test(NAME integration.counters
             COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/counters_test.py)
    set_tests_properties(integration.counters PROPERTIES
      LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120
      ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
  endif()
endif()

# Feeds fetched from real servers on loopback: Knot DNS (AXFR, IXFR, TSIG) and HTTPS.
if(Python3_Interpreter_FOUND)
  add_test(NAME integration.fetch
           COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_LIST_DIR}/fetch_test.py)
  set_tests_properties(integration.fetch PROPERTIES LABELS integration TIMEOUT 120
    ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>")
endif()

# `make run` checks its ports first and says which is taken (scripts/run.sh).
if(Python3_Interpreter_FOUND)
  add_test(NAME integration.run_ports
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_script_test.py ${CMAKE_BINARY_DIR})
  set_tests_properties(integration.run_ports PROPERTIES LABELS integration TIMEOUT 120)
endif()
