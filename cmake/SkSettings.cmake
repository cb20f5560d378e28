# Interface targets that carry build settings instead of global flags.
#   sk_warnings  - warning set (+ -Werror when SK_WERROR); linked PRIVATE, build-tree only
#   sk_sanitize  - sanitizer flags for SK_SANITIZE; linked by every target we build
add_library(sk_warnings INTERFACE)
target_compile_options(sk_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wnull-dereference -Wformat=2
  $<$<BOOL:${SK_WERROR}>:-Werror>)

add_library(sk_sanitize INTERFACE)
if(SK_SANITIZE STREQUAL "address")
  target_compile_options(sk_sanitize INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                               -fno-sanitize-recover=undefined)
  target_link_options(sk_sanitize INTERFACE -fsanitize=address,undefined)
elseif(SK_SANITIZE STREQUAL "thread")
  target_compile_options(sk_sanitize INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(sk_sanitize INTERFACE -fsanitize=thread)
elseif(NOT SK_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SK_SANITIZE must be '', 'address' or 'thread', not '${SK_SANITIZE}'")
endif()

# sk_layer(<name> <dir> [BELOW <lower layer>...] [LINK <external target>...])
# One layer of the library, <dir>/src/*.cpp with public headers in
# <dir>/include (installed under include/sk/...):
#   <name>_objects  OBJECT library: the layer's sources, compiled once; it sees
#                   only its own headers and those of the layers BELOW it, so a
#                   layer that includes a higher one does not compile;
#   <name>          STATIC archive of this layer's objects, linking the
#                   archives of the layers below (build tree only: tests of a
#                   lower layer link it).
# The installed library is one archive of every layer's objects: suitkaise.
function(sk_layer name dir)
  cmake_parse_arguments(arg "" "" "BELOW;LINK" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/src/*.cpp)
  add_library(${name}_objects OBJECT ${srcs})
  target_include_directories(${name}_objects PUBLIC $<BUILD_INTERFACE:${dir}/include>)
  target_compile_features(${name}_objects PUBLIC cxx_std_20)
  target_link_libraries(${name}_objects PUBLIC ${arg_LINK} PRIVATE sk_warnings sk_sanitize)
  add_library(${name} STATIC $<TARGET_OBJECTS:${name}_objects>)
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${dir}/include>)
  target_compile_features(${name} PUBLIC cxx_std_20)
  target_link_libraries(${name} PUBLIC ${arg_LINK})
  foreach(below ${arg_BELOW})
    target_link_libraries(${name}_objects PUBLIC ${below}_objects)  # headers only: objects do not link
    target_link_libraries(${name} PUBLIC ${below})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SK_LAYERS ${name})
  set_property(GLOBAL APPEND PROPERTY SK_LAYER_INCLUDE_DIRS ${dir}/include)
  install(DIRECTORY ${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# sk_optional_component(<name> DESCRIPTION <text> FIND <find_package arguments...>)
# An optional component in components/<name>/: built when its dependency is
# found (SK_WITH_<NAME>=AUTO, the default), required (ON) or skipped (OFF).
# Consumers ask for it with find_package(suitkaise COMPONENTS <name>) and link
# suitkaise::<name>; without it they need nothing of its dependency.
function(sk_optional_component name)
  cmake_parse_arguments(arg "" "DESCRIPTION" "FIND" ${ARGN})
  string(TOUPPER ${name} up)
  set(SK_WITH_${up} AUTO CACHE STRING
      "Build suitkaise::${name} (${arg_DESCRIPTION}): AUTO (when ${arg_FIND} is found), ON (required) or OFF")
  set_property(CACHE SK_WITH_${up} PROPERTY STRINGS AUTO ON OFF)
  if(SK_WITH_${up} STREQUAL "OFF")
    message(STATUS "suitkaise::${name}: not built (SK_WITH_${up}=OFF)")
    return()
  endif()
  list(GET arg_FIND 0 package)
  if(SK_WITH_${up} STREQUAL "ON")
    find_package(${arg_FIND} REQUIRED)
  else()
    find_package(${arg_FIND} QUIET)
  endif()
  if(NOT ${package}_FOUND)
    message(STATUS "suitkaise::${name}: not built (${package} not found; SK_WITH_${up}=ON makes it required)")
    return()
  endif()
  add_subdirectory(${PROJECT_SOURCE_DIR}/components/${name} ${PROJECT_BINARY_DIR}/components/${name})
endfunction()

# sk_component(<name> [LINK <targets>...] [PC_REQUIRES <pkg-config modules>...])
# Called from components/<name>/CMakeLists.txt: the static library
# suitkaise_<name> (alias and export name suitkaise::<name>) from src/*.cpp,
# headers in include/ (installed under include/sk/...), its own export set
# (lib/cmake/suitkaise/suitkaise-<name>-targets.cmake, which the package config
# includes when the component is asked for) and suitkaise-<name>.pc.
function(sk_component name)
  cmake_parse_arguments(arg "" "" "LINK;PC_REQUIRES" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/src/*.cpp)
  add_library(suitkaise_${name} STATIC ${srcs})
  add_library(suitkaise::${name} ALIAS suitkaise_${name})
  set_target_properties(suitkaise_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(suitkaise_${name} PUBLIC
    $<BUILD_INTERFACE:${dir}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(suitkaise_${name} PUBLIC suitkaise ${arg_LINK} PRIVATE $<BUILD_INTERFACE:sk_warnings>
                        $<BUILD_INTERFACE:sk_sanitize>)
  install(DIRECTORY ${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS suitkaise_${name} EXPORT suitkaise-${name}-targets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT suitkaise-${name}-targets NAMESPACE suitkaise::
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/suitkaise)
  sk_pkg_config(suitkaise-${name} "suitkaise::${name}, an optional component of suitkaise"
                "suitkaise ${arg_PC_REQUIRES}" "-lsuitkaise_${name}")
  set_property(GLOBAL APPEND PROPERTY SK_COMPONENTS ${name})
endfunction()

# sk_pkg_config(<module> <description> <requires> <libs>): writes and installs
# <module>.pc (relocatable: the prefix is found from the .pc file's own place).
function(sk_pkg_config module description requires libs)
  file(RELATIVE_PATH SK_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" SK_PC_TO_PREFIX "${SK_PC_TO_PREFIX}")
  set(SK_PC_NAME ${module})
  set(SK_PC_DESCRIPTION ${description})
  string(STRIP "${requires}" SK_PC_REQUIRES)
  set(SK_PC_LIBS ${libs})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/suitkaise.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${module}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${module}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

# sk_program_library(<file stem> <out var>): the library a test, example or
# benchmark file links, by its name: suitkaise, or an optional component's
# (a stem containing _pg: suitkaise_pg; starting with spdlog_:
# suitkaise_spdlog); "" when that component is not built (skip the file).
# mpi_* files give "": components/mpi registers them itself (under mpirun).
function(sk_program_library stem out)
  set(lib suitkaise)
  if(stem MATCHES "^mpi_")
    set(${out} "" PARENT_SCOPE)
    return()
  elseif(stem MATCHES "_pg")
    set(lib suitkaise_pg)
  elseif(stem MATCHES "^spdlog_")
    set(lib suitkaise_spdlog)
  endif()
  if(NOT TARGET ${lib})
    set(lib "")
  endif()
  set(${out} "${lib}" PARENT_SCOPE)
endfunction()
