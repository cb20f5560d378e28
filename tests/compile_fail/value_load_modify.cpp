// load() is a snapshot: calling a mutating member on it changes nothing shared.
// expect: (discards qualifiers|not marked const)
#include <sk/share.hpp>
#include <sk/slots/value.hpp>

struct Config {
  int threads = 1;
  void set_threads(int n) { threads = n; }
};

struct State {
  sk::Value<Config> config;
};
SK_SHARE(State, config);

int main() {
  sk::Share<State> share;
  share->config.load().set_threads(4);
}
