#include "service/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "service/flag_file.h"

namespace nio::service {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text, or null.
Certificate FirstCertificate(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca needs --tls_cert and --tls_key");
    }
    return absl::OkStatus();
  }
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  NIO_ASSIGN_OR_RETURN(std::string cert_pem,
                       ReadFlagFile(tls.cert_file, "--tls_cert"));
  NIO_ASSIGN_OR_RETURN(std::string key_pem,
                       ReadFlagFile(tls.key_file, "--tls_key"));
  Certificate cert = FirstCertificate(cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_cert: no PEM certificate in '", tls.cert_file, "'"));
  }
  Bio key_bio = MemoryBio(key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: no PEM private key (unencrypted) in '", tls.key_file, "'"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: '", tls.key_file,
                     "' does not match the certificate of --tls_cert '",
                     tls.cert_file, "'"));
  }
  if (!tls.client_ca_file.empty()) {
    NIO_ASSIGN_OR_RETURN(std::string ca_pem,
                         ReadFlagFile(tls.client_ca_file, "--tls_client_ca"));
    if (!FirstCertificate(ca_pem)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls_client_ca: no PEM certificate in '", tls.client_ca_file, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const TlsFiles& tls) {
  NIO_RETURN_IF_ERROR(CheckTlsFiles(tls));
  if (tls.cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  NIO_ASSIGN_OR_RETURN(pair.cert_chain,
                       ReadFlagFile(tls.cert_file, "--tls_cert"));
  NIO_ASSIGN_OR_RETURN(pair.private_key,
                       ReadFlagFile(tls.key_file, "--tls_key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    NIO_ASSIGN_OR_RETURN(options.pem_root_certs,
                         ReadFlagFile(tls.client_ca_file, "--tls_client_ca"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace nio::service
