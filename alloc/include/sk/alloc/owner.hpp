#pragma once
// Owner ids for writer-owned words in shared memory, and the one liveness
// check every such word uses. A word that a writer holds (seqlock sequence,
// field lock, list cell, chunk installer, pipe end, timer buffer, attach slot)
// records who holds it, so that a waiter which outlasts its bounded wait can
// ask "is that process still alive?" and repair the word if not.
//
// The kernel keeps the answer, not a pid. Every process that uses the library
// holds a record lock (fcntl F_SETLK, one byte) on its own slot of the owner
// registry, a small file in /dev/shm per effective uid. The kernel drops that
// lock when the process dies (before it is even a zombie), whatever its pid
// namespace; a live process keeps it however many descriptors it has open,
// with or without /proc. An owner is (registry slot, generation of that slot):
//
//   alive(slot, gen)  <=>  registry.gen[slot] == gen  and  slot's byte is locked
//
// A claimer first takes the lock, then bumps the generation, then hands out
// owner words: so a word naming (slot, gen) was written by a process that held
// the lock when it wrote it, and "gen unchanged, lock free" means it died. A
// slot reused by a new process carries a new generation, so pid reuse and slot
// reuse cannot make a dead owner look alive. The check needs no new
// descriptor (F_GETLK on the registry descriptor opened at registration),
// reads no /proc and costs one system call; callers run it only after a
// bounded wait. Record locks belong to a process, not to a descriptor: a
// forked child inherits none of them, so the child re-registers under a fresh
// slot in a pthread_atfork handler, through the inherited descriptor, before
// fork() returns in it (it needs no new descriptor either).
//
// What this asks of the program: do not close descriptors you did not open
// (closefrom(3), close_range(2) over everything): closing the registry
// descriptor drops the lock and makes every word this process holds look dead.
// A process that exec()s drops it too (the descriptor is close-on-exec): the
// new program is a new owner. A stopped process (SIGSTOP) keeps its lock: it
// is alive, and whoever waits on a word it holds waits until it continues.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace sk::alloc {

// Registry slots are 1..kOwnerSlots (0 = "no owner"): live processes of one
// user at a time. At most 16 bits, so that a compact owner fits a 32-bit tag
// (see compact()); 8 bytes each, so the registry (132 KiB) fits even a small
// /dev/shm.
inline constexpr std::uint32_t kOwnerSlots = 16383;

struct OwnerId {
  std::uint32_t slot = 0;  // registry slot, 1..kOwnerSlots; 0 = none
  std::uint32_t gen = 0;   // generation of the slot when its owner claimed it (never 0)

  constexpr std::uint64_t pack() const noexcept { return (std::uint64_t{gen} << 32) | slot; }
  static constexpr OwnerId unpack(std::uint64_t w) noexcept {
    return OwnerId{static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(w >> 32)};
  }
  // A 32-bit form for words with room for a 32-bit tag only (the seqlock's
  // owner tag): slot in the high 16 bits, the low 16 bits of the generation
  // below. Never 0 for a real owner (slot >= 1). Its generation is compared
  // modulo 2^16: a dead holder's tag could only match a live process again
  // after 65,536 more registrations in that very slot (claims rotate over all
  // slots), with its word still unrepaired.
  constexpr std::uint32_t compact() const noexcept { return (slot << 16) | (gen & 0xFFFFu); }
  constexpr bool empty() const noexcept { return slot == 0; }
  friend constexpr bool operator==(OwnerId, OwnerId) = default;
};

// This process's owner id. Registers on first use (opens the registry: one
// descriptor for the life of the process); cached, and renewed in a forked
// child before fork() returns there. Cheap on hot paths (one relaxed load).
// Throws OwnerRegistryError (an ArenaError) when the registry cannot be
// opened or is full; arena create/open register first (register_self), so
// code that already uses a segment never sees it.
OwnerId self_owner();

// This process's packed id if it is registered, else 0. Never registers
// (for destructors and other noexcept paths).
std::uint64_t registered_owner() noexcept;

// Registers this process if it is not yet (and again under the new effective
// uid if it changed since). Throws OwnerRegistryError saying why not.
void register_self();

// True while the process that claimed `o` lives. A stopped process is alive.
// A torn or foreign word (slot out of range, generation never issued) is not.
// When the answer cannot be had (the registry cannot be opened because the
// process is out of descriptors before it ever registered), it answers
// "alive": a wait, never a takeover of a live owner.
bool is_alive(OwnerId o) noexcept;
// The same for a compact() tag.
bool is_alive_compact(std::uint32_t tag) noexcept;

// The pid that the owner recorded for itself, in its own pid namespace (for
// messages only; 0 = unknown). Never use it to judge liveness.
std::uint32_t owner_pid(OwnerId o) noexcept;
// "pid 1234" / "an unknown process": for error messages.
std::string describe_owner(OwnerId o);

// The owner id of `child`, a process this process forked (the live
// registered process whose pid is `child`), once it has registered (a forked child
// does so before fork() returns in it). Waits up to `timeout` while the pid
// exists. Returns a dead id (is_alive false) if the child exited before it
// ever registered; throws OwnerRegistryError if no such process exists or it
// did not register within `timeout`.
OwnerId owner_of_child(pid_t child, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The registry file of this effective uid (for diagnostics and tests).
std::string owner_registry_path();

}  // namespace sk::alloc
