# Fails if a header or source in a layer includes a file of a layer above it.
# Order (lowest first): core, alloc, ipc, api.
#
# Every `#include <...>` and `#include "..."` of every .hpp/.cpp under
# <layer>/ is resolved the way the build resolves it, and the layer is the
# folder the file lives in, whatever its path spells:
#   - "x": first relative to the including file's folder, then as <x>;
#   - <x>: against each layer's include/ folder (core/include/x,
#     alloc/include/x, ...), so sk/core/..., sk/alloc/..., sk/ipc/...,
#     sk/slots/..., sk/<name>.hpp all land where they really are;
#   - a file that resolves into the source tree but into no layer (tests/,
#     bench/, ...) is a violation too: the library must not depend on them;
#   - <x> that resolves nowhere is a system or third-party header (ignored),
#     except a path under sk/, which must exist;
#   - the optional components (components/<name>/) may include any layer, but
#     no layer may include a component (a consumer without the component must
#     still compile the library): such an include is a violation.
#
#   cmake -DROOT=<source dir> -P check_layers.cmake
set(order core alloc ipc api)

# Prints the layer index of `path` (an absolute, normalized path) into `out`:
# 0.. for a layer, -1 outside the source tree, -2 in the tree but no layer.
function(layer_of path out)
  file(RELATIVE_PATH rel ${ROOT} ${path})
  if(rel MATCHES "^\\.\\./")
    set(${out} -1 PARENT_SCOPE)
    return()
  endif()
  string(REGEX MATCH "^[^/]+" top "${rel}")
  list(FIND order "${top}" idx)
  if(idx EQUAL -1)
    set(${out} -2 PARENT_SCOPE)
  else()
    set(${out} ${idx} PARENT_SCOPE)
  endif()
endfunction()

set(bad "")
set(resolved 0)
foreach(layer ${order})
  list(FIND order ${layer} idx)
  file(GLOB_RECURSE files ${ROOT}/${layer}/*.hpp ${ROOT}/${layer}/*.cpp)
  list(SORT files)
  foreach(f ${files})
    file(RELATIVE_PATH frel ${ROOT} ${f})
    get_filename_component(fdir ${f} DIRECTORY)
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(l ${lines})
      if(NOT l MATCHES "#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
        continue()
      endif()
      set(kind "${CMAKE_MATCH_1}")
      set(inc "${CMAKE_MATCH_2}")
      set(target "")
      if(kind STREQUAL "\"" AND EXISTS ${fdir}/${inc})
        get_filename_component(target ${fdir}/${inc} ABSOLUTE)
      else()
        foreach(l2 ${order})
          if(target STREQUAL "" AND EXISTS ${ROOT}/${l2}/include/${inc})
            get_filename_component(target ${ROOT}/${l2}/include/${inc} ABSOLUTE)
          endif()
        endforeach()
      endif()
      if(target STREQUAL "")
        file(GLOB component_hits ${ROOT}/components/*/include/${inc})
        if(component_hits)
          list(APPEND bad "${frel}: ${l} (an optional component: no layer may include one)")
          continue()
        endif()
      endif()
      if(target STREQUAL "")
        if(inc MATCHES "^sk/")
          list(APPEND bad "${frel}: ${l} (no such header in any layer's include/)")
        endif()
        continue()  # a system or third-party header
      endif()
      math(EXPR resolved "${resolved} + 1")
      layer_of(${target} tidx)
      file(RELATIVE_PATH trel ${ROOT} ${target})
      if(tidx EQUAL -2)
        list(APPEND bad "${frel}: ${l} (-> ${trel}, outside the library's layers)")
      elseif(tidx GREATER idx)
        list(GET order ${tidx} tlayer)
        list(APPEND bad "${frel}: ${l} (-> ${trel}: ${layer} includes ${tlayer}, a layer above it)")
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " msg "${bad}")
  message(FATAL_ERROR "layering violation (a layer includes one above it):\n  ${msg}")
endif()
message(STATUS "layering ok (${resolved} includes of the library's own files)")
