#pragma once
// Text form of slot values for Share::describe(): numbers as numbers
// (shortest round-trip form for floating point), bool as true/false, enums as
// their underlying number, strings quoted, anything with an operator<< through
// it, anything else as "<N bytes of T>".
#include <charconv>
#include <concepts>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/slots/reflect.hpp>

namespace sk::slots {

template <class T>
concept Streamable = requires(std::ostream& os, const T& v) { os << v; };

template <class T>
std::string format_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return format_value(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                       std::is_same_v<T, unsigned char>) {
    return std::to_string(static_cast<int>(v));
  } else if constexpr (std::is_arithmetic_v<T>) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    std::string out = "\"";
    out += std::string_view(v);
    out += '"';
    return out;
  } else if constexpr (Streamable<T>) {
    std::ostringstream os;
    os << v;
    return os.str();
  } else {
    return "<" + std::to_string(sizeof(T)) + " bytes of " + std::string(type_name<T>()) + ">";
  }
}

}  // namespace sk::slots
