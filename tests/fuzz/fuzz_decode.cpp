// libFuzzer target for the sk::ser decoder: arbitrary bytes go through
// decode<T> for a spread of types (the first byte picks the type). Every
// input must either decode or throw sk::DecodeError -- never crash, never
// read out of bounds (ASan), never allocate beyond the input's size.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
//     -Icore/include -Ialloc/include -Iipc/include \
//     tests/fuzz/fuzz_decode.cpp ipc/src/serialize.cpp -o fuzz_decode
//   ./fuzz_decode -max_total_time=60 -rss_limit_mb=512 tests/fuzz/corpus/decode
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include <sk/ipc/serialize.hpp>

#include "fuzz_stats.hpp"

namespace fuzz {

struct Point {
  int x;
  double y;
};

enum class Kind : std::uint8_t { a = 1, b = 2 };

struct Record {
  std::string name;
  std::vector<Point> points;
  std::map<std::string, std::vector<int>> index;
  std::optional<std::variant<std::monostate, int, std::string>> extra;
  std::vector<bool> flags;
  Kind kind = Kind::a;
  SK_FIELDS(name, points, index, extra, flags, kind)
};

struct Nested {
  std::vector<Record> records;
  std::unordered_map<int, std::tuple<std::string, double, bool>> table;
  SK_FIELDS(records, table)
};

template <class T>
void try_decode(std::span<const std::byte> bytes) {
  try {
    (void)sk::ser::decode<T>(bytes);
  } catch (const sk::DecodeError&) {
  }
  try {
    (void)sk::ser::decode_payload<T>(bytes);
  } catch (const sk::DecodeError&) {
  }
}

}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sk_fuzz::count("fuzz_decode", size);
  if (size == 0) return 0;
  const std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: fuzz::try_decode<fuzz::Record>(rest); break;
    case 1: fuzz::try_decode<fuzz::Nested>(rest); break;
    case 2: fuzz::try_decode<std::string>(rest); break;
    case 3: fuzz::try_decode<std::vector<std::vector<std::string>>>(rest); break;
    case 4: fuzz::try_decode<std::map<int, std::optional<fuzz::Point>>>(rest); break;
    default: fuzz::try_decode<std::variant<int, std::string, std::vector<double>>>(rest); break;
  }
  return 0;
}

#ifdef SK_FUZZ_WRITE_SEEDS
// Writes the seed corpus: build with -DSK_FUZZ_WRITE_SEEDS and without
// -fsanitize=fuzzer, run with the output directory as argument.
#include <fstream>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  int n = 0;
  auto put = [&](std::uint8_t selector, const std::vector<std::byte>& frame) {
    std::ofstream f(dir + "/seed-" + std::to_string(n++), std::ios::binary);
    f.put(static_cast<char>(selector));
    f.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
  };
  fuzz::Record r{"rec", {{1, 2.0}, {3, 4.0}}, {{"k", {1, 2}}}, std::variant<std::monostate, int, std::string>{"x"},
                 {true, false}, fuzz::Kind::b};
  put(0, sk::ser::encode(r));
  put(0, sk::ser::encode(fuzz::Record{}));
  put(1, sk::ser::encode(fuzz::Nested{{r, r}, {{1, {"a", 1.5, true}}}}));
  put(2, sk::ser::encode(std::string("hello fuzz")));
  put(3, sk::ser::encode(std::vector<std::vector<std::string>>{{"a", "b"}, {}, {"c"}}));
  put(4, sk::ser::encode(std::map<int, std::optional<fuzz::Point>>{{1, fuzz::Point{1, 1.0}}, {2, std::nullopt}}));
  put(5, sk::ser::encode(std::variant<int, std::string, std::vector<double>>{std::vector<double>{1.0, 2.0}}));
  return 0;
}
#endif
