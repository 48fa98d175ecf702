#include "tools/cli/exit_codes.hpp"

namespace nca::cli {

int exit_code_of(const Error& error, bool from_node) {
  switch (error.code) {
    case ErrorCode::not_found:
      return kExitNotFound;
    case ErrorCode::unavailable:
      return kExitUnavailable;
    case ErrorCode::deadline_exceeded:
      return kExitDeadline;
    case ErrorCode::invalid_argument:
      return from_node ? kExitInvalidArgument : kExitUsage;
    case ErrorCode::unauthenticated:
    case ErrorCode::permission_denied:
      return kExitAuth;
    default:
      return kExitOther;
  }
}

int report(const Error& error, bool from_node, std::ostream& err) {
  err << "nca: " << to_string(error.code) << ": " << error.message << "\n";
  return exit_code_of(error, from_node);
}

}  // namespace nca::cli
