// The server's TLS identity: the PEM files of --tls_cert, --tls_key and
// --tls_client_ca, checked at start (a certificate, a key that matches it, a
// CA that parses), and the gRPC port's credentials made from them.
#ifndef NIO_SERVICE_TLS_CREDENTIALS_H_
#define NIO_SERVICE_TLS_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace nio::service {

// PEM files of the server's TLS identity, for the gRPC and the HTTP port.
struct TlsFiles {
  std::string cert_file;  // certificate chain; empty: no TLS
  std::string key_file;
  // Set: mutual TLS, clients must show a certificate this CA signed.
  std::string client_ca_file;
};

// OK when the files make a usable identity (or there is none). Else
// INVALID_ARGUMENT starting with the flag at fault: "--tls_key: ... does not
// match --tls_cert", "--tls_cert: no PEM certificate in ...".
absl::Status CheckTlsFiles(const TlsFiles& tls);

// Insecure credentials without a certificate; TLS (mutual with a client CA)
// with one. Runs CheckTlsFiles first.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const TlsFiles& tls);

}  // namespace nio::service

#endif  // NIO_SERVICE_TLS_CREDENTIALS_H_
