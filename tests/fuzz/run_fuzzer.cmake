# Runs one libFuzzer target for SECONDS seconds from the seed corpus SEEDS,
# in a fresh WORK directory (new inputs and any crash land there, never in
# the source tree). Fails on any crash, leak, timeout or allocation above
# -malloc_limit_mb.
#   cmake -DFUZZER=... -DSEEDS=... -DWORK=... -DSECONDS=20 -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -max_len=4096 -timeout=10 -malloc_limit_mb=64 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus ${SEEDS}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
string(REGEX MATCHALL "stat::[a-z_]+: *[0-9]+" stats "${output}")
string(REPLACE ";" "\n" stats "${stats}")
message("${stats}")
if(NOT result EQUAL 0)
  file(GLOB artifacts ${WORK}/artifacts/*)
  string(LENGTH "${output}" length)
  math(EXPR start "${length} - 6000")
  if(start LESS 0)
    set(start 0)
  endif()
  string(SUBSTRING "${output}" ${start} -1 tail)
  message(FATAL_ERROR "${FUZZER} failed (${result}); reproducers: ${artifacts}\n${tail}")
endif()
