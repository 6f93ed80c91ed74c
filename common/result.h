// Errors as values at module boundaries.
//
// A small taxonomy that every front end can map to a protocol answer:
//   syntax      -> the peer sent something malformed (SMTP 501, IMAP BAD, POP3 -ERR)
//   refused     -> understood but not allowed (policy, auth failure)
//   temporary   -> try again later (lock busy, resource exhausted)
//   not_found   -> no such user / mailbox / message
//   exists      -> already there
//   over_quota  -> the mailbox is full
//   internal    -> our bug or an I/O failure; logged in detail, the peer sees a generic text
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tern {

enum class Errc { syntax, refused, temporary, not_found, exists, over_quota, internal };

const char* to_string(Errc code);

// Why a storage operation failed, where the caller acts on the difference: a full disk
// releases the store's reserve file (store/free_space.h), a busy lock is worth retrying, an
// I/O error is not. Most errors leave it `unspecified`; the code alone decides the answer.
enum class Cause { unspecified, busy, no_space, io };

struct Error {
  Errc code = Errc::internal;
  std::string message;
  Cause cause = Cause::unspecified;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message), Cause::unspecified};
}
inline Error make_error(Errc code, std::string message, Cause cause) {
  return Error{code, std::move(message), cause};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

// Modules whose internals throw (store/, relay/, sqlite/'s throwing half) carry an Error as a
// Failure and turn it back into a value at each public function: none crosses a module's API.
struct Failure : std::exception {
  explicit Failure(Error e) : error(std::move(e)) {}
  const char* what() const noexcept override { return error.message.c_str(); }
  Error error;
};
// Unwraps a value, throwing its error as a Failure.
inline void check(const Status& s) {
  if (!s.ok()) throw Failure(s.error());
}
template <class T>
T check(Result<T> r) {
  if (!r.ok()) throw Failure(r.error());
  return std::move(r).value();
}

}  // namespace tern
