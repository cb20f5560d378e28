# Self-test of check_sync_points.cmake: a small tree whose orderings are all
# commented passes; each planted uncommented ordering fails and is named.
#
#   cmake -DCHECK=<check_sync_points.cmake> -DWORK=<scratch dir> -P check_sync_points_selftest.cmake
file(REMOVE_RECURSE ${WORK})

set(clean [=[
#include <atomic>
std::atomic<int> a, b;
void publish() {
  // SYNC POINT: release publishes the data; without it a reader could see
  // the flag before the data.
  a.store(1, std::memory_order_release);
  b.store(1, std::memory_order_relaxed);  // relaxed needs no comment
  a.fetch_add(1, std::memory_order_acq_rel);  // SYNC POINT: on the same line
}
int consume() {
  // SYNC POINT: a long argument may start far up,
  // line 2
  // line 3
  // line 4
  // line 5
  // line 6
  // line 7 of the block: it counts from where the block ends.
  int x = a.load(std::memory_order_acquire);
  // A comment that names memory_order_seq_cst is not an operation.
  std::atomic_thread_fence(std::memory_order_relaxed);
  return x;
}
]=])
# Planted code | what it shows. `<SC>` stands for `;` (a CMake list separator).
# The second one is 7 lines below its SYNC POINT comment.
set(plants
  "  b.store(2, std::memory_order_release)<SC>|uncommented release"
  "  // SYNC POINT: too far above\n\n\n\n\n\n\n  b.load(std::memory_order_acquire)<SC>|comment block more than 6 lines above"
  "  std::atomic_thread_fence(std::memory_order_seq_cst)<SC>|uncommented fence"
  "  b.exchange(3, std::memory_order::acq_rel)<SC>|the memory_order:: spelling"
  "  b.store(4, std::memory_order_release)<SC>  // publishes b|a comment without the words SYNC POINT"
)

macro(run_check)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK}/tree -DEXCLUDE= -P ${CHECK}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
endmacro()

file(WRITE ${WORK}/tree/ipc/src/a.cpp "${clean}")
run_check()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the clean tree failed the sync point check:\n${out}")
endif()
foreach(p ${plants})
  string(REPLACE "|" ";" p "${p}")
  list(GET p 0 line)
  list(GET p 1 what)
  string(REPLACE "<SC>" ";" statement "${line}")
  file(WRITE ${WORK}/tree/ipc/src/a.cpp "${clean}void planted() {\n${statement}\n}\n")
  run_check()
  if(rc EQUAL 0)
    message(FATAL_ERROR "the sync point check missed a planted ${what}:\n${line}")
  endif()
  string(FIND "${out}" "ipc/src/a.cpp:" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the sync point check failed on a planted ${what} but did not name the file:\n${out}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
message(STATUS "sync point check: commented tree passes, every planted ordering without a comment is caught")
