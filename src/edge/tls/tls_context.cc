#include "edge/tls/tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "edge/tls/tls_connection.h"

namespace skiff::edge::tls {
namespace {

// TLS 1.2's suites: forward secrecy and AEAD only (TLS 1.3's are all so).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kSessionContext[] = "skiff-edge";

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
               unsigned int in_length, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, kHttp11, sizeof kHttp11, in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // (h2 only: no ALPN, the handshake goes on)
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

TlsContext::TlsContext(TlsOptions options) : options_(options) {}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

Result<std::unique_ptr<TlsContext>> TlsContext::Create(TlsOptions options) {
  std::unique_ptr<TlsContext> context(new TlsContext(options));
  SKIFF_RETURN_IF_ERROR(context->Init());
  return context;
}

Status TlsContext::Init() {
  // The fallback: self-signed, for a name no client asks for.
  SKIFF_ASSIGN_OR_RETURN(crypto::PKeyPtr key, crypto::GenerateP256Key());
  crypto::CertificateRequest request;
  request.common_name = kFallbackName;
  request.names = {kFallbackName};
  request.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  request.not_after = request.not_before + std::chrono::hours(24 * 365);
  SKIFF_ASSIGN_OR_RETURN(crypto::X509Ptr leaf,
                         crypto::IssueCertificate(request, key.get(), nullptr, key.get()));
  fallback_.fingerprint = crypto::CertificateFingerprint(leaf.get());
  fallback_.leaf = std::move(leaf);
  fallback_.key = std::move(key);

  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr) return Internal("cannot make a TLS context: " + crypto::TakeOpensslErrors());
  const bool ok =
      SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION) == 1 &&
      SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION) == 1 &&
      SSL_CTX_set_cipher_list(ctx_, kTls12Ciphers) == 1 &&
      SSL_CTX_set1_groups_list(ctx_, kGroups) == 1 &&
      SSL_CTX_use_certificate(ctx_, fallback_.leaf.get()) == 1 &&
      SSL_CTX_use_PrivateKey(ctx_, fallback_.key.get()) == 1 &&
      SSL_CTX_set_session_id_context(ctx_, kSessionContext, sizeof kSessionContext - 1) == 1 &&
      SSL_CTX_set_num_tickets(ctx_, 1) == 1;
  if (!ok) return Internal("cannot set the TLS context up: " + crypto::TakeOpensslErrors());
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Records are read as far as they came (fewer receives); a write is taken
  // whole by the connection's sink (tls_connection.h), so a retry never
  // sees a moved buffer.
  SSL_CTX_set_read_ahead(ctx_, 1);
  // RELEASE_BUFFERS: an idle connection holds no record buffers (about 34 KiB
  // each otherwise) until it reads or writes again.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_timeout(ctx_, static_cast<long>(options_.ticket_lifetime.count()));
  SSL_CTX_set_app_data(ctx_, this);
  SSL_CTX_set_alpn_select_cb(ctx_, SelectAlpn, nullptr);
  SSL_CTX_set_cert_cb(ctx_, OnCertificate, nullptr);
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx_, OnTicket) != 1) {
    return Internal("cannot set the ticket keys up: " + crypto::TakeOpensslErrors());
  }
  keys_.store(std::make_shared<const TicketKeys>());
  if (CurrentKeys()->empty()) return Internal("cannot make a ticket key");
  return OkStatus();
}

size_t TlsContext::ticket_keys() const { return keys_.load()->size(); }

std::shared_ptr<const TlsContext::TicketKeys> TlsContext::CurrentKeys() {
  std::shared_ptr<const TicketKeys> keys = keys_.load(std::memory_order_acquire);
  const MonoTime now = options_.clock->MonotonicNow();
  if (!keys->empty() && now - keys->front().made < options_.ticket_key_rotation) return keys;
  std::lock_guard lock(rotate_mu_);
  keys = keys_.load(std::memory_order_acquire);
  if (!keys->empty() && now - keys->front().made < options_.ticket_key_rotation) return keys;
  TicketKey fresh;
  fresh.made = now;
  if (RAND_bytes(fresh.name.data(), fresh.name.size()) != 1 ||
      RAND_bytes(fresh.aes.data(), fresh.aes.size()) != 1 ||
      RAND_bytes(fresh.hmac.data(), fresh.hmac.size()) != 1) {
    return keys;  // (the old keys serve on; OnTicket refuses when there is none)
  }
  auto next = std::make_shared<TicketKeys>();
  next->push_back(fresh);
  // A key's tickets live ticket_lifetime from when it was due to stop making
  // them, not from when a handshake next came to replace it (after a quiet
  // night that could be hours later).
  for (const TicketKey& key : *keys) {
    if (!Expired(key, now)) next->push_back(key);
  }
  keys_.store(next, std::memory_order_release);
  return next;
}

bool TlsContext::Expired(const TicketKey& key, MonoTime now) const {
  return now - (key.made + options_.ticket_key_rotation) >= options_.ticket_lifetime;
}

int TlsContext::OnTicket(SSL* ssl, unsigned char* key_name, unsigned char* iv,
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  std::shared_ptr<const TicketKeys> keys = self->CurrentKeys();
  const TicketKey* key = nullptr;
  bool newest = false;
  if (encrypt == 1) {
    if (keys->empty()) return -1;
    key = &keys->front();
    newest = true;
    std::memcpy(key_name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
  } else {
    for (size_t i = 0; i < keys->size(); ++i) {
      if (std::memcmp(key_name, (*keys)[i].name.data(), 16) == 0) {
        newest = i == 0;
        // (An old key stays listed until the next rotation prunes it.)
        if (!newest && self->Expired((*keys)[i], self->options_.clock->MonotonicNow())) return 0;
        key = &(*keys)[i];
        break;
      }
    }
    if (key == nullptr) return 0;  // unknown or expired: a full handshake
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac.data()), key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = encrypt == 1
                     ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                     : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  if (ok != 1) return -1;
  return encrypt == 1 || newest ? 1 : 2;  // 2: good, but renew it with the newest key
}

int TlsContext::OnCertificate(SSL* ssl, void*) {
  const ServedCertificate* served = nullptr;
  if (const auto* connection = static_cast<const TlsConnection*>(SSL_get_app_data(ssl))) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name != nullptr) served = connection->certificates().Find(name);
  }
  if (served == nullptr) return 1;  // the context's own: the fallback
  return SSL_use_cert_and_key(ssl, served->leaf.get(), served->key.get(), served->chain, 1) == 1
             ? 1
             : 0;
}

}  // namespace skiff::edge::tls
