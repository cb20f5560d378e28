// Prints the library version; the smallest program that links suitkaise::suitkaise.
#include <cstdio>

#include <sk/version.hpp>

int main() {
  std::printf("suitkaise %s\n", sk::version());
  return 0;
}
