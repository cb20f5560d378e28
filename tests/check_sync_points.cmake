# Fails if an acquire/release operation in core/, alloc/, ipc/ or api/ has no
# `SYNC POINT` comment saying what it publishes (docs/architecture.md: every
# acquire/release pair and fence carries one).
#
# The rule, line by line over every .hpp/.cpp of those folders:
#   - an "ordering line" is a line whose code (the text before any `//`; lines
#     that are only a comment are skipped) names an explicit order:
#     memory_order_acquire / _release / _acq_rel / _seq_cst, or the
#     memory_order::acquire ... spelling (fences included: they take one);
#   - it passes if `SYNC POINT` is on the line itself, or in a block of
#     consecutive `//` comment lines that ends at most 6 lines above it (a
#     long comment may start further up; a comment may cover a few
#     operations below it).
# Operations that rely on the default order (x.load(), ++x) are not seen: a
# text check cannot tell an atomic's load() from any other load(). Write the
# order explicitly on every protocol word.
#
#   cmake -DROOT=<source dir> [-DEXCLUDE=<path;path>] -P check_sync_points.cmake
set(window 6)
set(layers core alloc ipc api)

# Files owned by work in progress elsewhere, exempt until it merges. Each
# entry says whose and why; remove the entry when the file passes.
set(excluded
)
if(DEFINED EXCLUDE)
  set(excluded ${EXCLUDE})
endif()

set(bad "")
set(checked 0)
foreach(layer ${layers})
  file(GLOB_RECURSE files RELATIVE ${ROOT} ${ROOT}/${layer}/*.hpp ${ROOT}/${layer}/*.cpp)
  list(SORT files)
  foreach(rel ${files})
    list(FIND excluded ${rel} skip)
    if(NOT skip EQUAL -1)
      continue()
    endif()
    file(READ ${ROOT}/${rel} text)
    # One list element per line. Characters that CMake lists treat specially
    # (; [ ] \) become placeholders first so that no line is split or merged.
    string(REPLACE "\\" "<BS>" text "${text}")
    string(REPLACE ";" "<SC>" text "${text}")
    string(REPLACE "[" "<LB>" text "${text}")
    string(REPLACE "]" "<RB>" text "${text}")
    string(REPLACE "\n" ";" lines "${text}")
    set(n 0)
    set(sync -100)  # line of the end of the last SYNC POINT comment block
    foreach(line IN LISTS lines)
      math(EXPR n "${n} + 1")
      string(STRIP "${line}" s)
      string(FIND "${s}" "//" c)
      set(comment_only OFF)
      if(c EQUAL 0)
        set(comment_only ON)
      endif()
      string(FIND "${line}" "SYNC POINT" has_sync)
      math(EXPR prev "${n} - 1")
      if(NOT has_sync EQUAL -1)
        set(sync ${n})
      elseif(comment_only AND sync EQUAL prev)
        set(sync ${n})  # the SYNC POINT comment block goes on
      endif()
      if(comment_only)
        continue()
      endif()
      string(FIND "${line}" "//" cpos)
      set(code "${line}")
      if(NOT cpos EQUAL -1)
        string(SUBSTRING "${line}" 0 ${cpos} code)
      endif()
      if(NOT code MATCHES "memory_order(_|::)(acquire|release|acq_rel|seq_cst)")
        continue()
      endif()
      math(EXPR checked "${checked} + 1")
      math(EXPR dist "${n} - ${sync}")
      if(has_sync EQUAL -1 AND dist GREATER window)
        list(APPEND bad "${rel}:${n}: ${s}")
      endif()
    endforeach()
  endforeach()
endforeach()

if(bad)
  list(LENGTH bad count)
  string(REPLACE ";" "\n  " msg "${bad}")
  foreach(pair "<BS>|\\" "<SC>|\;" "<LB>|[" "<RB>|]")
    string(REPLACE "|" ";" pair "${pair}")
    list(GET pair 0 from)
    list(GET pair 1 to)
    string(REPLACE "${from}" "${to}" msg "${msg}")
  endforeach()
  message(FATAL_ERROR "${count} acquire/release operation(s) without a `// SYNC POINT:` comment on the line or "
                      "ending at most ${window} lines above (say what it publishes and what breaks without it):\n  ${msg}")
endif()
message(STATUS "sync points ok (${checked} ordering lines)")
