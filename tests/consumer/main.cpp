// Links against the installed suitkaise and uses it across a real fork.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <sk/alloc/owner.hpp>
#include <sk/version.hpp>

int main() {
  const auto me = sk::alloc::self_owner();
  pid_t pid = fork();
  if (pid == 0) _exit(sk::alloc::is_alive(me) ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  std::printf("consumer: suitkaise %s ok\n", sk::version());
  return 0;
}
