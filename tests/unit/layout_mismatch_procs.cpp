// Layout mismatch between real, separately built programs. One source,
// tests/support/layout_program.cpp, is built as sk_layout_v1, v1twin, v2..v7
// with different layouts of the same `struct shop::Orders` (same name, same
// namespace): v2 reorders a member, v3 widens one (int -> long), v4 adds one,
// v5 renames one; v1twin is v1's layout in a program that differs otherwise;
// v6 and v7 hold a Value<Price> whose nested fields differ in order.
// Proved here, for every pair of them:
//   - the same layout opens a named Share created by the other program and
//     reads (and updates) the values that program wrote;
//   - a different layout gets sk::alloc::LayoutMismatch whose message names
//     both layouts (description and hash) and the segment, and nothing was
//     read or written: the creator's values are unchanged afterwards and the
//     mismatched program never attached;
//   - creating a name that a live program of another layout uses is refused.
// And for named Pipes, whose messages carry their type's id (sk::ser
// type_id: the type's name and, for SK_FIELDS types, its field names and
// field types): another message type, or a type of the same name whose fields
// were reordered, widened, added or renamed, is a TypeMismatch naming the
// type (the message stays until dropped), never a misread value; the pipe
// keeps working for the next message.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/object.hpp>
#include <sk/slots/reflect.hpp>
#include <sk/slots/value.hpp>

#include "alloc_fork.hpp"
#include "test_fork.hpp"

#ifndef SK_LAYOUT_PROGRAM_PREFIX
#error "tests/CMakeLists.txt passes SK_LAYOUT_PROGRAM_PREFIX (path of sk_layout_v without the version)"
#endif

using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kVersions = {"1", "1twin", "2", "3", "4", "5"};

std::string program(const std::string& v) { return std::string(SK_LAYOUT_PROGRAM_PREFIX) + v; }
int layout_of(const std::string& v) { return v[0] - '0'; }  // "1twin" has layout 1

// A layout program running with its stdin and stdout (and stderr) on pipes.
struct Program {
  pid_t pid = -1;
  int in = -1;   // its stdin (we write; closing it is "finish")
  int out = -1;  // its stdout + stderr (we read)
  std::string output;

  Program(const std::string& v, const std::vector<std::string>& args) {
    int i[2], o[2];
    if (::pipe2(i, O_CLOEXEC) != 0 || ::pipe2(o, O_CLOEXEC) != 0) return;
    const std::string path = program(v);
    std::vector<std::string> all{path};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid = sktest::fork();
    if (pid == 0) {
      ::dup2(i[0], 0);
      ::dup2(o[1], 1);
      ::dup2(o[1], 2);
      ::execv(path.c_str(), argv.data());
      std::fprintf(stderr, "cannot exec %s: %s\n", path.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::close(i[0]);
    ::close(o[1]);
    in = i[1];
    out = o[0];
  }
  ~Program() { (void)finish(); }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Reads until `text` has appeared in the output, EOF, or 10 s. True if it appeared.
  bool wait_for(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (output.find(text) == std::string::npos) {
      if (out < 0) return false;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{out, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) return false;
      char buf[4096];
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(out);
        out = -1;
        return output.find(text) != std::string::npos;
      }
      output.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Closes its stdin, reads the rest of its output, reaps it: its exit code
  // (128 + signal if killed; -1 if it hung for 10 s and was killed).
  int finish() {
    if (pid < 0) return -3;
    if (in >= 0) ::close(in);
    in = -1;
    (void)wait_for(std::string(1, '\0'));  // to EOF (or 10 s)
    if (out >= 0) ::close(out);
    out = -1;
    const int rc = alloctest::reap(pid, 10s);
    pid = -1;
    return rc;
  }
};

struct Result {
  int rc;
  std::string output;
};

Result run(const std::string& v, const std::vector<std::string>& args) {
  Program p(v, args);
  const int rc = p.finish();
  return {rc, p.output};
}

struct LayoutInfo {
  std::string hash;         // "0x..." as the LayoutMismatch message prints it
  std::string description;  // "Orders{count: Atomic sk::Atomic<int> @0+4/4; ...} size 16 align 8"
};

// What each program says its layout is.
std::map<std::string, LayoutInfo> layouts() {
  std::map<std::string, LayoutInfo> out;
  for (const std::string& v : kVersions) {
    const Result r = run(v, {"layout"});
    EXPECT_EQ(r.rc, 0) << v << ": " << r.output;
    // "layout 0x<16 hex> <description>\n"
    const std::string line = r.output.substr(0, r.output.find('\n'));
    if (line.rfind("layout 0x", 0) != 0 || line.size() < 27) {
      ADD_FAILURE() << v << " printed " << r.output;
      continue;
    }
    out[v] = LayoutInfo{line.substr(7, 18), line.substr(26)};
  }
  return out;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }


}  // namespace

TEST(LayoutMismatch, procs_every_layout_differs_and_describes_itself) {
  const auto ls = layouts();
  ASSERT_EQ(ls.size(), kVersions.size());
  EXPECT_EQ(ls.at("1").hash, ls.at("1twin").hash);
  EXPECT_EQ(ls.at("1").description, ls.at("1twin").description);
  std::set<std::string> hashes;
  for (const auto& [v, l] : ls) {
    EXPECT_TRUE(l.description.rfind("Orders{", 0) == 0) << v << ": " << l.description;
    if (v != "1twin") hashes.insert(l.hash);
  }
  EXPECT_EQ(hashes.size(), 5u) << "layouts 1..5 must all hash differently";
  EXPECT_TRUE(has(ls.at("2").description, "filled: Atomic sk::Atomic<int> @0+4/4")) << ls.at("2").description;
  EXPECT_TRUE(has(ls.at("3").description, "count: Atomic sk::Atomic<long int> @0+8/8")) << ls.at("3").description;
  EXPECT_TRUE(has(ls.at("4").description, "cancelled: Atomic")) << ls.at("4").description;
  EXPECT_TRUE(has(ls.at("5").description, "placed: Atomic sk::Atomic<int> @0+4/4")) << ls.at("5").description;
}

// Each program creates a named Share and serves it; every program (each
// layout) then opens it by name.
TEST(LayoutMismatch, procs_1creator_6openers_each_pair_of_layouts) {
  const auto ls = layouts();
  ASSERT_EQ(ls.size(), kVersions.size());
  for (const std::string& s : kVersions) {
    SCOPED_TRACE("created by sk_layout_v" + s);
    const std::string name = "lm-" + std::to_string(::getpid()) + "-v" + s;
    const std::string path = sk::alloc::Arena::path_for(name);
    Program server(s, {"serve", name, "7", "3", "1234567890123"});
    ASSERT_TRUE(server.wait_for("ready\n")) << server.output;

    int matching = 0;
    bool tried_create = false;
    for (const std::string& r : kVersions) {
      SCOPED_TRACE("opened by sk_layout_v" + r);
      if (layout_of(r) == layout_of(s)) {
        // Reads what the other program wrote, and can update it.
        const Result rd = run(r, {"read", name});
        EXPECT_EQ(rd.rc, 0) << rd.output;
        EXPECT_EQ(rd.output, "values " + std::to_string(7 + matching) + " 3 1234567890123\n");
        const Result add = run(r, {"add", name});
        EXPECT_EQ(add.rc, 0) << add.output;
        ++matching;
        EXPECT_EQ(add.output, "values " + std::to_string(7 + matching) + " 3 1234567890123\n");
        continue;
      }
      // "add" would write if it got past open: it must not.
      const Result add = run(r, {"add", name});
      EXPECT_EQ(add.rc, 10) << "expected LayoutMismatch (exit 10), got: " << add.output;
      EXPECT_TRUE(add.output.rfind("LayoutMismatch: ", 0) == 0) << add.output;
      EXPECT_FALSE(has(add.output, "values")) << add.output;
      for (const std::string& part : {path, ls.at(s).description, ls.at(s).hash, ls.at(r).description,
                                      ls.at(r).hash, std::string("rebuild both programs")})
        EXPECT_TRUE(has(add.output, part)) << "message lacks '" << part << "': " << add.output;
      // Another layout cannot take the name over while the creator lives
      // (once per creator: this does not depend on the layout pair).
      if (!tried_create) {
        tried_create = true;
        const Result cr = run(r, {"create", name});
        EXPECT_EQ(cr.rc, 12) << "expected SegmentError (exit 12), got: " << cr.output;
        EXPECT_TRUE(has(cr.output, "already exists and is in use")) << cr.output;
      }
    }
    EXPECT_EQ(matching, layout_of(s) == 1 ? 2 : 1);
    // The creator's values: changed only by the programs of its own layout;
    // only the creator is attached (the mismatched programs never were).
    EXPECT_EQ(server.finish(), 0) << server.output;
    EXPECT_TRUE(has(server.output, "values " + std::to_string(7 + matching) + " 3 1234567890123\nattached 1\n"))
        << server.output;
    EXPECT_FALSE(sk::alloc::Arena::exists(name));
    sk::alloc::Arena::unlink(name);
  }
}

// A member whose type is a user struct: a Value<Price> where the programs'
// Price (same name, same size, with SK_FIELDS) lists its fields in another
// order. The Share layout hash covers the nested fields, so this is a
// LayoutMismatch, not swapped values.
TEST(LayoutMismatch, procs_1creator_1opener_nested_struct_fields_reordered) {
  const Result l6 = run("6", {"layout"});
  const Result l7 = run("7", {"layout"});
  ASSERT_EQ(l6.rc, 0) << l6.output;
  ASSERT_EQ(l7.rc, 0) << l7.output;
  EXPECT_NE(l6.output.substr(0, 25), l7.output.substr(0, 25)) << "the hashes must differ";
  for (const auto& [s, r] : {std::pair<std::string, std::string>{"6", "7"}, {"7", "6"}}) {
    SCOPED_TRACE("created by sk_layout_v" + s + ", opened by sk_layout_v" + r);
    const std::string name = "lm-" + std::to_string(::getpid()) + "-nested";
    Program server(s, {"serve", name, "7", "3", "1234567890123"});
    ASSERT_TRUE(server.wait_for("ready\n")) << server.output;
    const Result same = run(s, {"read", name});
    EXPECT_EQ(same.rc, 0) << same.output;
    EXPECT_EQ(same.output, "values 7 3 1234567890123\nlast qty 2 cents 995\n");
    const Result other = run(r, {"add", name});
    EXPECT_EQ(other.rc, 10) << "expected LayoutMismatch (exit 10), got: " << other.output;
    EXPECT_FALSE(has(other.output, "values")) << other.output;
    EXPECT_TRUE(has(other.output, "last: Value sk::Value<shop::Price>")) << other.output;
    EXPECT_EQ(server.finish(), 0) << server.output;
    EXPECT_TRUE(has(server.output, "values 7 3 1234567890123\nlast qty 2 cents 995\nattached 1\n")) << server.output;
    sk::alloc::Arena::unlink(name);
  }
}

// Named Pipes check each message's type id (name and SK_FIELDS signature) and exact length.
TEST(LayoutMismatch, procs_1receiver_1sender_pipe_message_types) {
  struct Case {
    std::string sender;
    std::string command;
    std::vector<std::string> expect;  // in the receiver's output
  };
  const Case cases[] = {
      {"1", "pipe-send", {"msg 7 3 1234567890123\n"}},
      {"1twin", "pipe-send", {"msg 7 3 1234567890123\n"}},
      // Same type name, other fields: the type id covers SK_FIELDS' names and
      // field types, so these are TypeMismatch (before that fix, v2's swapped
      // fields were read as "msg 3 7 ..." and v5's rename went unnoticed).
      {"2", "pipe-send", {"TypeMismatch: ", "shop::OrderMsg"}},  // fields reordered
      {"3", "pipe-send", {"TypeMismatch: ", "shop::OrderMsg"}},  // count widened
      {"4", "pipe-send", {"TypeMismatch: ", "shop::OrderMsg"}},  // a field added
      {"5", "pipe-send", {"TypeMismatch: ", "shop::OrderMsg"}},  // a field renamed
      {"1", "pipe-send-other", {"TypeMismatch: ", "shop::OrderMsg", "shop::Refund"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("sk_layout_v" + c.sender + " " + c.command + " to sk_layout_v1");
    const std::string name = "lm-" + std::to_string(::getpid()) + "-pipe";
    Program receiver("1", {"pipe-serve", name});
    ASSERT_TRUE(receiver.wait_for("ready\n")) << receiver.output;
    const Result sent = run(c.sender, {c.command, name});
    EXPECT_EQ(sent.rc, 0) << sent.output;
    ASSERT_TRUE(receiver.wait_for("then ")) << receiver.output;
    EXPECT_EQ(receiver.finish(), 0) << receiver.output;
    for (const std::string& part : c.expect) EXPECT_TRUE(has(receiver.output, part)) << receiver.output;
    if (c.expect.size() > 1) {
      EXPECT_FALSE(has(receiver.output, "msg ")) << "a mismatched message was read: " << receiver.output;
    }
    EXPECT_TRUE(has(receiver.output, "then end\n")) << "the pipe must keep working: " << receiver.output;
    sk::alloc::Arena::unlink(name);
  }
}

// ---- the type id behind the Pipe cases, within one program ---------------------------

namespace sig {
struct P1 {
  int x = 0;
  int y = 0;
  SK_FIELDS(x, y)
};
struct P1Spaced {  // the same fields, written differently
  int x = 0;
  int y = 0;
  SK_FIELDS( x ,y )
};
struct P2Reordered {
  int y = 0;
  int x = 0;
  SK_FIELDS(y, x)
};
struct P3Widened {
  long x = 0;
  int y = 0;
  SK_FIELDS(x, y)
};
struct P4Added {
  int x = 0;
  int y = 0;
  int z = 0;
  SK_FIELDS(x, y, z)
};
struct P5Renamed {
  int x = 0;
  int w = 0;
  SK_FIELDS(x, w)
};
struct Outer1 {
  P1 p;
  SK_FIELDS(p)
};
struct Outer2 {
  P2Reordered p;
  SK_FIELDS(p)
};
class Private {
  int a_ = 0;
  SK_FIELDS(a_)  // private section
};
}  // namespace sig

TEST(LayoutMismatch, unit_ser_type_id_covers_sk_fields_names_and_types) {
  using sk::ser::detail::FieldsAccess;
  constexpr auto s1 = FieldsAccess::signature<sig::P1>();
  EXPECT_NE(s1, 0u);
  EXPECT_EQ(FieldsAccess::signature<sig::P1Spaced>(), s1);
  EXPECT_NE(FieldsAccess::signature<sig::P2Reordered>(), s1);
  EXPECT_NE(FieldsAccess::signature<sig::P3Widened>(), s1);
  EXPECT_NE(FieldsAccess::signature<sig::P4Added>(), s1);
  EXPECT_NE(FieldsAccess::signature<sig::P5Renamed>(), s1);
  // A nested SK_FIELDS type's fields count too (Outer's own fields are both "p").
  EXPECT_NE(FieldsAccess::signature<sig::Outer1>(), FieldsAccess::signature<sig::Outer2>());
  EXPECT_NE(FieldsAccess::signature<sig::Private>(), 0u);
  // Types without SK_FIELDS keep the plain name hash.
  EXPECT_EQ(FieldsAccess::signature<int>(), 0u);
  EXPECT_EQ(sk::ser::type_id<int>(), sk::core::fnv1a("int"));
  EXPECT_NE(sk::ser::type_id<sig::P1>(), sk::core::fnv1a(sk::ser::type_name<sig::P1>()));
  // Share slots that hold a T fold T's signature into the Share's layout hash.
  EXPECT_EQ(sk::slots::inner_layout_hash<sk::Value<sig::P1>>(), s1);
  EXPECT_EQ(sk::slots::inner_layout_hash<sk::List<sig::P1>>(), s1);
  EXPECT_EQ(sk::slots::inner_layout_hash<sk::Object<sig::P1>>(), s1);
  EXPECT_EQ(sk::slots::inner_layout_hash<sk::Value<long>>(), 0u);
  // Decoding a frame of another field list is a TypeMismatch, not a misread.
  const auto frame = sk::ser::encode(sig::P1{7, 3});
  EXPECT_EQ(sk::ser::decode<sig::P1>(frame).x, 7);
  EXPECT_THROW((void)sk::ser::decode<sig::P2Reordered>(frame), sk::TypeMismatch);
}
