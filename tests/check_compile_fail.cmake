cmake_minimum_required(VERSION 3.25)  # policies for this script
# A program that must NOT compile, and must say why in its first error line.
# The source's `// expect: <regex>` line (CMake regex) is what that first
# "error:" line of the compiler's output has to match, so a test passes only
# when the build fails for the intended reason (a static_assert of ours, not a
# typo or a missing include).
#   -DCXX=<compiler> -DFLAGS=<response file: -std, -I, -D> -DSOURCE=<file.cpp>
file(STRINGS ${SOURCE} expect_lines REGEX "^// expect: ")
if(NOT expect_lines)
  message(FATAL_ERROR "${SOURCE} has no '// expect: <regex>' line")
endif()
list(GET expect_lines 0 expect)
string(REGEX REPLACE "^// expect: " "" expect "${expect}")
execute_process(COMMAND ${CXX} @${FLAGS} -fsyntax-only ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not (expected an error matching: ${expect})")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${out}")
if(NOT first_error MATCHES "${expect}")
  string(SUBSTRING "${out}" 0 4000 head)
  message(FATAL_ERROR "${SOURCE} failed to compile, but its first error is not the intended one.\n"
                      "expected (regex): ${expect}\nfirst error: ${first_error}\noutput:\n${head}")
endif()
message(STATUS "refused as intended: ${first_error}")
