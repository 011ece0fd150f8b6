# Writes the build's provenance header (run with cmake -P at every build).
# The commit is read here, not at configure time, so an incremental build
# after a commit or a merge records the commit it was built from. The
# header is rewritten only when its text changes, so an unchanged tree
# recompiles nothing.
# Inputs: SOURCE_DIR, IN, OUT, TM_VERSION, TM_COMPILER, TM_C_FLAGS, TM_BUILD_TYPE.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE TM_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TM_GIT_COMMIT)
  set(TM_GIT_COMMIT "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no
    WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE TM_GIT_DIRTY
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(TM_GIT_DIRTY)
    set(TM_GIT_COMMIT "${TM_GIT_COMMIT}-dirty")
  endif()
endif()
set(TM_SOURCE_DIR "${SOURCE_DIR}")
configure_file(${IN} ${OUT} @ONLY)
