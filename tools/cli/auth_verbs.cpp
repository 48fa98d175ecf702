// The `nca auth ...` verbs, for operators: make an API key (and its line for auth.api-keys-file)
// or sign a JWT with the cluster's auth.jwt-secret (DESIGN §8). Neither talks to a node: keys and
// tokens are made where the secrets are, and the key itself is shown once and stored nowhere.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/api_keys.hpp"
#include "runtime/clock.hpp"
#include "runtime/jwt.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/exit_codes.hpp"
#include "tools/cli/verb_support.hpp"
#include "tools/cli/verbs.hpp"

namespace nca::cli {
namespace {

void declare_principal(po::options_description& options) {
  options.add_options()  //
      ("for-tenant", po::value<std::string>()->value_name("T"),
       "the tenant the credential acts for; '*' (admin only): every tenant")  //
      ("role", po::value<std::string>()->default_value("writer")->value_name("R"),
       "reader, writer or admin");
}

Result<Role> role_of(const po::variables_map& values) {
  auto role = parse_role(text_of(values, "role"));
  if (!role) return make_error(ErrorCode::invalid_argument, "--role: " + role.error().message);
  return role;
}

Result<std::string> tenant_of(const po::variables_map& values) {
  std::string tenant = text_of(values, "for-tenant");
  if (tenant.empty()) return make_error(ErrorCode::invalid_argument, "missing --for-tenant");
  return tenant;
}

// --- auth create-key -----------------------------------------------------------------------

void declare_create_key(po::options_description& options, po::options_description&,
                        po::positional_options_description&) {
  declare_principal(options);
  options.add_options()  //
      ("keys-file", po::value<std::string>()->value_name("FILE"),
       "append the key's line to FILE (created mode 0600); without it the line is printed")  //
      ("note", po::value<std::string>()->value_name("TEXT"), "a note kept on the key's line");
}

Result<pb::Request> build_checked(const po::variables_map& values) {
  auto tenant = tenant_of(values);
  if (!tenant) return tenant.error();
  auto role = role_of(values);
  if (!role) return role.error();
  if (*tenant == kAnyTenant && *role != Role::admin) {
    return make_error(ErrorCode::invalid_argument, "--for-tenant '*' needs --role admin");
  }
  return pb::Request();
}

int run_create_key(const po::variables_map& values, bool json, std::ostream& out,
                   std::ostream& err) {
  auto made = ApiKeyStore::generate(*tenant_of(values), *role_of(values), text_of(values, "note"));
  if (!made) return report(made.error(), false, err);
  std::string file = text_of(values, "keys-file");
  if (!file.empty()) {
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    std::string line = made->line + "\n";
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return report(make_error(ErrorCode::invalid_argument,
                               "cannot append to --keys-file '" + file + "'; no key was made"),
                    false, err);
    }
    ::close(fd);
  }
  if (json) {
    out << nlohmann::json{{"key", made->key}, {"line", made->line}, {"keys_file", file}}.dump()
        << "\n";
    return kExitOk;
  }
  out << made->key << "\n";
  if (file.empty()) {
    err << "add this line to every node's auth.api-keys-file:\n" << made->line << "\n";
  } else {
    err << "appended to " << file << "; nodes reading it pick the key up within a second\n";
  }
  err << "the key is shown only now: keep it in a secret store\n";
  return kExitOk;
}

// --- auth token ------------------------------------------------------------------------------

void declare_token(po::options_description& options, po::options_description&,
                   po::positional_options_description&) {
  declare_principal(options);
  options.add_options()  //
      ("ttl", po::value<std::string>()->default_value("1h")->value_name("D"),
       "how long the token is valid, e.g. 15m, 1h, 24h")                                       //
      ("subject", po::value<std::string>()->value_name("S"), "who it is for (shown in logs)")  //
      ("secret-file", po::value<std::string>()->value_name("FILE"),
       "file holding auth.jwt-secret (default: $NCA_JWT_SECRET)");
}

Result<pb::Request> build_token(const po::variables_map& values) {
  auto checked = build_checked(values);
  if (!checked) return checked;
  auto ttl = parse_duration(text_of(values, "ttl"), "--ttl");
  if (!ttl) return ttl.error();
  return checked;
}

Result<std::string> jwt_secret(const po::variables_map& values) {
  std::string path = text_of(values, "secret-file");
  std::string secret;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorCode::invalid_argument, "cannot read --secret-file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (const char* env = std::getenv("NCA_JWT_SECRET"); env != nullptr) {
    secret = env;
  }
  if (secret.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "no JWT secret: pass --secret-file or set $NCA_JWT_SECRET (the nodes' "
                      "auth.jwt-secret)");
  }
  if (secret.size() < 32) {
    return make_error(ErrorCode::invalid_argument,
                      "the JWT secret is shorter than 32 bytes; nodes refuse such a secret");
  }
  return secret;
}

int run_token(const po::variables_map& values, bool json, std::ostream& out, std::ostream& err) {
  auto secret = jwt_secret(values);
  if (!secret) return report(secret.error(), false, err);
  JwtClaims claims;
  claims.tenant = *tenant_of(values);
  claims.role = *role_of(values);
  claims.subject = text_of(values, "subject");
  claims.issued_at_s = SystemClock().now_us() / kUsPerSecond;
  claims.expires_at_s =
      claims.issued_at_s + parse_duration(text_of(values, "ttl"), "--ttl")->count() / 1000;
  std::string token = sign_jwt(claims, *secret);
  if (json) {
    out << nlohmann::json{{"token", token}, {"expires_at", claims.expires_at_s}}.dump() << "\n";
  } else {
    out << token << "\n";
  }
  return kExitOk;
}

}  // namespace

const std::vector<VerbSpec>& auth_verbs() {
  static const std::vector<VerbSpec> table = {
      {"auth create-key",
       "auth create-key --for-tenant T [--role reader|writer|admin] [--keys-file FILE] "
       "[--note TEXT]",
       "make an API key; its hash goes to the nodes' auth.api-keys-file, the key to the client",
       "nca auth create-key --for-tenant acme --role writer --keys-file /etc/neuroca/keys\n"
       "nca auth create-key --for-tenant '*' --role admin --note ops",
       declare_create_key, build_checked, nullptr, nullptr, nullptr, run_create_key},
      {"auth token",
       "auth token --for-tenant T [--role R] [--ttl D] [--subject S] [--secret-file FILE]",
       "sign a JWT with the cluster's auth.jwt-secret (HS256)",
       "export NCA_TOKEN=$(nca auth token --for-tenant acme --role reader --ttl 15m "
       "--secret-file /etc/neuroca/jwt-secret)",
       declare_token, build_token, nullptr, nullptr, nullptr, run_token},
  };
  return table;
}

}  // namespace nca::cli
