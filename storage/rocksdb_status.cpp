#include "storage/rocksdb_status.hpp"

namespace nca::storage {

ErrorCode error_code_of(const rocksdb::Status& status) {
  using C = rocksdb::Status::Code;
  switch (status.code()) {
    case C::kOk:
      return ErrorCode::ok;
    case C::kNotFound:
      return ErrorCode::not_found;
    case C::kCorruption:
      return ErrorCode::data_loss;
    case C::kInvalidArgument:
    case C::kNotSupported:
      return ErrorCode::invalid_argument;
    case C::kBusy:
    case C::kTimedOut:
    case C::kTryAgain:
    case C::kShutdownInProgress:
    case C::kIncomplete:
      return ErrorCode::unavailable;
    case C::kIOError:
      if (status.IsNoSpace()) return ErrorCode::resource_exhausted;
      return ErrorCode::unavailable;
    default:
      return ErrorCode::internal;
  }
}

Error error_from_rocksdb(const rocksdb::Status& status, const std::string& context) {
  ErrorCode code = error_code_of(status);
  if (code == ErrorCode::ok) code = ErrorCode::internal;
  return make_error(code, context + ": " + status.ToString());
}

}  // namespace nca::storage
