#include "runtime/authenticator.hpp"

#include <sys/stat.h>

#include "runtime/jwt.hpp"

namespace nca {

Result<std::shared_ptr<Authenticator>> Authenticator::create(Options options,
                                                             const Clock* clock) {
  std::shared_ptr<Authenticator> made(new Authenticator(std::move(options), clock));
  Authenticator& auth = *made;
  const Options& o = auth.options_;
  if (!o.enabled) return made;
  if (o.api_keys_file.empty() && o.jwt_secret.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "auth.enabled needs auth.api-keys-file or auth.jwt-secret (or both); "
                      "create keys with 'nca auth create-key'");
  }
  if (!o.jwt_secret.empty() && o.jwt_secret.size() < 32) {
    return make_error(ErrorCode::invalid_argument,
                      "auth.jwt-secret must be at least 32 bytes (HS256 is only as strong as its "
                      "secret); e.g. openssl rand -base64 48");
  }
  if (!o.api_keys_file.empty()) {
    auth.stamp_ = auth.file_stamp();
    auto keys = ApiKeyStore::load(o.api_keys_file);
    if (!keys) return keys.error();
    auth.keys_ = std::move(*keys);
  }
  auth.next_look_us_ = clock->now_us() + kUsPerSecond;
  return made;
}

size_t Authenticator::key_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

std::string Authenticator::file_stamp() const {
  struct stat st {};
  if (::stat(options_.api_keys_file.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size);
}

Status Authenticator::refresh_if_due() {
  if (!options_.enabled || options_.api_keys_file.empty()) return {};
  std::lock_guard<std::mutex> lock(mu_);
  TimeUs now = clock_->now_us();
  if (now < next_look_us_) return {};
  next_look_us_ = now + kUsPerSecond;
  std::string stamp = file_stamp();
  if (stamp == stamp_) return {};
  stamp_ = stamp;
  auto keys = ApiKeyStore::load(options_.api_keys_file);
  if (!keys) {
    return make_error(keys.error().code,
                      keys.error().message + " (the keys loaded before stay in force)");
  }
  keys_ = std::move(*keys);
  return {};
}

Result<Principal> Authenticator::authenticate(std::string_view credential) const {
  if (!options_.enabled) return Principal{kAnyTenant, Role::admin, "open"};
  if (credential.empty()) {
    return make_error(ErrorCode::unauthenticated,
                      "this node requires credentials: send an API key or a JWT (HTTP: "
                      "'Authorization: Bearer <token>'; SDK: ClientOptions::auth_token; CLI: "
                      "--token or $NCA_TOKEN)");
  }
  if (looks_like_jwt(credential)) {
    if (options_.jwt_secret.empty()) {
      return make_error(ErrorCode::unauthenticated,
                        "this node does not accept JWTs (auth.jwt-secret is not set); use an API "
                        "key");
    }
    auto claims = verify_jwt(credential, options_.jwt_secret, clock_->now_us() / kUsPerSecond);
    if (!claims) return claims.error();
    return Principal{claims->tenant, claims->role,
                     claims->subject.empty() ? "jwt" : "jwt " + claims->subject};
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto who = keys_.find(credential)) return *who;
  return make_error(ErrorCode::unauthenticated,
                    credential.substr(0, 4) == "nca_"
                        ? "unknown or revoked API key"
                        : "the credential is neither an API key (nca_...) nor a JWT");
}

}  // namespace nca
