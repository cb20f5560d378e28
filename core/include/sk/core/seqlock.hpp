#pragma once
// Seqlock<T>: a multi-writer, wait-free-read seqlock for any trivially copyable
// T, placeable in shared memory (position independent: atomics only, no
// pointers, no vtable). Readers never wait for a writer and never block one;
// writers serialize on one CAS and recover from a writer that died holding
// the lock without losing any committed value.
//
// Layout
//   seq_      one 64-bit word: low 32 bits version v, high 32 bits owner tag.
//             v even = no writer (tag 0); v odd = a writer holds the lock and
//             the tag says who (the caller's tag, e.g. its pid).
//   wait_     WaitPoint writers park on while another writer holds the lock.
//   data_[2]  TWO copies of T as relaxed atomic 64-bit words (size rounded up
//             to 8). The readable ("committed") copy is idx(v) =
//             (v_even / 2) & 1, v_even = v rounded down to even.
//
// Writer:  CAS (v even, tag 0) -> (v+1, tag)        take the lock (acquire,
//                                                    then a release fence)
//          write copy idx(v) ^ 1 (the one readers are NOT reading)
//          CAS (v+1, tag) -> (v+2, 0), seq_cst       publish: idx(v+2) = idx(v) ^ 1
// Abort:   CAS (v+1, tag) -> (v+4, 0), seq_cst       idx(v+4) = idx(v): the last
//          committed copy stays the readable one. Used by the guard's
//          destructor and by recovery when `owner_dead(tag)` says the holder
//          died: its half-written copy is never made visible.
// Reader:  s1 = seq (acquire); copy words of idx(s1) (relaxed);
//          acquire fence; s2 = seq (relaxed);
//          valid iff (v2 - v1_even) < 3 (mod 2^32).
//
// Ordering argument (see docs/core-seqlock-deque.md for the long form)
//  * A copy is only ever rewritten by a writer whose odd version is >= the
//    version at which it became readable + 3: readable at e means idx(e) = c;
//    the writer holding e+1 writes c^1; the writer holding e+3 (after the
//    commit e+2) writes c again. Versions only grow (+1 take, +1 commit, +3
//    abort), so "re-read version < e+3" proves no writer of copy c took the
//    lock before the re-read.
//  * Why the re-read sees such a writer if we read any of its words: the writer
//    issues a release fence between its lock CAS and its data stores; the
//    reader issues an acquire fence between its data loads and the re-read. If
//    a data load read a value stored after the writer's release fence, the two
//    fences synchronize, so the lock CAS happens-before the re-read, which
//    then returns that CAS's value or a later (larger) one: the read is
//    rejected. (Boehm, "Can seqlocks get along with programming language
//    memory models?", MSPC 2012; the relaxed word copy emulates P1478's
//    atomic_load_per_byte_memcpy.)
//  * Why the reader sees the full committed copy: the first load is acquire and
//    reads the committing CAS (release) or a later RMW in its release sequence
//    (the next writer's lock CAS, an abort), so every store of the committed
//    copy happens-before the word loads.
//  * Abort moves the version forward (+3), never back: rolling back to v-1
//    would let a reader that started at e, overlapped by the commit e+2 and a
//    writer at e+3 that died mid-way through copy idx(e), re-read e+2 and
//    accept a torn copy (ABA).
//  * The version wraps at 2^32; a reader would have to be overtaken by about
//    2^31 commits during one copy for the modular test to mislead it.
//
// Death: a writer SIGKILLed at any instruction leaves either a free lock or
// (odd v, its tag). Readers are unaffected (they read the committed copy).
// The next writer spins a bounded time, then parks in slices of <= 2 ms; after
// each slice in which the lock did not change hands it asks `owner_dead(tag)`
// (supplied by the caller: core knows nothing of processes; nullptr = never
// steal) and, if the holder is dead, aborts on its behalf and retries.
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <sk/core/backoff.hpp>
#include <sk/core/error.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/futex.hpp>

namespace sk::core {

// Misuse of a Seqlock (a zero owner tag, committing nothing) or a lost lock.
class SeqlockError : public sk::Error {
 public:
  using sk::Error::Error;
};

// The writer's lock was taken over by another writer whose owner_dead
// callback judged this writer's tag dead. The value was NOT published.
class SeqlockLockLost : public SeqlockError {
 public:
  using SeqlockError::SeqlockError;
};

// Returns true when the owner a tag names (a process, ...) is gone for good.
// Shared by every core primitive whose words name their owner: Seqlock
// passes its 32-bit tag (zero-extended), FieldSeqlock its 64-bit owner ids.
using OwnerDeadFn = bool (*)(std::uint64_t owner);

template <class T>
class Seqlock {
  static_assert(std::is_trivially_copyable_v<T>, "Seqlock<T> copies T word by word: T must be trivially copyable");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free && sizeof(std::atomic<std::uint64_t>) == 8,
                "Seqlock needs lock-free 64-bit atomics (shared between processes)");

 public:
  static constexpr std::size_t kWords = (sizeof(T) + 7) / 8;
  // A parked writer re-checks the holder's liveness at least this often, after
  // spinning this many Backoff steps (the library's constants, backoff.hpp).
  static constexpr std::chrono::milliseconds kParkSlice = core::kParkSlice;
  static constexpr std::uint32_t kSpinSteps = core::kSpinSteps;

  class Writer;

  // The committed value starts as T{} (or `initial`).
  Seqlock() noexcept
    requires std::is_default_constructible_v<T>
      : Seqlock(T{}) {}
  explicit Seqlock(const T& initial) noexcept {
    static_assert(std::is_standard_layout_v<Seqlock>, "Seqlock lives in shared memory: keep it standard layout");
    to_words(initial, data_[0]);
    to_words(initial, data_[1]);
  }
  Seqlock(const Seqlock&) = delete;
  Seqlock& operator=(const Seqlock&) = delete;

  // ---- readers: never wait for a writer --------------------------------
  // One attempt; false only if >= 2 writers started while we copied (retry).
  bool try_load(T& out) const noexcept { return try_load_raw(out); }

  T load() const noexcept {
    return materialize([this](auto& out) {
      Backoff backoff;
      while (!try_load_raw(out)) backoff.pause();  // only when >= 2 writes overtook us
    });
  }

  // Low-level reader steps (try_load is read_begin + read_copy + read_valid);
  // public so tests can interleave a reader with writers deterministically.
  std::uint64_t read_begin() const noexcept {
    // SYNC POINT: pairs with the release of the commit (or abort) CAS that
    // made this version's copy readable, also when we read a later lock CAS
    // in its release sequence; publishes every word of the committed copy.
    // Without it the word loads could return older values of the copy.
    return seq_.load(std::memory_order_acquire);
  }
  template <class Out>
  void read_copy(std::uint64_t ticket, Out& out) const noexcept {
    static_assert(sizeof(Out) == sizeof(T) && std::is_trivially_copyable_v<Out>);
    from_words(data_[readable(version_of(ticket))], reinterpret_cast<std::byte*>(&out));
  }
  bool read_valid(std::uint64_t ticket) const noexcept {
    // SYNC POINT: pairs with the release fence a writer issues after taking
    // the lock and before storing data words: if any word we copied came
    // from such a writer, its lock CAS happens-before the load below, which
    // then sees a version >= start + 3 and rejects the copy. Without it the
    // re-read could be satisfied before the word loads and accept torn data.
    fence(std::memory_order_acquire);
    const std::uint32_t now = version_of(seq_.load(std::memory_order_relaxed));
    return static_cast<std::uint32_t>(now - even(version_of(ticket))) < 3u;
  }

  // ---- writers ---------------------------------------------------------
  // Replaces the value. Blocks while another writer holds the lock (bounded
  // spin, then parks); steals the lock from a holder owner_dead() calls dead.
  // tag: non-zero id of the caller (e.g. its pid; threads of one process may
  // share it). Throws SeqlockError on tag 0, SeqlockLockLost if another
  // writer judged this one dead. Not re-entrant: a thread that already holds
  // the lock (a live Writer) and calls store() waits for itself forever.
  void store(const T& value, std::uint32_t tag, OwnerDeadFn owner_dead = nullptr) {
    Writer w = begin_write(tag, owner_dead);
    w.write(value);
    w.commit_or_throw();
  }

  // Read-modify-write, atomic with respect to other writers: fn(T&) gets a
  // copy of the committed value; the result is committed and returned. If fn
  // throws, nothing is published (the lock is released by an abort).
  template <class F>
  T update(F&& fn, std::uint32_t tag, OwnerDeadFn owner_dead = nullptr) {
    Writer w = begin_write(tag, owner_dead);
    T value = w.committed();
    std::forward<F>(fn)(value);
    w.write(value);
    w.commit_or_throw();
    return value;
  }

  // Takes the write lock (blocking as in store()). The guard aborts on
  // destruction unless commit() succeeded.
  [[nodiscard]] Writer begin_write(std::uint32_t tag, OwnerDeadFn owner_dead = nullptr) {
    check_tag(tag);
    Backoff backoff;
    for (;;) {
      std::uint64_t s = seq_.load(std::memory_order_relaxed);
      if (!is_odd(version_of(s))) {
        if (try_lock(s, tag)) return Writer(*this, pack(version_of(s) + 1, tag));
        continue;  // another writer won the CAS; look again
      }
      if (backoff.steps() < kSpinSteps) {
        backoff.pause();
        continue;
      }
      const bool moved = wait_.wait_for([&] { return seq_.load(std::memory_order_relaxed) != s; }, kParkSlice, 0);
      if (!moved && owner_dead != nullptr && owner_dead(tag_of(s))) abort_held(s);
    }
  }

  // Takes the write lock only if it is free right now.
  [[nodiscard]] std::optional<Writer> try_begin_write(std::uint32_t tag) {
    check_tag(tag);
    std::uint64_t s = seq_.load(std::memory_order_relaxed);
    if (is_odd(version_of(s)) || !try_lock(s, tag)) return std::nullopt;
    return Writer(*this, pack(version_of(s) + 1, tag));
  }

  // Version counter (low 32 bits of the sequence word): even when free; +2
  // per commit, +4 per aborted write; wraps at 2^32.
  std::uint64_t version() const noexcept { return version_of(seq_.load(std::memory_order_relaxed)); }
  // Tag of the writer holding the lock; 0 when free.
  std::uint32_t holder() const noexcept { return tag_of(seq_.load(std::memory_order_relaxed)); }

  // Aborts the write of `tag` if it holds the lock right now (what a waiting
  // writer does when owner_dead(tag) is true). Returns true if it did.
  bool abort_if_held_by(std::uint32_t tag) noexcept {
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    return tag != 0 && is_odd(version_of(s)) && tag_of(s) == tag && abort_held(s);
  }

  // ---- write guard -------------------------------------------------------
  class Writer {
   public:
    Writer(Writer&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)), held_(o.held_), state_(o.state_) {}
    Writer& operator=(Writer&&) = delete;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() {
      if (lock_ && state_ != State::done) lock_->abort_held(held_);
    }

    // The committed value (safe: only the lock holder writes any copy).
    T committed() const noexcept {
      return materialize([this](auto& out) { lock_->read_copy(held_, out); });
    }
    // Writes the whole new value into the unpublished copy. Only the lock
    // holder may write: a live writer that another writer's owner_dead
    // wrongly judged dead would scribble on a copy it no longer owns.
    void write(const T& value) noexcept {
      to_words(value, lock_->data_[target()]);
      state_ = State::written;
    }
    // Writes only the first `bytes` bytes (rounded up to words): for crash
    // tests that kill a writer half-way. commit() then refuses.
    void write_partial(const T& value, std::size_t bytes) noexcept {
      const auto* src = reinterpret_cast<const std::byte*>(&value);
      std::atomic<std::uint64_t>* dst = lock_->data_[target()];
      for (std::size_t i = 0; i < kWords && i * 8 < bytes; ++i) dst[i].store(word_at(src, i), std::memory_order_relaxed);
      state_ = State::partial;
    }
    // Publishes the written value. False if the lock was taken over (another
    // writer judged us dead); the value is then not published. Throws
    // SeqlockError if nothing (or only part) was written.
    bool commit() {
      if (state_ == State::done)
        throw SeqlockError("Seqlock::Writer::commit(): this guard already committed; take a new one with begin_write()");
      if (state_ != State::written)
        throw SeqlockError("Seqlock::Writer::commit(): call write(value) with the whole new value before commit()");
      state_ = State::done;
      std::uint64_t expected = held_;
      // SYNC POINT: release publishes the copy we wrote; pairs with
      // read_begin()'s acquire and the next writer's lock CAS (acquire).
      // Without it a reader could see the new version with old words in the
      // new copy. seq_cst: it is also the store half of wake_writers()'s
      // Dekker pair.
      const bool ok = lock_->seq_.compare_exchange_strong(expected, pack(version_of(held_) + 1, 0),
                                                          std::memory_order_seq_cst, std::memory_order_relaxed);
      lock_->wake_writers();
      return ok;
    }
    void commit_or_throw() {
      if (!commit())
        throw SeqlockLockLost("Seqlock: the write lock was taken over while this writer held it (the owner_dead "
                              "callback of another writer reported tag " +
                              std::to_string(tag_of(held_)) +
                              " dead); the value was not published. Make owner_dead return true only for "
                              "owners that are really gone.");
    }
    std::uint32_t tag() const noexcept { return tag_of(held_); }
    std::uint64_t version() const noexcept { return version_of(held_); }

   private:
    friend class Seqlock;
    enum class State : std::uint8_t { empty, partial, written, done };
    Writer(Seqlock& lock, std::uint64_t held) noexcept : lock_(&lock), held_(held) {}
    std::size_t target() const noexcept { return readable(version_of(held_)) ^ 1u; }

    Seqlock* lock_;        // process-local guard: a pointer is fine here
    std::uint64_t held_;   // the sequence word while we hold the lock
    State state_ = State::empty;
  };

 private:
  static constexpr std::uint64_t pack(std::uint32_t version, std::uint32_t tag) noexcept {
    return (std::uint64_t{tag} << 32) | version;
  }
  static constexpr std::uint32_t version_of(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s); }
  static constexpr std::uint32_t tag_of(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s >> 32); }
  static constexpr bool is_odd(std::uint32_t v) noexcept { return (v & 1u) != 0; }
  static constexpr std::uint32_t even(std::uint32_t v) noexcept { return v & ~std::uint32_t{1}; }
  static constexpr std::size_t readable(std::uint32_t v) noexcept { return (even(v) >> 1) & 1u; }

  static void check_tag(std::uint32_t tag) {
    if (tag == 0)
      throw SeqlockError("Seqlock: owner tag 0 is reserved for 'no writer'; pass a non-zero tag that names the "
                         "writer (e.g. its pid)");
  }

  bool try_lock(std::uint64_t& s, std::uint32_t tag) noexcept {
    // SYNC POINT (acquire): pairs with the previous commit / abort (release)
    // so committed() reads the committed copy and our stores to the other
    // copy come after every earlier writer's stores to it.
    if (!seq_.compare_exchange_strong(s, pack(version_of(s) + 1, tag), std::memory_order_acquire,
                                      std::memory_order_relaxed))
      return false;
    // SYNC POINT (release fence): orders the lock CAS before our data stores;
    // pairs with read_valid()'s acquire fence. Without it a reader could copy
    // our half-written words and still re-read the old version.
    fence(std::memory_order_release);
    return true;
  }

  // Aborts the write held as `held` (odd version): the committed copy stays
  // readable; the version moves forward by 3 (never back, see header).
  bool abort_held(std::uint64_t held) noexcept {
    std::uint64_t expected = held;
    // SYNC POINT: release: a reader or the next writer that reads the new
    // version is ordered after the last commit (the abort is an RMW in that
    // commit's release sequence, and releases itself); acquire: the
    // recoverer is ordered after the dead holder's lock CAS. Without release
    // the next writer's committed() could read stale words of the committed
    // copy. (A writer judged dead must really be gone: its stray stores to
    // the unpublished copy are not ordered by anything; a SIGKILLed process
    // has none left once the kernel reports it dead.)
    // (seq_cst also for wake_writers(), as in commit().)
    const bool ok = seq_.compare_exchange_strong(expected, pack(version_of(held) + 3, 0),
                                                 std::memory_order_seq_cst, std::memory_order_relaxed);
    if (ok) wake_writers();
    return ok;
  }

  // Our seq_ change is a seq_cst RMW (commit / abort CAS), so the cheap
  // notify applies (its Dekker argument: futex.hpp).
  void wake_writers() noexcept { wait_.notify_all_after_seq_cst_rmw(); }

  static std::uint64_t word_at(const std::byte* src, std::size_t i) noexcept {
    std::uint64_t w = 0;
    const std::size_t n = sizeof(T) - i * 8 < 8 ? sizeof(T) - i * 8 : 8;
    std::memcpy(&w, src + i * 8, n);
    return w;
  }
  static void to_words(const T& value, std::atomic<std::uint64_t>* dst) noexcept {
    const auto* src = reinterpret_cast<const std::byte*>(&value);
#pragma GCC unroll 8
    for (std::size_t i = 0; i < kWords; ++i) dst[i].store(word_at(src, i), std::memory_order_relaxed);
  }
  static void from_words(const std::atomic<std::uint64_t>* src, std::byte* dst) noexcept {
    constexpr std::size_t kFull = sizeof(T) / 8;
#pragma GCC unroll 8
    for (std::size_t i = 0; i < kFull; ++i) {
      const std::uint64_t w = src[i].load(std::memory_order_relaxed);
      std::memcpy(dst + i * 8, &w, 8);
    }
    if constexpr (sizeof(T) % 8 != 0) {
      const std::uint64_t w = src[kFull].load(std::memory_order_relaxed);
      std::memcpy(dst + kFull * 8, &w, sizeof(T) % 8);
    }
  }

  // Builds a T by letting fill(out) copy the bytes into it. Filling the
  // returned T in place (NRVO) is fastest: copying a just-filled buffer with
  // wide loads stalls on store forwarding (~20 ns for 64 B). Only a large T
  // whose default constructor does work (zeroing 1 KiB costs more than the
  // stall), or a T without one, goes through a byte buffer.
  template <class Fill>
  static T materialize(Fill&& fill) noexcept {
    if constexpr (std::is_trivially_default_constructible_v<T> ||
                  (std::is_default_constructible_v<T> && sizeof(T) <= 256)) {
      T out;
      fill(out);
      return out;
    } else {
      struct alignas(T) Raw {
        std::byte b[sizeof(T)];
      } raw;
      fill(raw);
      return std::bit_cast<T>(raw);
    }
  }
  template <class Out>
  bool try_load_raw(Out& out) const noexcept {
    const std::uint64_t ticket = read_begin();
    read_copy(ticket, out);
    return read_valid(ticket);
  }

  std::atomic<std::uint64_t> seq_{0};
  WaitPoint wait_;
  std::atomic<std::uint64_t> data_[2][kWords];
};

}  // namespace sk::core
