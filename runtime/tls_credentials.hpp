// runtime/tls_credentials.hpp: checks a node's TLS files before CAF's openssl module reads them.
//
// CAF 0.17 aborts the process when a configured certificate or key cannot be loaded, and finds
// a certificate that its own CA does not vouch for only at the first handshake, as a connection
// that silently fails. check_tls_credentials() loads the same files with OpenSSL first and turns
// each such problem into an error that names the setting and what to do: a missing or unreadable
// file, a file that is not PEM, an encrypted key without (or with a wrong) passphrase, a key that
// does not belong to the certificate, a certificate that the CA did not sign or that has expired.
// Free function; thread-safe; reads the files and keeps nothing.
#pragma once

#include <string>

#include "nca/result.hpp"

namespace nca {

struct TlsFiles {
  std::string cert;        // PEM certificate (chain) of this node: tls.cert
  std::string key;         // PEM private key of the certificate: tls.key
  std::string ca;          // PEM certificate(s) of the cluster CA, the only ones trusted: tls.ca
  std::string passphrase;  // of an encrypted key; empty otherwise: tls.passphrase
};

// invalid_argument with a message naming the tls.* setting at fault.
Status check_tls_credentials(const TlsFiles& files);

}  // namespace nca
