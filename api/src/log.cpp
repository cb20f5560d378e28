// sk::Log: process-local sinks and record formatting.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <sk/slots/log.hpp>

namespace sk {
namespace {

// One write(2) per record; loops only on partial writes / EINTR.
void write_all(int fd, const std::string& s) noexcept {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

struct FileSink {
  explicit FileSink(const std::string& path) : fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd < 0)
      throw Error("sk::Log: cannot open log file '" + path + "': " + std::strerror(errno) +
                  "; check that the directory exists and is writable");
  }
  ~FileSink() {
    if (fd >= 0) ::close(fd);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  int fd;
};

struct SinkTable {
  std::mutex mu;
  // Keyed by the Log's address in this process (same in forked children).
  std::unordered_map<const Log*, std::vector<LogSink>> sinks;
};

SinkTable& table() {
  static SinkTable* t = new SinkTable;  // never destroyed: logs may run during exit
  return *t;
}

LogSink stderr_sink() {
  return [](const LogRecord& r) { write_all(2, format_record(r)); };
}

std::vector<LogSink> sinks_of(const Log* log) {
  SinkTable& t = table();
  std::lock_guard lock(t.mu);
  const auto it = t.sinks.find(log);
  if (it == t.sinks.end()) return {stderr_sink()};
  return it->second;
}

void set_sinks(const Log* log, std::vector<LogSink> sinks) {
  SinkTable& t = table();
  std::lock_guard lock(t.mu);
  t.sinks[log] = std::move(sinks);
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
  }
  return "LEVEL?";
}

std::string format_record(const LogRecord& r) {
  const std::time_t secs = static_cast<std::time_t>(r.time_ns / 1'000'000'000);
  const long millis = static_cast<long>((r.time_ns / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z {} {}[{}] #{}: {}\n", stamp, millis, to_string(r.level), r.logger, r.pid, r.seq,
                     r.message);
}

Log::~Log() {
  SinkTable& t = table();
  std::lock_guard lock(t.mu);
  t.sinks.erase(this);
}

bool Log::write(LogLevel level, std::string message) {
  if (!enabled(level)) return false;
  LogRecord rec;
  rec.pid = static_cast<std::uint32_t>(::getpid());
  rec.level = level;
  rec.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  rec.logger = name_;
  rec.message = std::move(message);
  records_.append_with([&](std::uint64_t seq) -> const LogRecord& {
    rec.seq = seq;
    return rec;
  });
  for (const LogSink& sink : sinks_of(this)) sink(rec);
  return true;
}

void Log::sink_to_stderr() { set_sinks(this, {stderr_sink()}); }

void Log::sink_to_file(const std::string& path) {
  auto file = std::make_shared<FileSink>(path);
  set_sinks(this, {[file](const LogRecord& r) { write_all(file->fd, format_record(r)); }});
}

void Log::set_sink(LogSink sink) { set_sinks(this, {std::move(sink)}); }

void Log::add_sink(LogSink sink) {
  std::vector<LogSink> s = sinks_of(this);
  s.push_back(std::move(sink));
  set_sinks(this, std::move(s));
}

void Log::no_sinks() { set_sinks(this, {}); }

std::vector<std::string> Log::messages() const {
  std::vector<std::string> out;
  records_.for_each([&](LogRecord r) { out.push_back(std::move(r.message)); });
  return out;
}

}  // namespace sk
