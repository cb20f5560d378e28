# Fails configuration, in one sentence, when the compiler cannot build C++20
# code of the kind suitkaise is made of (concepts, coroutines, std::atomic_ref,
# std::bit_cast, designated initializers).
include(CheckCXXSourceCompiles)
if(NOT "cxx_std_20" IN_LIST CMAKE_CXX_COMPILE_FEATURES)
  message(FATAL_ERROR "suitkaise needs a C++20 compiler; ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} "
                      "(${CMAKE_CXX_COMPILER}) has no C++20 mode. Use GCC 11 or later, or Clang 14 or later.")
endif()
set(CMAKE_REQUIRED_QUIET ON)
check_cxx_source_compiles([[
#include <atomic>
#include <bit>
#include <concepts>
#include <coroutine>
#include <span>
template <std::integral T> struct Box { T v; };
struct Task {
  struct promise_type {
    Task get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() {}
  };
};
Task co() { co_return; }
int main() {
  long w = 0;
  std::atomic_ref<long>(w).fetch_add(1);
  Box<int> b{.v = std::bit_cast<int>(1.0f)};
  co();
  return static_cast<int>(std::span<long>(&w, 1).size()) + b.v * 0 - 1;
}
]] SK_HAVE_CXX20)
if(NOT SK_HAVE_CXX20)
  message(FATAL_ERROR "suitkaise needs C++20, and ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} "
                      "(${CMAKE_CXX_COMPILER}) could not compile a small C++20 program (concepts, <coroutine>, "
                      "std::atomic_ref, std::bit_cast) with -std=c++${CMAKE_CXX_STANDARD}. Use GCC 11 or later, "
                      "or Clang 14 or later (see CMakeFiles/CMakeConfigureLog.yaml or CMakeError.log for the output).")
endif()
