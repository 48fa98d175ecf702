// runtime/authenticator.hpp: turns a request's credential into a Principal (DESIGN §8).
//
// With auth off (dev mode, or auth.enabled = false) every request is an admin of every tenant.
// With auth on, a credential is an API key from auth.api-keys-file or an HS256 JWT signed with
// auth.jwt-secret; anything else is unauthenticated with a message that says what to send. The
// keys file is re-read when it changes (checked at most once a second), so keys are added and
// revoked without a restart; a file that no longer parses changes nothing and is reported.
// Thread-safe: the api actor and the HTTP gateway's threads share one.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "runtime/api_keys.hpp"
#include "runtime/clock.hpp"
#include "runtime/principal.hpp"

namespace nca {

class Authenticator {
 public:
  struct Options {
    bool enabled = false;
    std::string api_keys_file;  // empty: no API keys
    std::string jwt_secret;     // empty: no JWTs
  };

  // invalid_argument when auth is on but neither keys nor JWTs are configured, when the JWT
  // secret is shorter than 32 bytes, or when the keys file cannot be read or parsed.
  static Result<std::shared_ptr<Authenticator>> create(Options options, const Clock* clock);

  bool enabled() const { return options_.enabled; }
  size_t key_count() const;

  Result<Principal> authenticate(std::string_view credential) const;

  // Re-reads the keys file if a second has passed since the last look and its modification
  // time or size changed. Returns the error of a reload that failed (the old keys stay), once
  // per change; ok otherwise.
  Status refresh_if_due();

 private:
  Authenticator(Options options, const Clock* clock)
      : options_(std::move(options)), clock_(clock) {}
  std::string file_stamp() const;

  const Options options_;
  const Clock* clock_;
  mutable std::mutex mu_;  // guards the members below
  ApiKeyStore keys_;
  std::string stamp_;  // modification time and size of the file last read (or tried)
  TimeUs next_look_us_ = 0;
};

}  // namespace nca
