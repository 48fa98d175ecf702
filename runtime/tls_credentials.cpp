#include "runtime/tls_credentials.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <fstream>
#include <memory>

namespace nca {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using SslCtx = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using X509Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using EvpKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
using X509StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// OpenSSL's reason for the last failure, and its error queue emptied for the next check.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string why = code != 0 ? ERR_reason_error_string(code) ? ERR_reason_error_string(code)
                                                              : "unknown OpenSSL error"
                              : "unknown OpenSSL error";
  ERR_clear_error();
  return why;
}

Error bad(const std::string& what) { return make_error(ErrorCode::invalid_argument, what); }

Status readable(const std::string& setting, const std::string& path) {
  if (path.empty())
    return bad(setting + " is not set; mutual TLS needs tls.cert, tls.key and tls.ca");
  std::ifstream in(path);
  if (!in) {
    return bad(setting + " '" + path +
               "' cannot be read; check the path and its permissions (scripts/gen-certs makes "
               "development files)");
  }
  return {};
}

int passphrase_cb(char* buf, int size, int, void* user) {
  const auto* pass = static_cast<const std::string*>(user);
  if (pass == nullptr || pass->empty() || size <= 0) return 0;
  const int n = std::min<int>(size - 1, static_cast<int>(pass->size()));
  pass->copy(buf, static_cast<size_t>(n));
  buf[n] = '\0';
  return n;
}

}  // namespace

Status check_tls_credentials(const TlsFiles& f) {
  for (auto [setting, path] : {std::pair<const char*, const std::string*>{"tls.cert", &f.cert},
                               {"tls.key", &f.key},
                               {"tls.ca", &f.ca}}) {
    if (auto s = readable(setting, *path); !s) return s;
  }
  ERR_clear_error();
  SslCtx ctx(SSL_CTX_new(TLS_method()));
  if (!ctx)
    return make_error(ErrorCode::internal, "OpenSSL cannot make a context: " + openssl_reason());
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<std::string*>(&f.passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert.c_str()) != 1) {
    return bad("tls.cert '" + f.cert + "' is not a PEM certificate (" + openssl_reason() + ")");
  }
  // Read apart from the context, so a key that is fine but another certificate's is told apart
  // from one that cannot be read.
  EvpKey key;
  if (File in{std::fopen(f.key.c_str(), "r")}) {
    key.reset(PEM_read_PrivateKey(in.get(), nullptr, passphrase_cb,
                                  const_cast<std::string*>(&f.passphrase)));
  }
  if (!key) {
    return bad("tls.key '" + f.key + "' cannot be loaded (" + openssl_reason() +
               "); if the key is encrypted, set tls.passphrase");
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return bad("tls.key '" + f.key + "' is not the key of tls.cert '" + f.cert + "'");
  }
  X509Store store(X509_STORE_new());
  if (!store || X509_STORE_load_file(store.get(), f.ca.c_str()) != 1) {
    return bad("tls.ca '" + f.ca + "' holds no PEM certificate (" + openssl_reason() + ")");
  }
  X509* cert = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  X509StoreCtx verify(X509_STORE_CTX_new());
  if (!verify || X509_STORE_CTX_init(verify.get(), store.get(), cert, chain) != 1) {
    return make_error(ErrorCode::internal, "OpenSSL cannot verify tls.cert: " + openssl_reason());
  }
  if (X509_verify_cert(verify.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(verify.get());
    ERR_clear_error();
    return bad("tls.cert '" + f.cert + "' is not trusted by tls.ca '" + f.ca +
               "': " + X509_verify_cert_error_string(err) +
               "; peers would refuse this node (issue the certificate from the cluster's CA)");
  }
  return {};
}

}  // namespace nca
