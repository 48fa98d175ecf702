// nca/result.hpp: errors as values, shared by the SDK and the runtime.
//
// Result<T> holds either a T or an Error (code + a message a user can act on). It is a plain value type:
// copyable, movable, not thread-safe beyond what T is. Result<void> (alias Status) holds only success or
// an Error. Codes match the wire's nca.pb.StatusCode one to one.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <variant>

namespace nca {

enum class ErrorCode {
  ok = 0,
  invalid_argument = 1,
  not_found = 2,
  already_exists = 3,
  conflict = 4,
  unavailable = 5,
  deadline_exceeded = 6,
  internal = 7,
  data_loss = 8,
  resource_exhausted = 9,
  unauthenticated = 10,
  permission_denied = 11,
};

inline const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::already_exists: return "already_exists";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::deadline_exceeded: return "deadline_exceeded";
    case ErrorCode::internal: return "internal";
    case ErrorCode::data_loss: return "data_loss";
    case ErrorCode::resource_exhausted: return "resource_exhausted";
    case ErrorCode::unauthenticated: return "unauthenticated";
    case ErrorCode::permission_denied: return "permission_denied";
  }
  return "unknown";
}

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;

  std::string to_string() const { return std::string(nca::to_string(code)) + ": " + message; }
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }
  ErrorCode code() const { return ok() ? ErrorCode::ok : error().code; }

 private:
  void check() const {
    if (!ok()) {
      // Reading the value of a failed result is a programming error, never a runtime condition.
      std::cerr << "nca::Result: value() on error: " << error().to_string() << std::endl;
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }
  ErrorCode code() const { return ok_ ? ErrorCode::ok : err_.code; }

 private:
  Error err_{ErrorCode::ok, ""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace nca
