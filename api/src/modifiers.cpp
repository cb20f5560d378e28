#include <cmath>
#include <cstdio>
#include <string>

#include <sk/modifiers.hpp>

namespace sk::modifiers_detail {

void throw_timeout(const std::string& name, double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", seconds);
  throw FunctionTimeoutError(name + " timed out after " + buf +
                             " seconds (the call keeps running in the background; C++ cannot cancel it)");
}

void throw_twice(const char* modifier) {
  throw ModifierError(std::string(modifier) +
                      "() is already set on this call chain; set each modifier once (start a new chain with "
                      "sk::fn(...) for different settings)");
}

void check_retry(int times, double delay, double backoff_factor) {
  if (times < 1) {
    throw ModifierError("retry(times = " + std::to_string(times) +
                        "): times is the total number of attempts and must be >= 1");
  }
  if (!std::isfinite(delay) || delay < 0.0) {
    throw ModifierError("retry(delay = " + std::to_string(delay) + " s): the delay must be finite and >= 0");
  }
  if (!std::isfinite(backoff_factor) || backoff_factor < 0.0) {
    throw ModifierError("retry(backoff_factor = " + std::to_string(backoff_factor) +
                        "): the factor must be finite and >= 0 (1 = constant delay)");
  }
}

void check_timeout(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0.0) {
    throw ModifierError("timeout(" + std::to_string(seconds) +
                        " s): the timeout must be a finite duration > 0");
  }
}

}  // namespace sk::modifiers_detail
