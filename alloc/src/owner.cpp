// The owner registry and the liveness check (see owner.hpp).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <sk/alloc/errors.hpp>
#include <sk/alloc/owner.hpp>
#include <sk/alloc/segment.hpp>
#include <sk/core/backoff.hpp>

namespace sk::alloc {
namespace {

// ---- the registry file ---------------------------------------------------------
// offset 0:     RegistryHeader (one page)
// offset 4096:  SlotRecord[kOwnerSlots + 1] (8 bytes each; index 0 unused)
// Lock byte of slot k: file offset k (record locks need no data behind them).
constexpr std::uint64_t kRegistryMagic = 0x3147'4552'4E57'4F4BULL;  // "KOWNREG1"
constexpr std::uint32_t kRegistryVersion = 2;
constexpr std::size_t kRegistryHeaderBytes = 4096;

struct RegistryHeader {
  std::atomic<std::uint64_t> magic;
  std::atomic<std::uint32_t> version;
  std::atomic<std::uint32_t> slots;
  alignas(64) std::atomic<std::uint32_t> cursor;  // where the next claim starts probing
};

struct SlotRecord {
  std::atomic<std::uint32_t> gen;     // bumped by every claim (never 0 once claimed)
  std::atomic<std::uint32_t> pid;     // the claimer's getpid() (messages, owner_of_child)
};
static_assert(sizeof(SlotRecord) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free);

constexpr std::size_t kRegistryBytes = kRegistryHeaderBytes + sizeof(SlotRecord) * (kOwnerSlots + 1);

struct Registry {
  int fd = -1;
  uid_t euid = 0;
  std::byte* base = nullptr;

  RegistryHeader& header() const noexcept { return *reinterpret_cast<RegistryHeader*>(base); }
  SlotRecord& slot(std::uint32_t k) const noexcept {
    return reinterpret_cast<SlotRecord*>(base + kRegistryHeaderBytes)[k];
  }
};

// State of this process. g_self is the hot-path cache (packed OwnerId, 0 =
// not registered). g_reg is the registry of the current identity; registries
// of an earlier effective uid stay open (their locks keep older words valid).
std::atomic<std::uint64_t> g_self{0};
Registry g_reg;
std::mutex g_mu;  // registration; held across fork (atfork) so a child never inherits it locked

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

std::string path_for(uid_t euid) { return std::string(kShmDir) + "/sk-owners-" + std::to_string(euid); }

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw OwnerRegistryError("sk: cannot use the owner registry " + path + " (every process that uses shared "
                           "segments registers there, so that others can tell whether it is alive): " + what);
}

// Opens (creating if needed) and maps the registry of the effective uid.
Registry open_registry() {
  Registry r;
  r.euid = ::geteuid();
  const std::string path = path_for(r.euid);
  r.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (r.fd < 0) {
    const int e = errno;
    fail(path, errno_text(e) +
                   (e == EMFILE ? "; this process is out of file descriptors: the registry needs one, once per "
                                  "process; raise the limit (ulimit -n) or close some before the first segment"
                    : e == ELOOP ? "; it is a symbolic link: remove it"
                                 : "; check that /dev/shm is mounted and writable"));
  }
  struct stat st {};
  if (::fstat(r.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != r.euid || (st.st_mode & 077) != 0) {
    ::close(r.fd);
    fail(path, "it is not a regular file of this user (uid " + std::to_string(r.euid) +
                   ") with mode 0600; another user may have planted it: remove it");
  }
  // Reserve every page: a sparse file on a full tmpfs would SIGBUS on first touch.
  if (static_cast<std::size_t>(st.st_size) < kRegistryBytes) {
    const int e = ::posix_fallocate(r.fd, 0, static_cast<off_t>(kRegistryBytes));
    if (e != 0) {
      ::close(r.fd);
      fail(path, "cannot reserve " + std::to_string(kRegistryBytes) + " bytes: " + errno_text(e) +
                     (e == ENOSPC ? "; /dev/shm is full: free space there" : ""));
    }
  }
  void* p = ::mmap(nullptr, kRegistryBytes, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(r.fd);
    fail(path, "mmap failed: " + errno_text(e));
  }
  r.base = static_cast<std::byte*>(p);
  RegistryHeader& h = r.header();
  std::uint64_t magic = 0;
  // SYNC POINT: acq_rel on the magic: the first opener stores version and
  // slots before others read them (release by the winner, acquire by losers
  // and later openers). Without it a second opener could read slots == 0.
  if (h.magic.compare_exchange_strong(magic, kRegistryMagic, std::memory_order_acq_rel)) {
    h.version.store(kRegistryVersion, std::memory_order_relaxed);
    h.slots.store(kOwnerSlots, std::memory_order_release);
  } else if (magic != kRegistryMagic) {
    ::munmap(p, kRegistryBytes);
    ::close(r.fd);
    fail(path, "it is not a suitkaise owner registry (magic " + std::to_string(magic) + "): remove it");
  }
  // A racing first opener may not have stored the geometry yet.
  // SYNC POINT (both slots loads): acquire pairs with the first opener's
  // release store of slots, which follows its version store: seeing slots
  // set, we see its version too. Without it a second opener could read a
  // stale version 0 and refuse a valid registry.
  for (int i = 0; i < 1000 && h.slots.load(std::memory_order_acquire) == 0; ++i) std::this_thread::yield();
  if (h.version.load(std::memory_order_relaxed) != kRegistryVersion ||
      h.slots.load(std::memory_order_acquire) != kOwnerSlots) {
    ::munmap(p, kRegistryBytes);
    // Another release's registry. If no process holds any slot of it (no
    // lock on any byte), nobody uses it: replace it. Else refuse.
    struct flock any {};
    any.l_type = F_WRLCK;
    any.l_whence = SEEK_SET;
    any.l_start = 0;
    any.l_len = 0;  // the whole file and beyond
    struct stat now {};
    if (::fcntl(r.fd, F_GETLK, &any) == 0 && any.l_type == F_UNLCK && ::lstat(path.c_str(), &now) == 0 &&
        now.st_ino == st.st_ino && now.st_dev == st.st_dev && ::unlink(path.c_str()) == 0) {
      ::close(r.fd);
      return open_registry();
    }
    ::close(r.fd);
    // Relaxed: read only for the message.
    fail(path, "it has another format (version " + std::to_string(h.version.load(std::memory_order_relaxed)) +
                   ", " + std::to_string(h.slots.load(std::memory_order_relaxed)) +
                   " slots); it was made by another suitkaise release: stop the programs of that release and "
                   "remove it");
  }
  return r;
}

// Takes a free slot of `r` for this process and returns its OwnerId, or an
// empty id with errno set. Uses no new descriptor and no allocation: it runs
// in a forked child's atfork handler.
OwnerId claim_slot(const Registry& r) noexcept {
  const auto pid = static_cast<std::uint32_t>(::getpid());
  // Probing starts at a rotating cursor, so a slot is reused only after the
  // others were tried: generations of one slot advance slowly.
  const std::uint32_t start = r.header().cursor.fetch_add(1, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < kOwnerSlots; ++i) {
    const std::uint32_t k = 1 + (start + i) % kOwnerSlots;
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(k);
    fl.l_len = 1;
    if (::fcntl(r.fd, F_SETLK, &fl) != 0) {
      if (errno == EACCES || errno == EAGAIN) continue;  // a live process holds it
      if (errno == EINTR) {
        --i;
        continue;
      }
      return {};
    }
    SlotRecord& s = r.slot(k);
    s.pid.store(pid, std::memory_order_relaxed);
    std::uint32_t gen = s.gen.load(std::memory_order_relaxed) + 1;
    if ((gen & 0xFFFFu) == 0) ++gen;  // no generation whose compact form reads as 0 ... nor 0 itself
    // SYNC POINT: release publishes pid with the new generation:
    // a reader that sees `gen` (acquire) sees this claimer's pid, not the
    // previous one's. Without it owner_of_child could match a stale pid.
    s.gen.store(gen, std::memory_order_release);
    return OwnerId{k, gen};
  }
  errno = ENOSPC;
  return {};
}

void register_locked() {
  if (g_self.load(std::memory_order_relaxed) != 0 && g_reg.euid == ::geteuid()) return;
  if (g_reg.fd < 0 || g_reg.euid != ::geteuid()) g_reg = open_registry();  // an old one stays open
  const OwnerId o = claim_slot(g_reg);
  if (o.empty())
    fail(path_for(g_reg.euid), errno == ENOSPC ? "all " + std::to_string(kOwnerSlots) +
                                                     " slots are held by live processes of this user"
                                               : "fcntl(F_SETLK) failed: " + errno_text(errno));
  g_self.store(o.pack(), std::memory_order_relaxed);
}

void before_fork() noexcept { g_mu.lock(); }
void after_fork_parent() noexcept { g_mu.unlock(); }
// The child holds none of its parent's record locks: it takes a slot of its
// own now, through the inherited descriptor, before any code of the child can
// write an owner word. If that fails (every slot taken), it stays
// unregistered and its first self_owner() throws.
void after_fork_child() noexcept {
  g_mu.unlock();
  g_self.store(0, std::memory_order_relaxed);
  if (g_reg.fd < 0) return;  // the parent never registered: the child registers when it needs to
  const OwnerId o = claim_slot(g_reg);
  g_self.store(o.pack(), std::memory_order_relaxed);
}

[[maybe_unused]] const bool g_atfork_registered = [] {
  pthread_atfork(&before_fork, &after_fork_parent, &after_fork_child);
  return true;
}();

const Registry* registry_for_checks() noexcept {
  if (g_reg.base != nullptr) return &g_reg;
  try {
    register_self();
  } catch (...) {
    return nullptr;
  }
  return &g_reg;
}

// True while slot k's byte is locked by some process. F_GETLK reports no
// conflict with the caller's own locks, so callers rule out "self" first.
bool slot_locked(const Registry& r, std::uint32_t k, bool& known) noexcept {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(k);
  fl.l_len = 1;
  int rc;
  do rc = ::fcntl(r.fd, F_GETLK, &fl);
  while (rc != 0 && errno == EINTR);
  known = rc == 0;
  return rc != 0 || fl.l_type != F_UNLCK;
}

// gen_matches: does the slot's current generation name the owner?
template <class GenMatches>
bool slot_alive(std::uint32_t k, GenMatches gen_matches) noexcept {
  if (k == 0 || k > kOwnerSlots) return false;  // not a word any owner wrote
  const Registry* r = registry_for_checks();
  if (r == nullptr) return true;  // cannot tell: wait rather than take over
  // SYNC POINT: acquire pairs with the claimer's release of `gen`; the lock
  // test comes after it. A claimer locks before it bumps the generation, so
  // "generation still ours, byte unlocked" can only mean the owner is gone;
  // a new claimer caught between its lock and its bump reads as alive until
  // the next check (a delay, never a takeover).
  if (!gen_matches(r->slot(k).gen.load(std::memory_order_acquire))) return false;
  bool known = false;
  return slot_locked(*r, k, known);
}

}  // namespace

void register_self() {
  std::lock_guard<std::mutex> lk(g_mu);
  register_locked();
}

OwnerId self_owner() {
  const std::uint64_t w = g_self.load(std::memory_order_relaxed);
  if (w != 0) return OwnerId::unpack(w);
  register_self();
  return OwnerId::unpack(g_self.load(std::memory_order_relaxed));
}

std::uint64_t registered_owner() noexcept { return g_self.load(std::memory_order_relaxed); }

bool is_alive(OwnerId o) noexcept {
  if (o.empty()) return false;
  if (o.pack() == g_self.load(std::memory_order_relaxed)) return true;
  return slot_alive(o.slot, [&](std::uint32_t gen) { return gen == o.gen; });
}

bool is_alive_compact(std::uint32_t tag) noexcept {
  const std::uint32_t slot = tag >> 16;
  if (slot == 0) return false;
  const std::uint64_t me = g_self.load(std::memory_order_relaxed);
  if (me != 0 && OwnerId::unpack(me).compact() == tag) return true;
  return slot_alive(slot, [&](std::uint32_t gen) { return (gen & 0xFFFFu) == (tag & 0xFFFFu); });
}

std::uint32_t owner_pid(OwnerId o) noexcept {
  if (o.empty() || o.slot > kOwnerSlots) return 0;
  const Registry* r = registry_for_checks();
  if (r == nullptr) return 0;
  SlotRecord& s = r->slot(o.slot);
  const std::uint32_t pid = s.pid.load(std::memory_order_relaxed);
  // SYNC POINT: acquire re-read: pid belongs to generation o.gen only if the
  // generation did not move while we read it.
  return s.gen.load(std::memory_order_acquire) == o.gen ? pid : 0;
}

std::string describe_owner(OwnerId o) {
  const std::uint32_t pid = owner_pid(o);
  return pid != 0 ? "pid " + std::to_string(pid) : "an exited process";
}

OwnerId owner_of_child(pid_t child, std::chrono::milliseconds timeout) {
  const OwnerId me = self_owner();
  const Registry& r = g_reg;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto want = static_cast<std::uint32_t>(child);
  for (int round = 0;; ++round) {
    for (std::uint32_t k = 1; k <= kOwnerSlots; ++k) {
      SlotRecord& s = r.slot(k);
      if (s.pid.load(std::memory_order_relaxed) != want) continue;
      // SYNC POINT: acquire pairs with the claimer's release of gen (see
      // claim_slot): the pid re-read after it belongs to that claim.
      const std::uint32_t gen = s.gen.load(std::memory_order_acquire);
      if (s.pid.load(std::memory_order_relaxed) != want) continue;
      // Live and not us: a process of another pid namespace with the same
      // pid number would match too; give_peer_to's callers pass a child
      // they just forked, which registered before fork() returned in it.
      if (const OwnerId o{k, gen}; o != me && is_alive(o)) return o;
    }
    // Exited (a zombie of ours, looked at without reaping it) or gone?
    siginfo_t info{};
    const bool exited = child > 0 && ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                        info.si_pid == child;
    if (child <= 0 || exited || (::kill(child, 0) != 0 && errno == ESRCH)) {
      if (round == 0)
        throw OwnerRegistryError("sk: no process " + std::to_string(child) +
                                 " exists; pass the pid of a process this one forked (fork's return value)");
      return OwnerId{kOwnerSlots + 1, 1};  // it exited before it registered: reads as dead
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw OwnerRegistryError("sk: process " + std::to_string(child) + " did not register as an owner within " +
                               std::to_string(timeout.count()) +
                               " ms; it must be a child forked by this process or a program using suitkaise");
    std::this_thread::sleep_for(core::kPollNap);
  }
}

std::string owner_registry_path() { return path_for(::geteuid()); }

}  // namespace sk::alloc
