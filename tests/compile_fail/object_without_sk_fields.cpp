// A struct with a std::string member needs SK_FIELDS to be stored in an sk::Object.
// expect: static assertion failed: .*add SK_FIELDS\(member, \.\.\.\) inside its body
#include <string>

#include <sk/share.hpp>
#include <sk/slots/object.hpp>

struct Account {
  std::string owner;
  long balance = 0;
  // SK_FIELDS(owner, balance)  <- forgotten
};

struct State {
  sk::Object<Account> account;
};
SK_SHARE(State, account);

int main() {
  sk::Share<State> share;
  share->account.store(Account{"ada", 10});
}
