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

# sk_layer(<target> <dir>): a static library from <dir>/src/*.cpp with public
# headers in <dir>/include (installed under include/sk/...).
function(sk_layer target dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/src/*.cpp)
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${dir}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:sk_warnings> $<BUILD_INTERFACE:sk_sanitize>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  install(DIRECTORY ${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# sk_program_library(<file stem> <out var>): the library a test, example or
# benchmark file links by its name: suitkaise, or for spdlog_* files the
# optional component sk_spdlog; "" when that component is not built (then
# skip the file).
function(sk_program_library stem out)
  set(lib suitkaise)
  if(stem MATCHES "^spdlog_")
    set(lib "")
    if(TARGET sk_spdlog)
      set(lib sk_spdlog)
    endif()
  endif()
  set(${out} "${lib}" PARENT_SCOPE)
endfunction()
