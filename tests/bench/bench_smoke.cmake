# A small run of the `make bench` harness (tests/bench/harness/bench.py --smoke: 10k rules,
# 1 s per measurement, every variant that is installed), so that the harness cannot rot. It
# checks that every variant answers and blocks what it should, never how fast. Included from
# tests/CMakeLists.txt when the module (and so the dynlib-enabled Unbound) is built. Not in a
# sanitizer build: its servers would need the ASan runtime preloaded, and what it exercises
# of the module, the integration tests cover there.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND UNBOUND_EXECUTABLE AND NOT DNSVERDICT_SANITIZE)
  add_test(NAME bench.smoke
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/harness/bench.py --smoke
                   --build ${CMAKE_BINARY_DIR}
                   --work ${CMAKE_CURRENT_BINARY_DIR}/bench-smoke
                   --doc ${CMAKE_CURRENT_BINARY_DIR}/bench-smoke/benchmarks.md
                   --cli $<TARGET_FILE:dnsverdict>
                   --module $<TARGET_FILE:dnsverdict_module>
                   --unbound ${UNBOUND_EXECUTABLE})
  # RUN_SERIAL: it measures CPU time and starts several servers; 77 = dnsperf or nsd missing.
  set_tests_properties(bench.smoke PROPERTIES
                       LABELS bench-smoke SKIP_RETURN_CODE 77 TIMEOUT 180 RUN_SERIAL TRUE)
endif()
