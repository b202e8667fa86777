# Integration tests that need the dynlib-enabled Unbound: included from tests/CMakeLists.txt
# when the module is built. Each starts NSD and Unbound (2 threads) with the module on free
# loopback ports and always stops them.
find_package(Python3 COMPONENTS Interpreter)

# One Python test program of tests/integration/ (harness.py), with the paths it reads from its
# environment: the CLI, the module, the Unbound to load it into, the sanitizer runtime.
function(dnsverdict_integration_test name script timeout)
  add_test(NAME ${name} COMMAND ${Python3_EXECUTABLE} -W ignore ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${script})
  set_tests_properties(${name} PROPERTIES
    LABELS integration SKIP_RETURN_CODE 77 TIMEOUT ${timeout}
    ENVIRONMENT "DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>;DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>;UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE};DNSVERDICT_UNBOUND_PRELOAD=${DNSVERDICT_UNBOUND_PRELOAD}")
endfunction()

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
  elseif(DNSVERDICT_TSAN)
    # TSan's runtime must be in the process from its start (it intercepts pthread_create and
    # every lock Unbound takes): preloaded, as ASan's. Unbound itself is not instrumented.
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libtsan.so
                    OUTPUT_VARIABLE tsan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
    set(DNSVERDICT_UNBOUND_PRELOAD "${tsan_runtime}")
  endif()
  if(TARGET dnsverdict_module AND DNSVERDICT_TSAN)
    # The `tsan` preset: the tests that swap stores under load, reload, flush stats and write
    # the hit log (`make test-tsan`).
    dnsverdict_integration_test(integration.module module_test.py 900)
    dnsverdict_integration_test(integration.safety safety_test.py 900)
    dnsverdict_integration_test(integration.counters counters_test.py 600)
    dnsverdict_integration_test(integration.soak soak_test.py 600)
    set_tests_properties(integration.soak PROPERTIES ENVIRONMENT_MODIFICATION
      "SOAK_SECONDS=set:60;SOAK_RELOAD_EVERY=set:20;SOAK_MEMORY_CHECK=set:0")
  elseif(TARGET dnsverdict_module)
    # Every query path and action, the hit log, hot swaps and reloads.
    dnsverdict_integration_test(integration.module module_test.py 300)
    # Do no harm: reloads, module chains, super-queries, stores rewritten in place.
    dnsverdict_integration_test(integration.safety safety_test.py 300)
    # Policy beyond the query name: address rules (RPZ's IP trigger) on every query path.
    dnsverdict_integration_test(integration.policy policy_test.py 300)
    # The same RPZ zone through Unbound's native rpz: and through the module: same answers.
    dnsverdict_integration_test(integration.differential differential_test.py 300)
    # Counting: persistence across a restart, cache hits, the Prometheus file.
    dnsverdict_integration_test(integration.counters counters_test.py 120)
    # A minute of load while stores are published, the hit log rotated, Unbound reloaded and
    # stats flushed (`make soak` runs it for 10 minutes).
    dnsverdict_integration_test(integration.soak soak_test.py 300)
    set_tests_properties(integration.soak PROPERTIES
      ENVIRONMENT_MODIFICATION "SOAK_SECONDS=set:60;SOAK_RELOAD_EVERY=set:20")
    # Faults: a damaged store, a full disk, a store folder replaced, the clock jumping.
    dnsverdict_integration_test(integration.faults faults_test.py 400)
  endif()
endif()

if(DNSVERDICT_TSAN)
  return()
endif()

# The same paths for `make soak`, which runs soak_test.py outside CTest.
if(Python3_Interpreter_FOUND AND UNBOUND_EXECUTABLE AND TARGET dnsverdict_module)
  file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/integration.env CONTENT
"DNSVERDICT_CLI=$<TARGET_FILE:dnsverdict>
DNSVERDICT_MODULE=$<TARGET_FILE:dnsverdict_module>
UNBOUND_EXECUTABLE=${UNBOUND_EXECUTABLE}
")
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
