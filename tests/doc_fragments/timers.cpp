// docs/timers-circuits-modifiers.md, Sktimer and circuits: the block runs in
// main(); work() and failed are the reader's.
#include <sk/circuit.hpp>
#include <sk/timer.hpp>

void work() {}

int main() {
  const bool failed = true;
// @BLOCK@
}
