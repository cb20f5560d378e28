// sk::Log: the retained-record ring (design and ordering: log.hpp), process-
// local sinks and record formatting.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <sk/slots/log.hpp>

#include <new>
#include <type_traits>

#include <sk/alloc/errors.hpp>
#include <sk/alloc/owner.hpp>
#include <sk/core/backoff.hpp>
#include <sk/core/seqlock.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/arena_block.hpp>
#include <sk/slots/value.hpp>

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
    case LogLevel::trace: return "TRACE";
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
    case LogLevel::critical: return "CRITICAL";
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
  if (r.line == 0 && r.file.empty())
    return fmt::format("{}.{:03}Z {} {}[{}] #{}: {}\n", stamp, millis, to_string(r.level), r.logger, r.pid, r.seq,
                       r.message);
  return fmt::format("{}.{:03}Z {} {}[{}] #{} {}:{}: {}\n", stamp, millis, to_string(r.level), r.logger, r.pid,
                     r.seq, r.file, r.line, r.message);
}

// One retained record, inline and fixed-size (trivially copyable, so it can
// live in a core::Seqlock). seq1 = seq + 1; 0 = the slot never held one.
// text: the message (len bytes), then the origin fields (append() only):
// logger name, file name, function, packed, each at most kMaxOriginBytes.
struct Log::SlotRecord {
  std::uint64_t seq1;
  std::int64_t time_ns;
  std::uint32_t pid;
  std::uint32_t line;          // source line, 0 = none
  std::uint8_t level;
  std::uint8_t flags;          // kTruncated
  std::uint16_t len;           // message bytes, <= Log::kMaxMessageBytes
  std::uint8_t logger_len;     // 0 = the Log's own name
  std::uint8_t file_len;
  std::uint8_t function_len;
  std::uint8_t reserved;
  char text[Log::kTextBytes];
};

namespace {

constexpr std::uint8_t kTruncated = 1;  // SlotRecord::flags: the message was cut
static_assert(Log::kTextBytes >= Log::kMaxMessageBytes + 56, "origin fields keep at least 56 bytes");

bool continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Bytes of `m` kept in a slot: all of it, or a prefix cut at a UTF-8
// boundary leaving room for the 3-byte "…".
std::size_t kept_bytes(std::string_view m) noexcept {
  if (m.size() <= Log::kMaxMessageBytes) return m.size();
  std::size_t n = Log::kMaxMessageBytes - 3;
  while (n > 0 && continuation(m[n])) --n;  // m[n] starts a character
  return n;
}

// The first (or, keep_tail, the last) at most n bytes of s, whole UTF-8 characters.
std::string_view cut(std::string_view s, std::size_t n, bool keep_tail) noexcept {
  if (s.size() <= n) return s;
  if (keep_tail) {
    std::size_t at = s.size() - n;
    while (at < s.size() && continuation(s[at])) ++at;
    return s.substr(at);
  }
  while (n > 0 && continuation(s[n])) --n;
  return s.substr(0, n);
}

// Appends an origin field at text[used] (of Log::kTextBytes), cut to what is
// left and to kMaxOriginBytes; returns its length.
std::uint8_t pack_field(char* text, std::size_t& used, std::string_view v, bool keep_tail) noexcept {
  const std::size_t room = Log::kTextBytes - used;
  const std::string_view kept = cut(v, room < Log::kMaxOriginBytes ? room : Log::kMaxOriginBytes, keep_tail);
  if (!kept.empty()) std::memcpy(text + used, kept.data(), kept.size());  // (an empty view's data() may be null)
  used += kept.size();
  return static_cast<std::uint8_t>(kept.size());
}

// getpid() is a system call (~250 ns where system calls are dear, e.g. a VM
// with speculative-execution mitigations): taken once per process and
// forgotten in a forked child (atfork handler, before fork() returns there).
std::atomic<std::uint32_t> g_pid{0};
void forget_pid() noexcept { g_pid.store(0, std::memory_order_relaxed); }
std::uint32_t self_pid() noexcept {
  std::uint32_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid != 0) return pid;
  static const bool forgotten_at_fork = pthread_atfork(nullptr, nullptr, &forget_pid) == 0;  // before the first cache
  (void)forgotten_at_fork;
  pid = static_cast<std::uint32_t>(::getpid());
  g_pid.store(pid, std::memory_order_relaxed);
  return pid;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Log::Slot {
  core::Seqlock<SlotRecord> lock;
};

Log::Log(std::string_view name, LogLevel level, LogRetention retention)
    : self_(slots::construction_offset(this, "Log")),
      capacity_(retention.bytes == 0 || retention.records <= retention.bytes / kSlotBytes
                    ? retention.records
                    : retention.bytes / kSlotBytes),
      level_(static_cast<std::uint8_t>(level)) {
  // Each slot covers whole cache lines (the ring is 64-aligned), so writers
  // of neighbouring records never share a line.
  static_assert(sizeof(Slot) == kSlotBytes && kSlotBytes % core::kCacheLine == 0);
  static_assert(std::is_trivially_copyable_v<SlotRecord> && std::is_standard_layout_v<SlotRecord>);
  static_assert(sizeof(SlotRecord) == 32 + kTextBytes, "no padding inside a slot record");
  static_assert(std::is_standard_layout_v<Slot> && std::is_standard_layout_v<Log>,
                "Log lives in shared memory: keep it standard layout");
  if (capacity_ > (std::uint64_t{1} << 32))
    throw ShareError("sk::Log '" + std::string(name) + "': LogRetention asks for " + std::to_string(capacity_) +
                     " records; keep it at most 2^32 (each takes " + std::to_string(kSlotBytes) + " bytes)");
  const std::size_t n = name.size() < kMaxName ? name.size() : kMaxName;
  name.copy(name_, n);
  name_[n] = '\0';
}

Log::~Log() {
  // Runs only when the owning Share is destroyed (no users left).
  // SYNC POINT: acquire pairs with the installer's release of ring_: we
  // free the ring it allocated, never a stale offset.
  if (const std::uint64_t off = ring_.load(std::memory_order_acquire); off != 0)
    arena().deallocate(off, capacity_ * sizeof(Slot), core::kCacheLine);
  SinkTable& t = table();
  std::lock_guard lock(t.mu);
  t.sinks.erase(this);
}

const Log::Slot* Log::ring() const noexcept {
  // SYNC POINT: acquire pairs with the installer's release store of ring_:
  // publishes the constructed slots; without it we could read seqlock words
  // that were not yet initialised.
  const std::uint64_t off = ring_.load(std::memory_order_acquire);
  return off == 0 ? nullptr : reinterpret_cast<const Slot*>(arena().base() + off);
}

// One process at a time allocates and builds the ring (as sk::List installs
// a chunk: racers that each allocated their own copy could together ask for
// many times the ring's size and hit ArenaFull in a roomy arena).
Log::Slot* Log::ring_or_install() {
  if (const Slot* r = ring(); r != nullptr) return const_cast<Slot*>(r);
  const std::uint64_t me = alloc::self_owner().pack();
  core::Backoff backoff;
  for (;;) {
    std::uint64_t holder = 0;
    // SYNC POINT: acq_rel CAS: one installer at a time; acquire also makes a
    // previous installer's ring_ store visible to the re-check below.
    if (installer_.compare_exchange_strong(holder, me, std::memory_order_acq_rel, std::memory_order_acquire)) break;
    if (const Slot* r = ring(); r != nullptr) return const_cast<Slot*>(r);
    backoff.pause();
    // A dead installer never releases the claim: take it back from it.
    if (backoff.owner_check_due() && !alloc::is_alive(alloc::OwnerId::unpack(holder)))
      installer_.compare_exchange_strong(holder, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
  }
  struct Release {
    std::atomic<std::uint64_t>& word;
    // SYNC POINT: release orders our ring_ store before the next installer's
    // acquire of the claim (it then sees the ring and does not build another).
    ~Release() { word.store(0, std::memory_order_release); }
  } release{installer_};
  if (const Slot* r = ring(); r != nullptr) return const_cast<Slot*>(r);  // built while we waited
  alloc::ArenaView a = arena();
  const std::size_t bytes = capacity_ * sizeof(Slot);
  alloc::Offset off = 0;
  try {
    off = a.allocate(bytes, core::kCacheLine);
  } catch (const alloc::ArenaFull& e) {
    throw alloc::ArenaFull("sk::Log '" + std::string(name_) + "': no room for its ring of " +
                           std::to_string(capacity_) + " records (" + std::to_string(bytes) +
                           " bytes, taken at the first record): " + e.what() +
                           "; give the Share more capacity or the Log a smaller LogRetention");
  }
  auto* slots = reinterpret_cast<Slot*>(a.base() + off);
  for (std::uint64_t i = 0; i < capacity_; ++i) ::new (static_cast<void*>(slots + i)) Slot{};
  // SYNC POINT: release publishes the constructed slots (see ring()).
  ring_.store(off, std::memory_order_release);
  return slots;
}

void Log::store(const SlotRecord& out) {
  Slot& slot = ring_or_install()[(out.seq1 - 1) % capacity_];
  const std::uint32_t tag = slots::self_tag();
  core::Backoff backoff;
  for (;;) {
    if (auto w = slot.lock.try_begin_write(tag)) {
      const SlotRecord old = w->committed();
      if (old.seq1 > out.seq1) {  // a later lap got here first: ours is already out of the window
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;  // the guard aborts
      }
      if (old.seq1 != 0 && old.seq1 - 1 >= base_.load(std::memory_order_relaxed))
        dropped_.fetch_add(1, std::memory_order_relaxed);  // displaced a retained record
      w->write(out);
      if (!w->commit()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);  // judged dead: not published
        return;
      }
      // The commit CAS was seq_cst: wake tailing readers (wait_from) if any.
      readers_.notify_all_after_seq_cst_rmw();
      return;
    }
    // Held by another writer: one a lap behind or ahead of us, descheduled
    // mid-copy, or dead. Never wait for it beyond a bounded spin.
    if (backoff.steps() < core::kSpinSteps) {
      backoff.pause();
      continue;
    }
    const std::uint32_t holder = slot.lock.holder();
    if (holder != 0 && slots::tag_owner_dead(holder)) {
      slot.lock.abort_if_held_by(holder);  // its half-written copy is never published
      backoff.reset();
      continue;
    }
    if (holder == 0) continue;  // released just now
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
}

std::uint64_t Log::put(LogLevel level, std::string_view message, const LogOrigin* origin, std::uint32_t pid,
                       std::int64_t time_ns) {
  if (capacity_ == 0) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return next_.fetch_add(1, std::memory_order_relaxed);
  }
  ring_or_install();  // before the ticket: an ArenaFull here leaves no hole in the order
  // The whole record is built before the ticket, so the time between taking
  // a seq and committing it (when a tailing reader waits for it) is short.
  SlotRecord out{};
  out.time_ns = time_ns;
  out.pid = pid;
  out.level = static_cast<std::uint8_t>(level);
  std::size_t used = kept_bytes(message);
  if (used != 0) std::memcpy(out.text, message.data(), used);
  if (used < message.size()) {
    std::memcpy(out.text + used, "\xE2\x80\xA6", 3);  // "…"
    used += 3;
    out.flags = kTruncated;
  }
  out.len = static_cast<std::uint16_t>(used);
  if (origin != nullptr) {
    if (!origin->logger.empty() && origin->logger != name_) out.logger_len = pack_field(out.text, used, origin->logger, false);
    const std::size_t slash = origin->file.rfind('/');
    out.file_len = pack_field(out.text, used, slash == std::string_view::npos ? origin->file : origin->file.substr(slash + 1),
                              true);
    out.function_len = pack_field(out.text, used, origin->function, false);
    out.line = origin->line;
  }
  const std::uint64_t seq = next_.fetch_add(1, std::memory_order_relaxed);
  out.seq1 = seq + 1;
  store(out);
  return seq;
}

bool Log::write(LogLevel level, std::string message) {
  if (!enabled(level)) return false;
  LogRecord rec;
  rec.pid = self_pid();
  rec.level = level;
  rec.time_ns = now_ns();
  rec.logger = name_;
  rec.message = std::move(message);
  rec.seq = put(level, rec.message, nullptr, rec.pid, rec.time_ns);
  for (const LogSink& sink : sinks_of(this)) sink(rec);
  return true;
}

bool Log::append(LogLevel level, std::string_view message, const LogOrigin& origin) {
  if (!enabled(level)) return false;
  put(level, message, &origin, self_pid(), origin.time_ns != 0 ? origin.time_ns : now_ns());
  return true;
}

template <class Fn>
void Log::for_each_retained(Fn&& fn) const {
  const Slot* r = ring();
  if (r == nullptr) return;
  const std::uint64_t hi = next_.load(std::memory_order_relaxed);
  const std::uint64_t base = base_.load(std::memory_order_relaxed);
  if (base >= hi) return;  // nothing written, or cleared (possibly after our next_ load)
  const std::uint64_t lo = hi - base > capacity_ ? hi - capacity_ : base;
  for (std::uint64_t seq = lo; seq < hi; ++seq) {
    const core::Seqlock<SlotRecord>& lock = r[seq % capacity_].lock;
    SlotRecord rec;
    // A copy fails only when two writes overtook it: a later lap is
    // replacing this slot, so the record we want is gone anyway.
    if (!lock.try_load(rec) && !lock.try_load(rec)) continue;
    if (rec.seq1 != seq + 1) continue;  // still being written, lost with its writer, or displaced
    check(rec);
    fn(rec);
  }
}

void Log::check(const SlotRecord& rec) const {
  if (rec.len > kMaxMessageBytes || rec.level > static_cast<std::uint8_t>(LogLevel::critical) ||
      std::size_t{rec.len} + rec.logger_len + rec.file_len + rec.function_len > kTextBytes)
    throw SlotPoisoned("sk::Log '" + std::string(name_) + "': record " + std::to_string(rec.seq1 - 1) +
                       " has a message length of " + std::to_string(rec.len) + ", origin lengths " +
                       std::to_string(rec.logger_len) + "/" + std::to_string(rec.file_len) + "/" +
                       std::to_string(rec.function_len) + " and level " + std::to_string(rec.level) +
                       ": the shared memory was overwritten by something else; recreate the Share");
}

LogRecord Log::decode(const SlotRecord& s) const {
  LogRecord r;
  r.seq = s.seq1 - 1;
  r.pid = s.pid;
  r.level = static_cast<LogLevel>(s.level);
  r.time_ns = s.time_ns;
  r.message.assign(s.text, s.len);
  r.truncated = (s.flags & kTruncated) != 0;
  const char* at = s.text + s.len;
  if (s.logger_len == 0)
    r.logger = name_;
  else
    r.logger.assign(at, s.logger_len);
  at += s.logger_len;
  r.file.assign(at, s.file_len);
  at += s.file_len;
  r.function.assign(at, s.function_len);
  r.line = s.line;
  return r;
}

std::vector<LogRecord> Log::records() const {
  std::vector<LogRecord> out;
  for_each_retained([&](const SlotRecord& s) { out.push_back(decode(s)); });
  return out;
}

LogBatch Log::read_from(std::uint64_t from, std::size_t max_records) const {
  LogBatch out;
  out.next = from;
  const std::uint64_t hi = next_.load(std::memory_order_relaxed);
  const Slot* r = ring();
  if (r == nullptr) {
    // No ring: with capacity 0 every record left at once; otherwise nothing
    // was stored yet (the ring is installed before the first ticket).
    if (capacity_ == 0 && from < hi) {
      out.skipped = hi - from;
      out.next = hi;
    }
    return out;
  }
  // Retained window [lo, hi); base_ may be past our hi if clear() raced us.
  std::uint64_t lo = hi > capacity_ ? hi - capacity_ : 0;
  if (const std::uint64_t base = base_.load(std::memory_order_relaxed); base > lo) lo = base;
  std::uint64_t seq = from;
  if (seq < lo) {
    out.skipped += lo - seq;
    seq = lo;
  }
  for (; seq < hi && out.records.size() < max_records; ++seq) {
    const core::Seqlock<SlotRecord>& lock = r[seq % capacity_].lock;
    SlotRecord rec;
    if (!lock.try_load(rec) && !lock.try_load(rec)) {  // being rewritten right now: look again later
      out.waiting = true;
      break;
    }
    if (rec.seq1 == seq + 1) {
      check(rec);
      out.records.push_back(decode(rec));
    } else if (rec.seq1 > seq + 1) {
      ++out.skipped;  // a later lap replaced it: it left retention
    } else {
      out.waiting = true;  // ticket taken, record not committed (yet, or ever)
      break;
    }
  }
  out.next = seq;
  return out;
}

bool Log::readable_at(std::uint64_t seq) const noexcept {
  const std::uint64_t hi = next_.load(std::memory_order_relaxed);
  const Slot* r = ring();
  if (r == nullptr) return capacity_ == 0 && seq < hi;
  std::uint64_t lo = hi > capacity_ ? hi - capacity_ : 0;
  if (const std::uint64_t base = base_.load(std::memory_order_relaxed); base > lo) lo = base;
  if (seq < lo) return true;
  // Whatever next_ said: the slot itself is what a committing writer changes
  // (the Dekker pair with its notify reads the slot's sequence word).
  SlotRecord rec;
  if (!r[seq % capacity_].lock.try_load(rec)) return true;  // changing: let the caller look
  return rec.seq1 >= seq + 1;
}

bool Log::wait_from(std::uint64_t from, std::chrono::nanoseconds timeout, const std::atomic<bool>* interrupt) const {
  // (interrupt: relaxed; the WaitPoint's fences order it against wake_readers().)
  return readers_.wait_for(
      [&] { return (interrupt != nullptr && interrupt->load(std::memory_order_relaxed)) || readable_at(from); }, timeout,
      0);
}

std::vector<std::string> Log::messages() const {
  std::vector<std::string> out;
  for_each_retained([&](const SlotRecord& s) { out.emplace_back(s.text, s.len); });
  return out;
}

std::size_t Log::size() const {
  std::size_t n = 0;
  for_each_retained([&](const SlotRecord&) { ++n; });
  return n;
}

void Log::clear() noexcept {
  const std::uint64_t hi = next_.load(std::memory_order_relaxed);
  std::uint64_t b = base_.load(std::memory_order_relaxed);
  // Never move base_ back (a racing clear() may have seen a later next_).
  while (b < hi && !base_.compare_exchange_weak(b, hi, std::memory_order_relaxed)) {
  }
}

std::string Log::describe_value() const {
  return std::to_string(size()) + " record(s) (bound " + std::to_string(capacity_) + ", " +
         std::to_string(dropped()) + " dropped), level " + std::string(to_string(level()));
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

}  // namespace sk
