// A List element is a copy: assigning to share->names[0] would change nothing.
// expect: sk::List<T>::operator\[\] returns a copy of the element.*append\(\)
#include <string>

#include <sk/share.hpp>
#include <sk/slots/list.hpp>

struct State {
  sk::List<std::string> done;
};
SK_SHARE(State, done);

int main() {
  sk::Share<State> share;
  share->done.append("a");
  share->done[0] = "z";
}
