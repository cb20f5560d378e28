// String literals and const char* sent through Skprocess::tell and Pipe send
// travel as std::string, so the other side's listen<std::string>() /
// recv<std::string>() gets them (a char[6] used to arrive and fail there with
// a TypeMismatch). Forks (the Skprocess worker).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include <sk/pipe.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

// Listens for one command and answers it with a literal.
class Echo : public sk::Skprocess<std::string> {
 public:
  Echo() { config.runs = 1; }
  void run() override {
    got_ = listen<std::string>(10s).value_or("<nothing>");
    tell("ack");
  }
  std::string result() override { return got_; }

 private:
  std::string got_;
};

}  // namespace

TEST(Messages, procs_tell_string_literal_arrives_as_std_string_both_ways) {
  Echo w;
  w.start();
  w.tell("print");
  const std::optional<std::string> reply = w.listen<std::string>(10s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, "ack");
  EXPECT_EQ(w.get(), "print");
}

TEST(Messages, pipe_send_literal_pointer_and_char_array_arrive_as_std_string) {
  auto [anchor, point] = sk::Pipe::pair();
  anchor.send("hello");
  const char* p = "from a pointer";
  anchor.send(p);
  char buf[16] = "short";  // up to its first NUL
  anchor.send(buf);
  EXPECT_TRUE(anchor.send_for("timed", 1s));
  EXPECT_EQ(point.recv<std::string>(), "hello");
  EXPECT_EQ(point.recv<std::string>(), "from a pointer");
  EXPECT_EQ(point.recv<std::string>(), "short");
  EXPECT_EQ(point.recv<std::string>(), "timed");
}

TEST(Messages, pipe_send_null_const_char_pointer_is_a_clear_error) {
  auto [anchor, point] = sk::Pipe::pair();
  const char* none = nullptr;
  try {
    anchor.send(none);
    FAIL() << "expected SerializationError";
  } catch (const sk::SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("null const char*"), std::string::npos) << e.what();
  }
  anchor.send(std::string("still usable"));
  EXPECT_EQ(point.recv<std::string>(), "still usable");
}
