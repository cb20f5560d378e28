#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sk/autoreconnect.hpp>

namespace sk {
namespace {

std::mutex g_mu;  // guards the registry against threads of one process
detail::LiveNode g_head;  // sentinel
Autoreconnect g_default;

// Type names of the program's Live<T>s; filled during static initialisation
// (so a function-local static: no order problem with other globals).
struct KnownTypes {
  std::mutex mu;
  std::set<std::string, std::less<>> names;
};
KnownTypes& known_types() {
  static KnownTypes k;
  return k;
}

}  // namespace

void Autoreconnect::check_keys() const {
  KnownTypes& k = known_types();
  std::lock_guard lk(k.mu);
  for (const auto& [type, members] : by_type_) {
    if (k.names.contains(type)) continue;
    std::string known;
    for (const std::string& n : k.names) known += (known.empty() ? "\"" : ", \"") + n + "\"";
    throw AutoreconnectKeyError(
        "autoreconnect: the declaration names the type \"" + type +
        "\", which is no connection type of this program, so its credentials would never be used. The known keys "
        "are the reconnect_traits<T>::type_name of each T held in an sk::Live<T>: " +
        (known.empty() ? std::string("none (this program has no sk::Live<T>)") : known) +
        ". Use one of them (the C++ type name, e.g. \"sk::pg::Connection\" for the original's "
        "\"psycopg2.Connection\")");
  }
}

std::string Secret::resolve() const {
  if (!from_env_) return value_;
  const char* v = std::getenv(value_.c_str());
  if (!v) {
    throw ReconnectError("autoreconnect: environment variable '" + value_ +
                         "' named as the password source is not set in process " + std::to_string(::getpid()) +
                         "; export it before starting the workers, or give the password in the declaration");
  }
  return v;
}

std::optional<std::string> Autoreconnect::password_for(std::string_view type, std::string_view member) const {
  auto t = by_type_.find(type);
  if (t == by_type_.end()) return std::nullopt;
  if (auto m = t->second.find(member); m != t->second.end()) return m->second.resolve();
  if (auto any = t->second.find("*"); any != t->second.end()) return any->second.resolve();
  return std::nullopt;
}

namespace detail {

bool register_type(std::string_view type_name) {
  KnownTypes& k = known_types();
  std::lock_guard lk(k.mu);
  k.names.emplace(type_name);
  return true;
}

void link(LiveNode* n) noexcept {
  std::lock_guard lk(g_mu);
  if (!g_head.next) g_head.next = g_head.prev = &g_head;
  n->next = &g_head;
  n->prev = g_head.prev;
  g_head.prev->next = n;
  g_head.prev = n;
}

void unlink(LiveNode* n) noexcept {
  std::lock_guard lk(g_mu);
  if (n->prev) n->prev->next = n->next;
  if (n->next) n->next->prev = n->prev;
  n->prev = n->next = nullptr;
}

void reconnect_node(LiveNode* n, const Autoreconnect& auth) {
  try {
    n->reconnect_fn(n->self, auth.password_for(n->type_name, n->member));
  } catch (const ReconnectError&) {
    throw;
  } catch (const std::exception& e) {
    throw ReconnectError("autoreconnect: could not reconnect member '" + n->member + "' (" +
                         std::string(n->type_name) + ") in process " + std::to_string(::getpid()) + ": " +
                         e.what() + " -- check the server is reachable and the credentials in the autoreconnect "
                         "declaration");
  }
  n->owner = ::getpid();
}

}  // namespace detail

void set_default_autoreconnect(Autoreconnect auth) {
  auth.check_keys();
  g_default = std::move(auth);
}
const Autoreconnect& default_autoreconnect() noexcept { return g_default; }

std::size_t reconnect_inherited(const Autoreconnect& auth) {
  auth.check_keys();
  std::vector<detail::LiveNode*> todo;
  {
    std::lock_guard lk(g_mu);
    if (!g_head.next) return 0;
    for (auto* n = g_head.next; n != &g_head; n = n->next) {
      if (n->needs_reconnect()) todo.push_back(n);
    }
  }
  for (auto* n : todo) detail::reconnect_node(n, auth);
  return todo.size();
}

}  // namespace sk
