// load() is a snapshot: changing it would change nothing shared (use update).
// expect: (discards qualifiers|not marked const)
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/object.hpp>

struct State {
  sk::Object<std::vector<int>> v;
};
SK_SHARE(State, v);

int main() {
  sk::Share<State> share;
  share->v.load().push_back(1);
}
