#include "controller/certificate_store.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "crypto/x509.h"
#include "fakes/counting_store.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

using std::chrono::hours;

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed certificate for `names`, valid `from`..`to`.
Pem SelfSigned(std::vector<std::string> names, Time from, Time to) {
  auto key = crypto::GenerateP256Key();
  crypto::CertificateRequest request{"Skiff Test", std::move(names), from, to, false};
  auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
  return {crypto::CertificatePem(cert->get()), crypto::PrivateKeyPem(key->get())};
}

class CertificateStoreTest : public ::testing::Test {
 protected:
  Time Now() const { return clock_.Now(); }
  std::vector<StoredCertificate> Listed() const {
    auto listed = certs_.List();
    EXPECT_TRUE(listed) << listed.error().ToString();
    return listed.value_or(std::vector<StoredCertificate>{});
  }
  std::vector<model::Event> Events() const {
    return store_.ListEvents({}).value_or(std::vector<model::Event>{});
  }

  ManualClock clock_;
  store::MemoryStore store_;
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  CertificateStore certs_{&store_, &keyring_, &clock_};
};

// Verify that the edges keep their certificates through a store that stops
// answering (the last good set is given), and that one record that does not
// parse leaves out that record only, not every certificate.
TEST(CertificateStoreEdgesTest, ReadFailuresKeepTheLastSetAndABadRecordIsSkipped) {
  ManualClock clock;
  testing::CountingStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  CertificateStore certs(&store, &keyring, &clock);
  store.set_unreachable(true);
  EXPECT_EQ(certs.ForEdges().error().code, ErrorCode::kUnavailable) << "nothing read yet";
  store.set_unreachable(false);

  const Pem pem = SelfSigned({"web.com"}, clock.Now() - hours(1), clock.Now() + hours(24));
  ASSERT_TRUE(certs.Put("web.com", pem.cert, pem.key, CertificateSource::kManual));
  ASSERT_TRUE(store.PutRecord(store::RecordKind::kCertificate, "broken.com", "{not json"));
  auto first = certs.ForEdges();
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].domains, std::vector<std::string>{"web.com"});

  store.set_unreachable(true);
  auto during = certs.ForEdges();
  ASSERT_TRUE(during) << during.error().ToString();
  EXPECT_EQ(*during, *first);
  EXPECT_EQ(CertificatesForRoutes(&certs), *first);
}

// Verify that a kept certificate lists with what `skiff certs` shows, keeps
// its key sealed in the store (not the PEM), opens for the edges, and is
// announced by an event that names no key.
TEST_F(CertificateStoreTest, KeepsSealedAndOpensForEdges) {
  const Pem pem = SelfSigned({"web.com", "*.web.com"}, Now() - hours(1), Now() + hours(90 * 24));
  auto kept = certs_.Put("Web.com", pem.cert, pem.key, CertificateSource::kManual);
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_EQ(kept->domain, "web.com");

  const std::vector<StoredCertificate> listed = Listed();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].domain, "web.com");
  EXPECT_EQ(listed[0].issuer, "Skiff Test");
  EXPECT_EQ(listed[0].source, CertificateSource::kManual);
  EXPECT_EQ(listed[0].updated, Now());
  EXPECT_EQ(listed[0].cert_pem, pem.cert);

  auto raw = store_.GetRecord(store::RecordKind::kCertificate, "web.com");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->find("PRIVATE KEY"), std::string::npos) << *raw;
  EXPECT_EQ(raw->find(pem.key.substr(28, 40)), std::string::npos);

  auto edges = certs_.ForEdges();
  ASSERT_TRUE(edges) << edges.error().ToString();
  ASSERT_EQ(edges->size(), 1u);
  EXPECT_EQ((*edges)[0], (protocol::RouteCertificate{{"web.com"}, pem.cert, pem.key}));

  const std::vector<model::Event> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "certificate.added");
  EXPECT_EQ(events[0].details.at("domain"), "web.com");
  EXPECT_EQ(events[0].message.find("PRIVATE"), std::string::npos);

  // A second one for the domain replaces the first.
  const Pem next = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", next.cert, next.key, CertificateSource::kAcme));
  ASSERT_EQ(Listed().size(), 1u);
  EXPECT_EQ(Listed()[0].source, CertificateSource::kAcme);
  EXPECT_EQ(certs_.ForEdges()->at(0).key_pem, next.key);
}

// Verify that bad input is kInvalidArgument naming its field, and nothing is
// kept or announced.
TEST_F(CertificateStoreTest, BadInputKeepsNothing) {
  const Pem good = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const Pem other = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const Pem expired = SelfSigned({"web.com"}, Now() - hours(48), Now() - hours(1));
  struct Case {
    const char* name;
    std::string domain, cert, key, field;
  };
  const std::vector<Case> cases = {
      {"malformed cert", "web.com",
       "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", good.key, "cert"},
      {"malformed key", "web.com", good.cert, "not a key", "key"},
      {"mismatched key", "web.com", good.cert, other.key, "key"},
      {"expired", "web.com", expired.cert, expired.key, "cert"},
      {"uncovered domain", "shop.com", good.cert, good.key, "domain"},
      {"a combined file as the chain", "web.com", good.cert + good.key, good.key, "cert"},
  };
  for (const Case& c : cases) {
    auto kept = certs_.Put(c.domain, c.cert, c.key, CertificateSource::kManual);
    ASSERT_FALSE(kept) << c.name;
    EXPECT_EQ(kept.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(kept.error().field, c.field) << c.name << ": " << kept.error().message;
  }
  EXPECT_TRUE(Listed().empty());
  EXPECT_TRUE(Events().empty());
}

// Verify that what is kept of the chain is its certificates re-encoded, not
// whatever else the given text held (it is stored in clear).
TEST_F(CertificateStoreTest, KeepsOnlyTheCertificates) {
  const Pem pem = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const std::string given = "Bag Attributes\n    friendlyName: web\n" + pem.cert + "trailer\n";
  ASSERT_TRUE(certs_.Put("web.com", given, pem.key, CertificateSource::kManual));
  EXPECT_EQ(Listed().at(0).cert_pem, pem.cert);
  auto raw = store_.GetRecord(store::RecordKind::kCertificate, "web.com");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->find("friendlyName"), std::string::npos) << *raw;
}

// Verify that a sealed key opens only beside the certificate it was kept
// with: a record whose certificate was swapped for another of the same
// domain is left out of what the edges get (also after the record was
// opened once as it was).
TEST_F(CertificateStoreTest, SealedKeyIsBoundToItsCertificate) {
  const Pem pem = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const Pem other = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", pem.cert, pem.key, CertificateSource::kManual));
  ASSERT_EQ(certs_.ForEdges()->size(), 1u);
  auto raw = store_.GetRecord(store::RecordKind::kCertificate, "web.com");
  ASSERT_TRUE(raw);
  boost::json::object record = boost::json::parse(*raw).as_object();
  record["cert"] = other.cert;
  ASSERT_TRUE(
      store_.PutRecord(store::RecordKind::kCertificate, "web.com", boost::json::serialize(record)));
  ASSERT_EQ(Listed().size(), 1u);
  auto edges = certs_.ForEdges();
  ASSERT_TRUE(edges) << edges.error().ToString();
  EXPECT_TRUE(edges->empty());
}

// Verify that a certificate that has expired since it was kept is still
// listed but no longer sent to the edges.
TEST_F(CertificateStoreTest, ExpiredIsNotSentToEdges) {
  const Pem pem = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", pem.cert, pem.key, CertificateSource::kManual));
  ASSERT_EQ(certs_.ForEdges()->size(), 1u);
  clock_.Advance(hours(25));
  EXPECT_EQ(Listed().size(), 1u);
  auto edges = certs_.ForEdges();
  ASSERT_TRUE(edges) << edges.error().ToString();
  EXPECT_TRUE(edges->empty());
}

// Verify that the edges get a certificate replaced under its domain, not the
// one opened before, and lose one removed.
TEST_F(CertificateStoreTest, EdgesGetWhatReplacedTheCertificate) {
  const Pem first = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const Pem second = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(48));
  ASSERT_TRUE(certs_.Put("web.com", first.cert, first.key, CertificateSource::kManual));
  ASSERT_EQ(certs_.ForEdges()->size(), 1u);
  ASSERT_EQ(certs_.ForEdges()->at(0).key_pem, first.key);
  ASSERT_TRUE(certs_.Put("web.com", second.cert, second.key, CertificateSource::kManual));
  auto edges = certs_.ForEdges();
  ASSERT_TRUE(edges && edges->size() == 1u);
  EXPECT_EQ(edges->at(0).cert_pem, second.cert);
  EXPECT_EQ(edges->at(0).key_pem, second.key);
  ASSERT_TRUE(certs_.Remove("web.com"));
  EXPECT_TRUE(certs_.ForEdges()->empty());
}

// Verify that ForgetStale forgets an ACME record with only failures or an
// expired certificate, and keeps a valid ACME certificate and a manual one.
TEST_F(CertificateStoreTest, ForgetStale) {
  ASSERT_TRUE(certs_.RecordFailure("failed.com", "no", 0));
  const Pem acme = SelfSigned({"acme.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.PutIssued("acme.com", acme.cert, acme.key, 0));
  const Pem manual = SelfSigned({"manual.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("manual.com", manual.cert, manual.key, CertificateSource::kManual));

  EXPECT_EQ(certs_.ForgetStale("failed.com", Now(), 0), true);
  EXPECT_EQ(certs_.ForgetStale("acme.com", Now(), 0), false);
  EXPECT_EQ(certs_.ForgetStale("manual.com", Now() + hours(48), 0), false);
  EXPECT_EQ(certs_.ForgetStale("none.com", Now(), 0), false);
  EXPECT_EQ(Listed().size(), 2u);
  EXPECT_EQ(certs_.ForgetStale("acme.com", Now() + hours(24), 0), true);
  ASSERT_EQ(Listed().size(), 1u);
  EXPECT_EQ(Listed()[0].domain, "manual.com");
  EXPECT_EQ(Events().back().kind, "certificate.removed");
}

// Verify that removing forgets the certificate (by its domain in any case)
// and announces it; a domain with none is kNotFound.
TEST_F(CertificateStoreTest, Remove) {
  const Pem pem = SelfSigned({"*.web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("*.web.com", pem.cert, pem.key, CertificateSource::kManual));
  ASSERT_TRUE(certs_.Remove("*.WEB.com"));
  EXPECT_TRUE(Listed().empty());
  EXPECT_EQ(Events().back().kind, "certificate.removed");
  EXPECT_EQ(certs_.Remove("*.web.com").error().code, ErrorCode::kNotFound);
}

// Verify that a renewal error is kept for `skiff certs` and cleared again.
TEST_F(CertificateStoreTest, LastError) {
  const Pem pem = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", pem.cert, pem.key, CertificateSource::kAcme));
  ASSERT_TRUE(certs_.SetLastError("web.com", "urn:ietf:params:acme:error:connection"));
  EXPECT_EQ(Listed()[0].last_error, "urn:ietf:params:acme:error:connection");
  ASSERT_TRUE(certs_.SetLastError("web.com", ""));
  EXPECT_EQ(Listed()[0].last_error, "");
  EXPECT_EQ(certs_.SetLastError("shop.com", "x").error().code, ErrorCode::kNotFound);
}

// Verify that a server whose keyring lacks the key a certificate was sealed
// under is told which (kFailedPrecondition naming the domain and the key id),
// and its edges get none of what it cannot open.
TEST_F(CertificateStoreTest, KeyringWithoutTheKey) {
  const Pem pem = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", pem.cert, pem.key, CertificateSource::kManual));
  EXPECT_TRUE(certs_.CheckKeys());

  const crypto::Keyring other = crypto::Keyring::Generate();
  const CertificateStore elsewhere(&store_, &other, &clock_);
  Status checked = elsewhere.CheckKeys();
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(checked.error().message.find("web.com"), std::string::npos);
  EXPECT_NE(checked.error().message.find(keyring_.active_id()), std::string::npos)
      << checked.error().message;
  auto edges = elsewhere.ForEdges();
  ASSERT_TRUE(edges);
  EXPECT_TRUE(edges->empty());
}

// Verify that Reseal seals the keys under another key again under the
// active one (the rest of each record as it was), after which a keyring of
// the new key alone sends every certificate to the edges; that a key
// already under the active key and a record with no certificate are not
// written; and that it tells its progress.
TEST_F(CertificateStoreTest, ResealUnderTheActiveKey) {
  const Pem web = SelfSigned({"web.com"}, Now() - hours(1), Now() + hours(24));
  const Pem shop = SelfSigned({"shop.com"}, Now() - hours(1), Now() + hours(24));
  const Pem blog = SelfSigned({"blog.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("web.com", web.cert, web.key, CertificateSource::kManual));
  ASSERT_TRUE(certs_.Put("shop.com", shop.cert, shop.key, CertificateSource::kManual));
  ASSERT_TRUE(certs_.RecordFailure("failed.com", "no answer", 0));
  const std::vector<StoredCertificate> before = Listed();
  const crypto::Keyring rotated = keyring_.WithNewKey();
  CertificateStore after(&store_, &rotated, &clock_);
  ASSERT_TRUE(after.Put("blog.com", blog.cert, blog.key, CertificateSource::kManual));
  const std::string blog_record =
      store_.GetRecord(store::RecordKind::kCertificate, "blog.com").value();
  const size_t events = Events().size();

  std::vector<std::pair<int, int>> told;
  EXPECT_EQ(after.Reseal([&](int done, int total) { told.emplace_back(done, total); }), 2);
  EXPECT_EQ(told.back(), std::make_pair(4, 4));
  EXPECT_EQ(told.size(), 5u);
  EXPECT_EQ(store_.GetRecord(store::RecordKind::kCertificate, "blog.com").value(), blog_record);
  EXPECT_EQ(Events().size(), events);
  std::vector<StoredCertificate> listed = after.List().value();
  ASSERT_EQ(listed.size(), 4u);
  for (size_t i = 0, j = 0; i < listed.size(); ++i) {
    if (listed[i].domain == "blog.com") continue;
    const StoredCertificate& was = before[j++];
    EXPECT_EQ(listed[i].domain, was.domain);
    EXPECT_EQ(listed[i].cert_pem, was.cert_pem);
    EXPECT_EQ(listed[i].failures, was.failures);
    EXPECT_EQ(listed[i].updated, was.updated);
    if (was.has_certificate()) {
      EXPECT_EQ(crypto::Keyring::KeyIdOf(listed[i].sealed_key).value_or(""), rotated.active_id());
    }
  }
  EXPECT_EQ(after.Reseal(), 0);

  const crypto::Keyring only_new = rotated.ActiveOnly();
  const CertificateStore new_alone(&store_, &only_new, &clock_);
  EXPECT_TRUE(new_alone.CheckKeys());
  auto edges = new_alone.ForEdges();
  ASSERT_TRUE(edges);
  ASSERT_EQ(edges->size(), 3u);
  for (const protocol::RouteCertificate& c : *edges) {
    const std::string& expected = c.domains[0] == "web.com"    ? web.key
                                  : c.domains[0] == "shop.com" ? shop.key
                                                               : blog.key;
    EXPECT_EQ(c.key_pem, expected) << c.domains[0];
  }
}

// Verify that a key that does not open (sealed for another certificate)
// stops Reseal with kFailedPrecondition naming its domain, those done before
// it opening under the new key.
TEST_F(CertificateStoreTest, ResealStopsAtAKeyThatDoesNotOpen) {
  const Pem a = SelfSigned({"a.com"}, Now() - hours(1), Now() + hours(24));
  const Pem b = SelfSigned({"b.com"}, Now() - hours(1), Now() + hours(24));
  ASSERT_TRUE(certs_.Put("a.com", a.cert, a.key, CertificateSource::kManual));
  ASSERT_TRUE(certs_.Put("b.com", b.cert, b.key, CertificateSource::kManual));
  // b.com's record given a.com's sealed key: bound to a.com, it opens nowhere else.
  boost::json::value record =
      boost::json::parse(store_.GetRecord(store::RecordKind::kCertificate, "b.com").value());
  record.as_object()["sealed_key"] = Listed()[0].sealed_key;
  ASSERT_TRUE(
      store_.PutRecord(store::RecordKind::kCertificate, "b.com", boost::json::serialize(record)));

  const crypto::Keyring rotated = keyring_.WithNewKey();
  CertificateStore after(&store_, &rotated, &clock_);
  auto resealed = after.Reseal();
  ASSERT_FALSE(resealed);
  EXPECT_EQ(resealed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(resealed.error().message.find("certificate for b.com"), std::string::npos)
      << resealed.error().message;
  const crypto::Keyring only_new = rotated.ActiveOnly();
  auto edges = CertificateStore(&store_, &only_new, &clock_).ForEdges();
  ASSERT_TRUE(edges);
  ASSERT_EQ(edges->size(), 1u);
  EXPECT_EQ((*edges)[0].key_pem, a.key);
}

}  // namespace
}  // namespace skiff::controller
