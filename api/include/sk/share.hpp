#pragma once
// sk::Share<State>: a struct of slots living in a shared-memory arena, used
// from every process like a plain struct. No coordinator process: every slot
// is updated in place with atomic instructions or under its own seqlock.
//
//   struct State {
//     sk::Atomic<long>  counter;
//     sk::Counter<long> hits;
//     sk::Value<Config> config;
//   };
//   SK_SHARE(State, counter, hits, config);
//
//   sk::Share<State> share;                 // anonymous arena (16 MiB), inherited by fork()
//   share->counter += 1;                    // from any process forked after this line
//   std::cout << share.describe();          // every member: name, kind, C++ type, value
//
//   auto named = sk::Share<State>::create("orders");   // for unrelated programs
//   auto again = sk::Share<State>::open("orders");     // layout checked (LayoutMismatch)
//
// A Share is a handle: copying it is cheap (a reference count), copies refer
// to the same State, and copies held by forked children stay valid (the
// mapping is inherited at the same address). Pass it by value to Skprocess
// constructors and Pool callables.
//
// Lifetime. Anonymous shares: State's destructor runs once, when the last
// handle in the creating process goes away (handles in forked children never
// run it); the mapping goes with it. Keep the creator's handle alive until
// the processes that use the Share have exited (Skprocess::wait / Pool do).
// Named shares: the State lives in /dev/shm as long as the segment does, so
// other programs may still be attached when the creator exits; its destructor
// is never run automatically (slots hold only arena memory, so nothing leaks
// outside the segment). Remove the name with Share::unlink(name); the
// segment's memory is freed when the last process unmaps it.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/errors.hpp>
#include <unistd.h>

#include <sk/alloc/owner.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/reflect.hpp>

namespace sk {

template <class State>
class Share {
  static_assert(slots::ShareSchema<State>,
                "sk::Share<State>: State has no SK_SHARE line. Write SK_SHARE(State, member, ...) after the struct, "
                "in its namespace, listing every member (it gives the names and the layout that shared memory needs)");

 public:
  static constexpr std::size_t kDefaultCapacity = std::size_t{16} << 20;  // 16 MiB

  // A new anonymous arena of `capacity` bytes with a default-constructed
  // State in it. Throws sk::alloc::ArenaFull if State does not fit.
  Share() : Share(kDefaultCapacity) {}
  explicit Share(std::size_t capacity)
      : ctl_(std::make_shared<Control>(alloc::Arena::create_anonymous(capacity, layout(), &construct), true)) {}

  // A new named arena (/dev/shm) that unrelated programs can open. Throws
  // sk::alloc::SegmentError if the name is in use by a live program.
  static Share create(std::string_view name, std::size_t capacity = kDefaultCapacity) {
    return Share(std::make_shared<Control>(alloc::Arena::create(name, capacity, layout(), &construct), false));
  }
  // Attaches to a named Share created by another program (or process).
  // Throws sk::alloc::LayoutMismatch (naming both layouts) if it was created
  // with another State, sk::alloc::SegmentError if there is none.
  static Share open(std::string_view name, std::chrono::milliseconds init_timeout = std::chrono::seconds(5)) {
    alloc::Arena arena = open_arena(name, init_timeout);
    const alloc::Offset root = arena.root();
    if (root == alloc::kNullOffset)
      throw alloc::BadSegment("segment '" + std::string(name) +
                              "' holds no Share state (it was not created by sk::Share<...>::create); "
                              "open it with the matching type or recreate it");
    const auto corrupt_root = [&](const std::string& what) {
      return alloc::BadSegment("segment '" + std::string(name) + "' has a corrupt header: its root offset " +
                               std::to_string(root) + what + "; unlink it and create it again");
    };
    if (!arena.view().contains(root, sizeof(Root)) || root % alignof(Root) != 0)
      throw corrupt_root(" is misaligned or leaves no room for the " + std::to_string(sizeof(Root)) +
                         "-byte Share state inside its " + std::to_string(arena.capacity()) + " bytes");
    if (arena.template ptr<const Root>(root)->seal != seal_for(root))
      throw corrupt_root(" does not point at the Share state (the seal word there does not match)");
    return Share(std::make_shared<Control>(std::move(arena), false));
  }
  // Removes a named Share's name; attached processes keep their mapping.
  static void unlink(std::string_view name) { alloc::Arena::unlink(name); }

  State* operator->() const noexcept { return ctl_->state; }
  State& operator*() const noexcept { return *ctl_->state; }
  State* get() const noexcept { return ctl_->state; }

  // The arena handle (allocate from it, check used()/capacity()).
  alloc::Arena& arena() const noexcept { return ctl_->arena; }
  const std::string& name() const noexcept { return ctl_->arena.name(); }

  // One line per member: "  counter: Atomic sk::Atomic<long int> = 20".
  std::string describe() const {
    const auto& ms = slots::members_of<State>;
    std::string out = "Share<" + std::string(ms.state_name) + ">";
    out += name().empty() ? std::string(" (anonymous") : " ('" + name() + "'";
    out += ", " + std::to_string(arena().used()) + " of " + std::to_string(arena().capacity()) + " bytes used)\n";
    for (const slots::MemberInfo& m : ms.by_offset()) {
      out += "  ";
      out += m.name;
      out += ": ";
      out += m.kind;
      out += ' ';
      out += m.type;
      out += " = ";
      out += m.describe(static_cast<const void*>(ctl_->state));
      out += '\n';
    }
    return out;
  }

  static constexpr std::uint64_t layout_hash() noexcept { return slots::layout_hash<State>(); }
  static alloc::Layout layout() { return alloc::Layout{layout_hash(), slots::layout_description<State>()}; }

 private:
  struct Control {
    Control(alloc::Arena a, bool owns_state)
        : arena(std::move(a)), state(&arena.template ptr<Root>(arena.root())->state),
          creator_pid(static_cast<std::uint32_t>(::getpid())), owns(owns_state) {}
    ~Control() {
      // Only the creating process destroys State; a forked child's last
      // handle just drops its reference to the mapping.
      if (owns && static_cast<std::uint32_t>(::getpid()) == creator_pid) arena.template destroy_object<Root>(arena.root());
    }
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    alloc::Arena arena;
    State* state;
    std::uint32_t creator_pid;
    bool owns;
  };

  explicit Share(std::shared_ptr<Control> ctl) noexcept : ctl_(std::move(ctl)) {}

  // Arena::open, with a missing segment reported in this API's words: the
  // user called Share<State>::open, so the fix is Share<State>::create.
  static alloc::Arena open_arena(std::string_view name, std::chrono::milliseconds init_timeout) {
    try {
      return alloc::Arena::open(name, layout(), init_timeout);
    } catch (const alloc::SegmentNotFound& e) {
      const std::string call = "sk::Share<" + std::string(slots::members_of<State>.state_name) + ">::";
      const std::string quoted = "(\"" + std::string(name) + "\")";
      throw e.for_api(call + "open" + quoted, call + "create" + quoted);
    }
  }

  // Arena init: State built inside a ConstructionScope (create_object), so
  // slots can record their own offsets, then published as the arena root.
  static void construct(alloc::Arena& a) {
    const alloc::Offset off = a.template create_object<Root>();
    a.template ptr<Root>(off)->seal = seal_for(off);
    a.set_root(off);
  }

  // The root block: a seal word that names its own offset and the layout,
  // then State. open() checks the seal, so a damaged root offset that still
  // points inside the arena (at a List chunk, say) is refused instead of
  // being read as State, whose slots would then compute a wrong arena base.
  struct Root {
    std::uint64_t seal = 0;
    State state;
  };
  static constexpr std::uint64_t seal_for(alloc::Offset off) noexcept {
    return (layout_hash() ^ 0x5348415245524f4fULL /* "SHAREROO" */) + off * 0x9E3779B97F4A7C15ULL;
  }

  std::shared_ptr<Control> ctl_;
};

}  // namespace sk
