# A doc's code block must be exactly an example file, so the doc shows code
# that CI compiles and runs: the README's headline block, docs/paths.md's block.
# -DROOT=<source dir> -DDOC=docs/x.md -DEXAMPLE=examples/x.cpp
file(READ ${ROOT}/${DOC} doc)
file(READ ${ROOT}/${EXAMPLE} example)
string(FIND "${doc}" "```cpp\n${example}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC}'s code block differs from ${EXAMPLE}; paste the file into it")
endif()
message(STATUS "${DOC} block matches ${EXAMPLE}")
