// A Share schema needs its SK_SHARE line; the error must say so, not speak of
// sk_share_members.
// expect: static assertion failed: .*SK_SHARE\(State, 
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>

struct State {
  sk::Atomic<long> counter;
};
// SK_SHARE(State, counter);  <- forgotten

int main() {
  sk::Share<State> share;
  share->counter += 1;
}
