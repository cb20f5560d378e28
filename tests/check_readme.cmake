# The README's headline block must be exactly examples/share_pool_headline.cpp,
# so the README shows code that CI compiles and runs.
file(READ ${ROOT}/README.md readme)
file(READ ${ROOT}/examples/share_pool_headline.cpp example)
string(FIND "${readme}" "```cpp\n${example}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md's headline block differs from examples/share_pool_headline.cpp; paste the file into it")
endif()
message(STATUS "README headline block matches the example")
