#pragma once
// Root of every exception suitkaise throws. Each layer derives specific types
// from it; the message always says what went wrong and what to do about it.
#include <stdexcept>
#include <string>

namespace sk {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sk
