#pragma once
// sk::ListElement<T>: what sk::List<T>::operator[] returns, a read-only copy
// of one element. `share->names[0] = "z"` would otherwise compile and change
// nothing (the element lives in shared memory; operator[] copies it out), so
// assigning to it is a compile error that says what to do instead.
//
//   std::string first = share->names[0];     // converts to T
//   if (share->names[0] == "ada") {}         // compares like T
//   share->names[0]->size();  *share->names[0];   // T's members, the T itself
//   share->names[0] = "z";                   // error: ... append() ... sk::Object ...
#include <concepts>
#include <type_traits>
#include <utility>

namespace sk {

namespace slots::detail {
template <class>
inline constexpr bool kAssignedToListElement = false;
}  // namespace slots::detail

#define SK_LIST_ELEMENT_IS_A_COPY                                                                        \
  "sk::List<T>::operator[] returns a copy of the element, so assigning to it changes nothing in the "   \
  "Share. A List is append-only: append() the new value, or keep the data in an "                       \
  "sk::Object<std::vector<T>> and change it with update([](auto& v) { v[i] = ...; })"

template <class T>
class ListElement {
 public:
  explicit ListElement(T value) : value_(std::move(value)) {}
  ListElement(const ListElement&) = default;
  ListElement(ListElement&&) = default;
  ~ListElement() = default;

  operator const T&() const& noexcept { return value_; }  // NOLINT: reads like the element
  operator T() && { return std::move(value_); }          // NOLINT
  const T& get() const noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  const T* operator->() const noexcept { return &value_; }

  template <class U>
    requires(!std::is_same_v<U, ListElement>) && requires(const T& t, const U& u) {
      { t == u } -> std::convertible_to<bool>;
    }
  friend bool operator==(const ListElement& e, const U& u) {
    return e.value_ == u;
  }
  friend bool operator==(const ListElement& a, const ListElement& b)
    requires requires(const T& t) {
      { t == t } -> std::convertible_to<bool>;
    }
  {
    return a.value_ == b.value_;
  }
  template <class Stream>
    requires requires(Stream& os, const T& t) { os << t; }
  friend Stream& operator<<(Stream& os, const ListElement& e) {
    os << e.value_;
    return os;
  }

  // Writing through operator[] is the trap this type exists for.
  ListElement& operator=(const ListElement&) {
    static_assert(slots::detail::kAssignedToListElement<T>, SK_LIST_ELEMENT_IS_A_COPY);
    return *this;
  }
  template <class U>
  ListElement& operator=(U&&) {
    static_assert(slots::detail::kAssignedToListElement<U>, SK_LIST_ELEMENT_IS_A_COPY);
    return *this;
  }
  template <class U>
  ListElement& operator+=(U&&) {
    static_assert(slots::detail::kAssignedToListElement<U>, SK_LIST_ELEMENT_IS_A_COPY);
    return *this;
  }
  template <class U>
  ListElement& operator-=(U&&) {
    static_assert(slots::detail::kAssignedToListElement<U>, SK_LIST_ELEMENT_IS_A_COPY);
    return *this;
  }

 private:
  T value_;
};

#undef SK_LIST_ELEMENT_IS_A_COPY

}  // namespace sk
