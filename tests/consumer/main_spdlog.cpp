// Links against the installed suitkaise::spdlog: a forked child logs with
// spdlog into a shared sk::Log, the parent forwards it to a spdlog sink.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <sstream>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sk/share.hpp>
#include <sk/slots/log.hpp>
#include <sk/spdlog.hpp>

struct State {
  sk::Log log{"consumer"};
};
SK_SHARE(State, log);

int main() {
  sk::Share<State> share;
  share->log.no_sinks();
  const pid_t pid = fork();
  if (pid == 0) {
    spdlog::logger lg("child", sk::spdlog_sink(share->log));
    lg.info("hello from {}", "the child");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_pattern("[%n] %v");
  {
    sk::LogForwarder forward(share->log, {sink});
  }
  if (out.str() != "[child] hello from the child\n") return 1;
  std::printf("consumer: suitkaise::spdlog ok\n");
  return 0;
}
