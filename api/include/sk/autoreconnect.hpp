#pragma once
// autoreconnect: live resources (database connections, sockets, files) that
// follow a worker into its forked process. A forked child must never use the
// parent's connection (two processes on one PostgreSQL socket corrupt its
// protocol), so each such resource is replaced in the child by a fresh one,
// opened from the state kept in the parent's object plus credentials that
// come from the autoreconnect declaration -- never from the object, never
// from shared memory.
//
//   sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(params, pw)};
//   config.autoreconnect = sk::Autoreconnect{{"sk::pg::Connection", {{"*", sk::Secret::env("PGPASS")}}}};
//
// A type takes part by specialising sk::reconnect_traits<T> (see below).
#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <sk/core/error.hpp>

namespace sk {

// A reconnect failed. Inside an Skprocess it takes prerun's place and costs a life.
class ReconnectError : public Error {
 public:
  using Error::Error;
};

// An autoreconnect declaration names a type that no sk::Live<T> of this
// program holds (say the Python spelling "psycopg2.Connection"): its
// credentials would silently never be used.
class AutoreconnectKeyError : public ReconnectError {
 public:
  using ReconnectError::ReconnectError;
};

// Where a password comes from: a literal, or an environment variable read in
// the process that reconnects (so the secret never sits in the worker object).
class Secret {
 public:
  Secret() = default;
  Secret(const char* literal) : value_(literal), from_env_(false) {}  // NOLINT: implicit, as in the pitch
  Secret(std::string literal) : value_(std::move(literal)), from_env_(false) {}  // NOLINT
  static Secret env(std::string variable) {
    Secret s;
    s.value_ = std::move(variable);
    s.from_env_ = true;
    return s;
  }
  // The secret's value; throws ReconnectError if the named variable is unset.
  std::string resolve() const;
  bool from_env() const noexcept { return from_env_; }

 private:
  std::string value_;
  bool from_env_ = false;
};

// The declaration: per resource type name, a default secret ("*") and
// per-member overrides, as in the original's
// @autoreconnect(**{"psycopg2.Connection": {"*": "password"}}).
class Autoreconnect {
 public:
  using PerMember = std::map<std::string, Secret, std::less<>>;
  Autoreconnect() = default;
  Autoreconnect(std::initializer_list<std::pair<const std::string, PerMember>> init) : by_type_(init) {}

  bool enabled() const noexcept { return enabled_; }
  // The password for member `member` of type `type`: the member's override,
  // else the type's "*", else nullopt (connect without a password).
  std::optional<std::string> password_for(std::string_view type, std::string_view member) const;
  // Throws AutoreconnectKeyError, listing the known keys, if a key is not the
  // reconnect_traits<T>::type_name of a T that this program uses in an
  // sk::Live<T>. Called by reconnect_inherited, set_default_autoreconnect and
  // Skprocess::start (in the parent, before anything forks).
  void check_keys() const;

 private:
  std::map<std::string, PerMember, std::less<>> by_type_;
  bool enabled_ = true;
};

// Specialise for a resource type T:
//   static constexpr std::string_view type_name = "sk::pg::Connection";
//   static void reconnect(T& inherited, const std::optional<std::string>& password);
//     -- called in the child: release the inherited handle WITHOUT disturbing the
//        parent's (no protocol goodbye on the shared socket), then open a fresh one
//        from the kept state; throw on failure.
//   optional: static bool healthy(const T&);
//     -- false when the resource is known broken (e.g. the server restarted); such a
//        resource is reconnected too, so a retry through lives recovers.
template <class T>
struct reconnect_traits;

template <class T>
concept Reconnectable = requires(T& t, const std::optional<std::string>& pw) {
  { reconnect_traits<T>::type_name } -> std::convertible_to<std::string_view>;
  reconnect_traits<T>::reconnect(t, pw);
};

namespace detail {
// Process-local registry of Live<> holders (intrusive list). Forked children
// inherit it by copy; reconnect_inherited() walks it.
struct LiveNode {
  LiveNode* prev = nullptr;
  LiveNode* next = nullptr;
  pid_t owner = 0;              // process whose handle this is
  std::string member;           // name used for per-member credentials
  std::string_view type_name;
  void* self = nullptr;         // the Live<T> holding this node
  void (*reconnect_fn)(void* self, const std::optional<std::string>&) = nullptr;
  bool (*healthy_fn)(const void* self) = nullptr;  // nullptr: always healthy
  bool needs_reconnect() const noexcept { return owner != ::getpid() || (healthy_fn && !healthy_fn(self)); }
};
// The type names of every sk::Live<T> of the program (registered during
// static initialisation, see Live::kRegistered): the keys a declaration may use.
bool register_type(std::string_view type_name);
void link(LiveNode* n) noexcept;
void unlink(LiveNode* n) noexcept;
void reconnect_node(LiveNode* n, const Autoreconnect& auth);  // wraps failures in ReconnectError
}  // namespace detail

// The declaration used by lazy reconnects (a Live used in a child before any
// eager reconnect): set it once in the parent, children inherit it.
void set_default_autoreconnect(Autoreconnect auth);
const Autoreconnect& default_autoreconnect() noexcept;

// Reconnects every Live<> of this process that was inherited from another
// process (i.e. whose handle belongs to an ancestor), or is known broken. Skprocess calls it in the
// child before prerun when config.autoreconnect is set; Pool workers call it
// before an item runs. Throws ReconnectError naming the member and the cause.
// Returns how many were reconnected.
std::size_t reconnect_inherited(const Autoreconnect& auth);

// A resource that reconnects itself when used from a process other than the
// one that owns it. Copying is not allowed (one handle, one connection).
template <Reconnectable T>
class Live {
 public:
  Live(std::string member, T value) : value_(std::move(value)) {
    static_cast<void>(kRegistered);
    node_.member = std::move(member);
    node_.owner = ::getpid();
    node_.type_name = reconnect_traits<T>::type_name;
    node_.self = this;
    node_.reconnect_fn = &Live::thunk;
    if constexpr (requires(const T& t) { { reconnect_traits<T>::healthy(t) } -> std::convertible_to<bool>; }) {
      node_.healthy_fn = [](const void* self) {
        return static_cast<bool>(reconnect_traits<T>::healthy(static_cast<const Live*>(self)->value_));
      };
    }
    detail::link(&node_);
  }
  Live(const Live&) = delete;
  Live& operator=(const Live&) = delete;
  ~Live() { detail::unlink(&node_); }

  // The resource, reconnected first if this process inherited it (or it is
  // known broken).
  T& get() {
    if (node_.needs_reconnect()) detail::reconnect_node(&node_, default_autoreconnect());
    return value_;
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }
  bool inherited() const noexcept { return node_.owner != ::getpid(); }
  void reconnect(const Autoreconnect& auth) { detail::reconnect_node(&node_, auth); }
  const std::string& member() const noexcept { return node_.member; }

 private:
  // Instantiated with the constructor, so the type is known from program start.
  static inline const bool kRegistered = detail::register_type(reconnect_traits<T>::type_name);
  static void thunk(void* self, const std::optional<std::string>& pw) {
    reconnect_traits<T>::reconnect(static_cast<Live*>(self)->value_, pw);
  }
  detail::LiveNode node_;
  T value_;
};

}  // namespace sk
