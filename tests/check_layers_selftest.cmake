# Self-test of check_layers.cmake: builds a small source tree with the four
# layers, checks that the clean tree passes, then plants one violation at a
# time and checks that each fails and is named. The first plant is the one
# the check used to miss (an include of sk/slots/..., an api header that is
# not directly under sk/).
#
#   cmake -DCHECK=<check_layers.cmake> -DWORK=<scratch dir> -P check_layers_selftest.cmake
file(REMOVE_RECURSE ${WORK})

function(put rel text)
  file(WRITE ${WORK}/tree/${rel} "${text}\n")
endfunction()

function(clean_tree)
  file(REMOVE_RECURSE ${WORK}/tree)
  put(core/include/sk/core/ring.hpp "#pragma once\n#include <atomic>\n#include <sk/core/fence.hpp>")
  put(core/include/sk/core/fence.hpp "#pragma once")
  put(core/src/ring.cpp "#include <sk/core/ring.hpp>")
  put(alloc/include/sk/alloc/arena.hpp "#pragma once\n#include <sk/core/ring.hpp>")
  put(alloc/src/arena.cpp "#include <sk/alloc/arena.hpp>\n#include \"arena_internal.hpp\"")
  put(alloc/src/arena_internal.hpp "#pragma once")
  put(ipc/include/sk/ipc/channel.hpp "#pragma once\n#include <sk/alloc/arena.hpp>")
  put(ipc/src/channel.cpp "#include \"../include/sk/ipc/channel.hpp\"")
  put(api/include/sk/share.hpp "#pragma once\n#include <sk/slots/list.hpp>\n#include <sk/ipc/channel.hpp>")
  put(api/include/sk/slots/list.hpp "#pragma once\n#include <sk/core/ring.hpp>")
  put(api/src/share.cpp "#include <sk/share.hpp>")
  put(tests/unit/helper.hpp "#pragma once")
endfunction()

# Runs the check on the tree; sets `rc` and `out` in the caller.
macro(run_check)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK}/tree -P ${CHECK}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
endmacro()

clean_tree()
run_check()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the clean tree failed the layering check:\n${out}")
endif()

# file | line to append | text the failure must name
set(plants
  "core/include/sk/core/ring.hpp|#include <sk/slots/list.hpp>|core/include/sk/core/ring.hpp: #include <sk/slots/list.hpp>"
  "alloc/src/arena.cpp|#include \"../../ipc/include/sk/ipc/channel.hpp\"|alloc includes ipc"
  "ipc/src/channel.cpp|#include \"sk/share.hpp\"|ipc includes api"
  "core/src/ring.cpp|#include <sk/alloc/arena.hpp>|core includes alloc"
  "api/src/share.cpp|#include \"../../tests/unit/helper.hpp\"|outside the library's layers"
  "ipc/include/sk/ipc/channel.hpp|#include <sk/ipc/missing.hpp>|no such header"
)
foreach(p ${plants})
  string(REPLACE "|" ";" p "${p}")
  list(GET p 0 rel)
  list(GET p 1 line)
  list(GET p 2 expect)
  clean_tree()
  file(APPEND ${WORK}/tree/${rel} "${line}\n")
  run_check()
  if(rc EQUAL 0)
    message(FATAL_ERROR "the layering check missed a planted violation: ${rel}: ${line}")
  endif()
  string(FIND "${out}" "${expect}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the layering check failed on ${rel}: ${line} but did not say \"${expect}\":\n${out}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
message(STATUS "layering check: clean tree passes, every planted violation is caught")
