# Fuzzing the parameter and sweep-file loaders with libFuzzer. The main build may use gcc,
# so the fuzz binaries are compiled by clang directly from the sources they
# need (the parameter fuzzer: params, ytree, error, sha256 and the embedded
# baseline; the sweep fuzzer: below).
# TRADEABM_FUZZ defaults to ON when clang links -fsanitize=fuzzer.

find_program(TM_CLANG NAMES clang-14 clang)
set(TM_FUZZ_WORKS OFF)
if(TM_CLANG)
  set(_probe_dir ${CMAKE_BINARY_DIR}/fuzz-probe)
  file(MAKE_DIRECTORY ${_probe_dir})
  file(WRITE ${_probe_dir}/probe.c
    "#include <stddef.h>\n#include <stdint.h>\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${TM_CLANG} -fsanitize=fuzzer,address,undefined ${_probe_dir}/probe.c
                          -o ${_probe_dir}/probe
                  RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_probe_rc EQUAL 0)
    set(TM_FUZZ_WORKS ON)
  endif()
endif()
option(TRADEABM_FUZZ "Build the libFuzzer target for the parameter loader (needs clang with libFuzzer)"
       ${TM_FUZZ_WORKS})
if(TRADEABM_FUZZ AND NOT TM_FUZZ_WORKS)
  message(WARNING "TRADEABM_FUZZ: clang with -fsanitize=fuzzer is not available; fuzz target skipped")
  set(TRADEABM_FUZZ OFF)
endif()
if(TRADEABM_FUZZ)
  # Everything the parameter loader links against: extend this list when
  # params.c or ytree.c start calling another module.
  set(TM_FUZZ_SOURCES
    ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_params.c
    ${CMAKE_SOURCE_DIR}/src/params/params.c
    ${CMAKE_SOURCE_DIR}/src/params/ytree.c
    ${CMAKE_SOURCE_DIR}/src/base/error.c
    ${CMAKE_SOURCE_DIR}/src/base/sha256.c
    ${CMAKE_BINARY_DIR}/generated/tm_embedded_baseline.c)
  set(TM_FUZZ_HANDWRITTEN ${TM_FUZZ_SOURCES})
  list(REMOVE_AT TM_FUZZ_HANDWRITTEN -1)
  set(TM_FUZZ_BIN ${CMAKE_BINARY_DIR}/fuzz/params_fuzzer)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  set(_yaml_cflags)
  foreach(dir ${YAML_INCLUDE_DIRS})
    list(APPEND _yaml_cflags -I${dir})
  endforeach()
  add_custom_command(
    OUTPUT ${TM_FUZZ_BIN}
    COMMAND ${TM_CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
            -I${CMAKE_SOURCE_DIR}/src -I${CMAKE_SOURCE_DIR} ${_yaml_cflags} ${TM_FUZZ_SOURCES}
            ${YAML_LDFLAGS} -lm -o ${TM_FUZZ_BIN}
    # The embedded baseline is generated in the top folder (by tmcore's
    # rule): depend on its source here and on tmcore below.
    DEPENDS ${TM_FUZZ_HANDWRITTEN} ${CMAKE_SOURCE_DIR}/src/params/params.h ${CMAKE_SOURCE_DIR}/src/params/ytree.h
            ${CMAKE_SOURCE_DIR}/params/canada_baseline.yaml
    COMMENT "Building the parameter fuzzer with clang (libFuzzer)")
  add_custom_target(fuzz_params ALL DEPENDS ${TM_FUZZ_BIN})
  add_dependencies(fuzz_params tmcore)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus ${CMAKE_BINARY_DIR}/fuzz-artifacts)
  # A short run: new inputs go to the build folder's corpus, the checked-in
  # seeds are read only. Crashes land in fuzz-artifacts/.
  add_test(NAME fuzz.params_short
    COMMAND ${TM_FUZZ_BIN} -max_total_time=40 -seed=1 -timeout=10 -rss_limit_mb=2048 -max_len=8192
            -dict=${CMAKE_SOURCE_DIR}/tests/fuzz/params.dict -print_final_stats=1
            -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/
            ${CMAKE_BINARY_DIR}/fuzz-corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus)
  set_tests_properties(fuzz.params_short PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)

  # The sweep-file loader: its parsing modules (sweep_file, outcomes,
  # stats, yfield, ytree, params) and the base modules they call (error,
  # sha256, rng) are compiled by clang with coverage and sanitizers; the
  # rest (runner, output, the engine), which a loader never calls, and the
  # embedded baseline link from the gcc-built library. Extend this list
  # when sweep_file.c or the modules above start calling another module.
  set(TM_SWEEP_FUZZ_SOURCES
    ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_sweep.c
    ${CMAKE_SOURCE_DIR}/src/experiments/sweep_file.c
    ${CMAKE_SOURCE_DIR}/src/experiments/outcomes.c
    ${CMAKE_SOURCE_DIR}/src/base/stats.c
    ${CMAKE_SOURCE_DIR}/src/params/yfield.c
    ${CMAKE_SOURCE_DIR}/src/params/ytree.c
    ${CMAKE_SOURCE_DIR}/src/params/params.c
    ${CMAKE_SOURCE_DIR}/src/base/error.c
    ${CMAKE_SOURCE_DIR}/src/base/sha256.c
    ${CMAKE_SOURCE_DIR}/src/base/rng.c)
  set(TM_SWEEP_FUZZ_BIN ${CMAKE_BINARY_DIR}/fuzz/sweep_fuzzer)
  set(_h5_cflags)
  foreach(dir ${HDF5_INCLUDE_DIRS})
    list(APPEND _h5_cflags -I${dir})
  endforeach()
  add_custom_command(
    OUTPUT ${TM_SWEEP_FUZZ_BIN}
    COMMAND ${TM_CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
            -I${CMAKE_SOURCE_DIR}/src -I${CMAKE_SOURCE_DIR} -I${CMAKE_BINARY_DIR}/generated ${_yaml_cflags} ${_h5_cflags}
            ${TM_SWEEP_FUZZ_SOURCES} $<TARGET_FILE:tmcore> ${HDF5_C_HL_LIBRARIES} ${HDF5_C_LIBRARIES} ${YAML_LDFLAGS} ${GSL_LDFLAGS} ${NLOPT_LDFLAGS}
            -lz -lm -lgomp -lpthread -o ${TM_SWEEP_FUZZ_BIN}
    DEPENDS ${TM_SWEEP_FUZZ_SOURCES} ${CMAKE_SOURCE_DIR}/src/experiments/sweep.h tmcore
    COMMENT "Building the sweep-file fuzzer with clang (libFuzzer)")
  add_custom_target(fuzz_sweep ALL DEPENDS ${TM_SWEEP_FUZZ_BIN})
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-sweep-corpus)
  add_test(NAME fuzz.sweep_short
    COMMAND ${TM_SWEEP_FUZZ_BIN} -max_total_time=30 -seed=1 -timeout=10 -rss_limit_mb=2048 -max_len=4096
            -dict=${CMAKE_SOURCE_DIR}/tests/fuzz/params.dict -print_final_stats=1
            -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/
            ${CMAKE_BINARY_DIR}/fuzz-sweep-corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/sweep_corpus)
  set_tests_properties(fuzz.sweep_short PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
endif()

# Regression cases and seeds replayed through the same target by an
# ordinary (gcc) test, in every build including the sanitizer one.
add_executable(fuzz_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_params.c)
target_compile_options(fuzz_replay PRIVATE ${TM_WARNINGS})
target_link_libraries(fuzz_replay PRIVATE tmcore)
add_test(NAME unit.fuzz_replay
  COMMAND fuzz_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/regressions ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus)
