// sk::Value copies bytes under a seqlock; a std::string belongs in an sk::Object.
// expect: static assertion failed: .*use sk::Object for non-trivially-copyable types
#include <string>

#include <sk/share.hpp>
#include <sk/slots/value.hpp>

struct State {
  sk::Value<std::string> name;
};
SK_SHARE(State, name);

int main() {
  sk::Share<State> share;
  share->name.store("ada");
}
