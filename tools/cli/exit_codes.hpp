// tools/cli/exit_codes.hpp: the exit codes of `nca` and how an Error becomes one.
//
// One code per kind of failure, so scripts can tell "fix your command" (2) from "the node is down"
// (4) without parsing messages. Pure functions, thread-safe.
#pragma once

#include <ostream>

#include "nca/result.hpp"

namespace nca::cli {

constexpr int kExitOk = 0;
constexpr int kExitOther = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitUnavailable = 4;
constexpr int kExitDeadline = 5;
constexpr int kExitInvalidArgument = 6;
constexpr int kExitAuth = 7;  // unauthenticated or permission denied

constexpr char kExitCodesHelp[] =
    "Exit codes: 0 ok, 1 other error, 2 usage error, 3 not found, 4 unavailable (cannot connect),\n"
    "            5 deadline exceeded, 6 invalid argument (rejected by the node, or bad lines in "
    "an\n"
    "            import file), 7 refused credentials (unauthenticated or permission denied).\n";

// The exit code for `error`; `from_node` tells a server-side invalid_argument (6) from a
// client-side one such as a malformed --addr (2).
int exit_code_of(const Error& error, bool from_node);

// Writes "nca: <code>: <message>" to `err` and returns exit_code_of(error, from_node).
int report(const Error& error, bool from_node, std::ostream& err);

}  // namespace nca::cli
