#pragma once
// Compile-time reflection for Share schemas and for the fields and methods of
// user classes kept in a Share through sk::Shared<U>.
//
//   struct State { sk::Atomic<long> counter; sk::Value<Config> config; };
//   SK_SHARE(State, counter, config)          // after the struct, in its namespace
//
//   class Account {
//    public:
//     void deposit(long v) { balance += v; history[n++ % 8] = v; }
//     long get() const { return balance; }
//    private:
//     long balance = 0; std::array<long, 8> history{}; int n = 0;
//     SK_SHARED_FIELDS(Account, balance, history, n)   // inside the class (may name private fields)
//   };
//   SK_SHARED_METHOD(Account, deposit, writes(balance, history, n), reads(n))  // after it
//   SK_SHARED_METHOD(Account, get, reads(balance))
//
// SK_SHARE gives, at compile time, every member's name, slot kind
// (`Slot::kind`), C++ type name, size, alignment and offset; checks that the
// list covers every member of the struct (no gaps); and folds all of it into
// an FNV-1a layout hash that the arena header stores, so that a program
// opening a named Share with another schema gets a LayoutMismatch instead of
// reading garbage.
//
// All three macros define functions found by argument-dependent lookup, so
// SK_SHARE and SK_SHARED_METHOD must be written in the namespace of the type
// (not inside another namespace), SK_SHARED_FIELDS inside the class body.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <sk/core/type_name.hpp>

namespace sk::slots {

// ---- small compile-time tools ----------------------------------------------

namespace detail {

template <class T>
struct Tag {};  // carries T into ADL lookups of the reflection functions

// The one FNV-1a (sk/core/type_name.hpp), also behind sk::ser::type_id.
using core::fnv1a;
using core::fnv1a_u64;

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// "a, b, c" -> 3 (the stringized argument list of a macro).
constexpr std::size_t count_names(std::string_view list) noexcept {
  if (trim(list).empty()) return 0;
  return static_cast<std::size_t>(std::count(list.begin(), list.end(), ',')) + 1;
}

template <std::size_t N>
constexpr std::array<std::string_view, N> split_names(std::string_view list) noexcept {
  std::array<std::string_view, N> out{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const std::size_t comma = list.find(',', pos);
    out[i] = trim(list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace detail

// Readable C++ type name, from the compiler's function signature (GCC and
// Clang spelling; two programs built by different compilers may spell a type
// differently and then see a layout mismatch).
using core::type_name;

// ---- slots -------------------------------------------------------------------

// What every Share member type provides (see docs/share.md).
template <class S>
concept Slot = requires(const S& s) {
  { S::kind } -> std::convertible_to<std::string_view>;
  { s.describe_value() } -> std::convertible_to<std::string>;
};

// A slot whose layout depends on more than its own size and type name (e.g.
// Shared<U>, whose fields are listed by SK_SHARED_FIELDS) can add
// `static constexpr std::uint64_t layout_hash() noexcept`; it is folded in.
template <class S>
constexpr std::uint64_t inner_layout_hash() noexcept {
  if constexpr (requires { S::layout_hash(); }) {
    return S::layout_hash();
  } else {
    return 0;
  }
}

// One member of a Share schema.
struct MemberInfo {
  std::string_view name;
  std::string_view kind;  // Slot::kind
  std::string_view type;  // C++ type name
  std::size_t size = 0;
  std::size_t align = 0;
  std::size_t offset = 0;
  std::uint64_t inner_hash = 0;
  std::string (*describe)(const void* state) = nullptr;  // value of this member of *state
};

// Every member of a schema, in listing order.
template <std::size_t N>
struct Members {
  std::string_view state_name;
  std::size_t state_size = 0;
  std::size_t state_align = 0;
  std::array<MemberInfo, N> members{};

  static constexpr std::size_t size() noexcept { return N; }

  // Members sorted by offset (declaration order).
  constexpr std::array<MemberInfo, N> by_offset() const noexcept {
    auto out = members;
    std::sort(out.begin(), out.end(), [](const MemberInfo& a, const MemberInfo& b) { return a.offset < b.offset; });
    return out;
  }
  // True if the listed members cover the struct with no hole larger than
  // alignment padding (a member missing from SK_SHARE leaves a hole).
  constexpr bool covers_struct() const noexcept {
    const auto sorted = by_offset();
    std::size_t end = 0;
    for (const MemberInfo& m : sorted) {
      const std::size_t aligned = (end + m.align - 1) / m.align * m.align;
      if (m.offset != aligned) return false;
      end = m.offset + m.size;
    }
    const std::size_t total = (end + state_align - 1) / state_align * state_align;
    return total == state_size || (N == 0 && state_size == 1);
  }
  constexpr bool names_unique() const noexcept {
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = i + 1; j < N; ++j)
        if (members[i].name == members[j].name) return false;
    return true;
  }
  // FNV-1a over the format tag, the struct's size and alignment, and every
  // member's name, kind, type, size, alignment, offset and inner hash, in
  // declaration order. (The struct's own name is not part of it: two
  // programs may call the same layout by different names.)
  constexpr std::uint64_t layout_hash() const noexcept {
    std::uint64_t h = detail::fnv1a("sk.share.layout.v1");
    h = detail::fnv1a_u64(state_size, h);
    h = detail::fnv1a_u64(state_align, h);
    for (const MemberInfo& m : by_offset()) {
      h = detail::fnv1a(m.name, h);
      h = detail::fnv1a(":", h);
      h = detail::fnv1a(m.kind, h);
      h = detail::fnv1a(":", h);
      h = detail::fnv1a(m.type, h);
      h = detail::fnv1a_u64(m.size, h);
      h = detail::fnv1a_u64(m.align, h);
      h = detail::fnv1a_u64(m.offset, h);
      h = detail::fnv1a_u64(m.inner_hash, h);
    }
    return h == 0 ? 1 : h;  // 0 means "unchecked" to the arena
  }
  // "State{counter: Atomic sk::Atomic<long int> @0+8/8; ...} size 8 align 8"
  std::string description() const {
    std::string out(state_name);
    out += '{';
    bool first = true;
    for (const MemberInfo& m : by_offset()) {
      if (!first) out += "; ";
      first = false;
      out += m.name;
      out += ": ";
      out += m.kind;
      out += ' ';
      out += m.type;
      out += " @" + std::to_string(m.offset) + '+' + std::to_string(m.size) + '/' + std::to_string(m.align);
    }
    out += "} size " + std::to_string(state_size) + " align " + std::to_string(state_align);
    return out;
  }
};

namespace detail {

template <class M, std::size_t Off>
std::string describe_member(const void* state) {
  return reinterpret_cast<const M*>(static_cast<const std::byte*>(state) + Off)->describe_value();
}

template <class State, class M, std::size_t Off>
constexpr MemberInfo member_info() noexcept {
  static_assert(Slot<M>,
                "every member listed in SK_SHARE must be a Share slot type (sk::Atomic, sk::Counter, sk::Value, "
                "sk::Object, sk::List, sk::Log, sk::Shared, ...): it needs `static constexpr std::string_view "
                "kind` and `std::string describe_value() const`");
  return MemberInfo{{}, M::kind, type_name<M>(), sizeof(M), alignof(M), Off, inner_layout_hash<M>(),
                    &describe_member<M, Off>};
}

template <class State, class... Infos>
constexpr auto make_members(std::string_view state_name, std::string_view list, Infos... infos) noexcept {
  static_assert(std::is_standard_layout_v<State>,
                "a Share schema must be a standard-layout struct (all members public slots, no virtual "
                "functions, no base classes with members)");
  constexpr std::size_t n = sizeof...(Infos);
  Members<n> out{state_name, sizeof(State), alignof(State), {infos...}};
  const auto names = split_names<n>(list);
  for (std::size_t i = 0; i < n; ++i) out.members[i].name = names[i];
  return out;
}

}  // namespace detail

// A type with SK_SHARE(...) written after it.
template <class State>
concept ShareSchema = requires { sk_share_members(detail::Tag<State>{}); };

template <ShareSchema State>
inline constexpr auto members_of = sk_share_members(detail::Tag<State>{});

template <ShareSchema State>
constexpr std::uint64_t layout_hash() noexcept {
  return members_of<State>.layout_hash();
}

template <ShareSchema State>
std::string layout_description() {
  return members_of<State>.description();
}

// ---- fields and methods of user classes (for sk::Shared<U>) -----------------

// Read/write field sets of one method, as bit masks over the field indices of
// SK_SHARED_FIELDS (so a class may share at most 64 fields).
struct MethodAccess {
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
};

namespace detail {

// The member pointers of SK_SHARED_FIELDS, and their names.
template <class... Ptrs>
struct FieldList {
  constexpr explicit FieldList(std::string_view l, Ptrs... p) noexcept : list(l), ptrs(p...) {}

  std::string_view list;  // "balance, history"
  std::tuple<Ptrs...> ptrs;

  static constexpr std::size_t size() noexcept { return sizeof...(Ptrs); }
  constexpr std::array<std::string_view, sizeof...(Ptrs)> names() const noexcept {
    return split_names<sizeof...(Ptrs)>(list);
  }
};
template <class... Ptrs>
FieldList(std::string_view, Ptrs...) -> FieldList<Ptrs...>;

template <class U, auto Method>
struct MethodTag {};  // U brings U's namespace into ADL

struct Clause {
  bool writes = false;
  std::string_view list;
};

// Maps a clause's field names onto bits. Not a constant expression (so a
// compile error at the SK_SHARED_METHOD line) when a name is not a field.
template <std::size_t N>
constexpr std::uint64_t mask_of(const std::array<std::string_view, N>& fields, std::string_view list) {
  std::uint64_t mask = 0;
  std::size_t pos = 0;
  if (trim(list).empty()) return 0;
  for (;;) {
    const std::size_t comma = list.find(',', pos);
    const std::string_view name =
        trim(list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    std::size_t i = 0;
    while (i < N && fields[i] != name) ++i;
    if (i == N) throw "SK_SHARED_METHOD names a field that SK_SHARED_FIELDS does not list";
    mask |= std::uint64_t{1} << i;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return mask;
}

template <class U>
constexpr MethodAccess method_access(std::initializer_list<Clause> clauses) {
  constexpr auto fields = sk_shared_fields(Tag<U>{}).names();
  MethodAccess a;
  for (const Clause& c : clauses) (c.writes ? a.writes : a.reads) |= mask_of(fields, c.list);
  return a;
}

}  // namespace detail

// A class with SK_SHARED_FIELDS(...) in its body.
template <class U>
concept SharedFields = requires { sk_shared_fields(detail::Tag<U>{}); };

template <SharedFields U>
inline constexpr auto fields_of = sk_shared_fields(detail::Tag<U>{});

// A method declared with SK_SHARED_METHOD.
template <class U, auto Method>
concept SharedMethod = requires { sk_shared_method(detail::MethodTag<U, Method>{}); };

template <class U, auto Method>
  requires SharedMethod<U, Method>
inline constexpr MethodAccess method_access_of = sk_shared_method(detail::MethodTag<U, Method>{});

}  // namespace sk::slots

// ---- preprocessor: FOR_EACH over __VA_ARGS__ (up to 256 arguments) ---------
#define SK_SLOTS_PP_PARENS ()
#define SK_SLOTS_PP_EXPAND(...) SK_SLOTS_PP_EXPAND3(SK_SLOTS_PP_EXPAND3(SK_SLOTS_PP_EXPAND3(__VA_ARGS__)))
#define SK_SLOTS_PP_EXPAND3(...) SK_SLOTS_PP_EXPAND2(SK_SLOTS_PP_EXPAND2(SK_SLOTS_PP_EXPAND2(__VA_ARGS__)))
#define SK_SLOTS_PP_EXPAND2(...) SK_SLOTS_PP_EXPAND1(SK_SLOTS_PP_EXPAND1(SK_SLOTS_PP_EXPAND1(__VA_ARGS__)))
#define SK_SLOTS_PP_EXPAND1(...) __VA_ARGS__
#define SK_SLOTS_PP_FOR_EACH(macro, ctx, ...) \
  __VA_OPT__(SK_SLOTS_PP_EXPAND(SK_SLOTS_PP_FOR_EACH_STEP(macro, ctx, __VA_ARGS__)))
#define SK_SLOTS_PP_FOR_EACH_STEP(macro, ctx, first, ...) \
  macro(ctx, first) __VA_OPT__(SK_SLOTS_PP_FOR_EACH_AGAIN SK_SLOTS_PP_PARENS(macro, ctx, __VA_ARGS__))
#define SK_SLOTS_PP_FOR_EACH_AGAIN() SK_SLOTS_PP_FOR_EACH_STEP

// ---- SK_SHARE(State, member...) ---------------------------------------------
#define SK_SHARE_DETAIL_MEMBER(State, m) \
  , ::sk::slots::detail::member_info<State, decltype(State::m), offsetof(State, m)>()
#define SK_SHARE(State, ...)                                                                              \
  [[maybe_unused]] inline constexpr auto sk_share_members(::sk::slots::detail::Tag<State>) noexcept {      \
    return ::sk::slots::detail::make_members<State>(                                                      \
        #State, #__VA_ARGS__ SK_SLOTS_PP_FOR_EACH(SK_SHARE_DETAIL_MEMBER, State, __VA_ARGS__));            \
  }                                                                                                       \
  static_assert(sk_share_members(::sk::slots::detail::Tag<State>{}).covers_struct(),                     \
                "SK_SHARE(" #State ", ...) must list every member of " #State);                           \
  static_assert(sk_share_members(::sk::slots::detail::Tag<State>{}).names_unique(),                      \
                "SK_SHARE(" #State ", ...) lists a member twice")

// ---- SK_SHARED_FIELDS(U, field...) (inside the class body) ------------------
#define SK_SHARED_DETAIL_FIELD(U, f) , &U::f
#define SK_SHARED_FIELDS(U, ...)                                                                        \
  friend constexpr auto sk_shared_fields(::sk::slots::detail::Tag<U>) noexcept {                       \
    return ::sk::slots::detail::FieldList{#__VA_ARGS__ SK_SLOTS_PP_FOR_EACH(SK_SHARED_DETAIL_FIELD, U, \
                                                                            __VA_ARGS__)};             \
  }                                                                                                    \
  static_assert(true, "SK_SHARED_FIELDS")

// ---- SK_SHARED_METHOD(U, method, writes(f...), reads(f...)) (after the class) ----
#define SK_SHARED_DETAIL_CLAUSE(ctx, clause) SK_SHARED_DETAIL_CLAUSE_##clause,
#define SK_SHARED_DETAIL_CLAUSE_writes(...) ::sk::slots::detail::Clause{true, #__VA_ARGS__}
#define SK_SHARED_DETAIL_CLAUSE_reads(...) ::sk::slots::detail::Clause{false, #__VA_ARGS__}
#define SK_SHARED_METHOD(U, method, ...)                                                                \
  [[maybe_unused]] inline constexpr ::sk::slots::MethodAccess sk_shared_method(                         \
      ::sk::slots::detail::MethodTag<U, &U::method>) noexcept {                                         \
    return ::sk::slots::detail::method_access<U>(                                                       \
        {SK_SLOTS_PP_FOR_EACH(SK_SHARED_DETAIL_CLAUSE, _, __VA_ARGS__)});                               \
  }                                                                                                     \
  static_assert(sk_shared_method(::sk::slots::detail::MethodTag<U, &U::method>{}).writes != ~0ull,      \
                "SK_SHARED_METHOD(" #U ", " #method ", ...) names a field missing from SK_SHARED_FIELDS")
