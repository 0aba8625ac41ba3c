// TlsContext: what every TLS connection of one edge shares (one for all its
// threads): OpenSSL's SSL_CTX with the edge's settings, the self-signed
// fallback certificate, and the session ticket keys.
//
//   TLS 1.2 and 1.3 only; on 1.2 ECDHE with AES-GCM or CHACHA20-POLY1305
//   only; no renegotiation, no compression.
//   ALPN: "http/1.1" when the client offers it; a client offering only other
//   protocols (h2) gets no ALPN answer, not a failure (HTTP/2 is not served).
//   The certificate: by SNI from the connection's CertTable (cert_table.h);
//   a name with none (or no SNI) gets the fallback, made at Create for
//   "skiff-edge.invalid" and self-signed: a client sees a certificate it
//   cannot trust, never another app's.
//   Resumption by session tickets (no server-side session cache, so no lock
//   shared by the threads): the keys rotate every ticket_key_rotation, and
//   tickets made with an older key are still taken (and renewed) for
//   ticket_lifetime after it was due to stop making new ones. The keys are
//   this process's own (random, never stored or shared): a ticket from
//   another edge, or from before a restart, gets a full handshake.
//
// Thread-safety: after Create, any thread; the ticket keys are read without
// a lock (one atomic load a ticket) and replaced under a mutex when due.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "edge/tls/cert_table.h"

namespace skiff::edge::tls {

struct TlsOptions {
  std::chrono::seconds ticket_key_rotation = std::chrono::hours(12);
  std::chrono::seconds ticket_lifetime = std::chrono::hours(12);
  // Times the key rotation. Must outlive the context.
  const Clock* clock = SystemClock::Get();
};

class TlsContext {
 public:
  // Errors: kInternal when OpenSSL cannot make the context or the fallback
  // certificate (its reason).
  static Result<std::unique_ptr<TlsContext>> Create(TlsOptions options = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  const ServedCertificate& fallback() const { return fallback_; }

  // The ticket keys held now (the newest makes tickets); for tests.
  size_t ticket_keys() const;

  // The name the fallback certificate is made for.
  static constexpr const char* kFallbackName = "skiff-edge.invalid";

 private:
  struct TicketKey {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes;
    std::array<unsigned char, 32> hmac;
    std::chrono::steady_clock::time_point made;
  };
  using TicketKeys = std::vector<TicketKey>;  // newest first

  explicit TlsContext(TlsOptions options);
  Status Init();
  // Whether tickets made with `key` are no longer taken: ticket_lifetime has
  // passed since it was due to be replaced.
  bool Expired(const TicketKey& key, MonoTime now) const;
  // The keys, with a new one first when the newest is due for rotation.
  std::shared_ptr<const TicketKeys> CurrentKeys();
  static int OnTicket(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt);
  static int OnCertificate(SSL* ssl, void* arg);

  const TlsOptions options_;
  SSL_CTX* ctx_ = nullptr;
  ServedCertificate fallback_;
  std::atomic<std::shared_ptr<const TicketKeys>> keys_;
  std::mutex rotate_mu_;  // serialises rotations
};

}  // namespace skiff::edge::tls
