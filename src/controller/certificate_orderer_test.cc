#include "controller/certificate_orderer.h"

#include <gtest/gtest.h>

#include "crypto/x509.h"
#include "fakes/counting_store.h"
#include "fakes/fake_acme_directory.h"
#include "fakes/fake_challenge_edges.h"
#include "fakes/testing.h"
#include "store/leader_lease.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::FakeAcmeDirectory;

class CertificateOrdererTest : public ::testing::Test {
 protected:
  // The fake CA issues by the real time: the manual clock starts there.
  CertificateOrdererTest() : clock_(std::chrono::system_clock::now()), directory_(0) {
    directory_.SetValidator(edges_.Validator());
  }

  std::unique_ptr<CertificateOrderer> Orderer(int64_t epoch = store::kSingleServerEpoch,
                                              store::SharedSnapshotCache* snapshots = nullptr) {
    CertificateOrdererOptions options;
    options.contact = {"mailto:ops@skiff.test"};
    options.fence_epoch = epoch;
    return std::make_unique<CertificateOrderer>(&store_, &certs_, &account_, &directory_, &clock_,
                                                edges_.Publisher(), options, snapshots);
  }

  void AddApp(const std::string& name, std::vector<std::string> domains,
              model::EdgeTls tls = model::EdgeTls::kAuto) {
    model::App app;
    app.name = name;
    app.revision = 1;
    app.spec.name = name;
    app.spec.domains = std::move(domains);
    app.spec.edge.tls = tls;
    store::Txn txn;
    txn.Put(app, store::kMustNotExist);
    ASSERT_TRUE(store_.Commit(txn));
  }

  // Runs a pass and waits for the orders it started to end.
  void PassAndWait(CertificateOrderer& orderer) {
    orderer.Pass();
    // An order that polls waits on the manual clock: moved on a poll interval.
    ASSERT_TRUE(testing::PollUntil([&] {
      if (orderer.in_flight() == 0) return true;
      if (clock_.waiters() > 0) clock_.Advance(std::chrono::seconds(1));
      return false;
    }));
  }

  void RemoveApp(const std::string& name) {
    model::App app;
    app.name = name;
    store::Txn txn;
    txn.Delete(app, store::kAnyVersion);
    ASSERT_TRUE(store_.Commit(txn));
  }

  std::optional<StoredCertificate> Kept(const std::string& domain) {
    std::vector<StoredCertificate> kept = certs_.List().value();
    for (StoredCertificate& c : kept) {
      if (c.domain == domain) return c;
    }
    return std::nullopt;
  }
  std::vector<std::string> EventKinds() {
    std::vector<std::string> kinds;
    const std::vector<model::Event> events = store_.ListEvents({.oldest_first = true}).value();
    for (const model::Event& e : events) {
      if (e.kind.starts_with("certificate.")) kinds.push_back(e.kind);
    }
    return kinds;
  }

  ManualClock clock_;
  testing::CountingStore store_;
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  CertificateStore certs_{&store_, &keyring_, &clock_};
  AcmeAccountStore account_{&store_, &keyring_, "https://acme.test/dir"};
  testing::FakeChallengeEdges edges_;
  FakeAcmeDirectory directory_;
};

// Verify that a domain served with edge.tls auto is announced pending, gets a
// certificate kept as source acme with its key opening for the edges, and
// that the account made for it is kept and reused by the next order.
TEST_F(CertificateOrdererTest, IssuesForAServedDomain) {
  AddApp("web", {"Web.skiff.test/api"});
  AddApp("plain", {"plain.skiff.test"}, model::EdgeTls::kOff);
  auto orderer = Orderer();
  PassAndWait(*orderer);

  auto kept = Kept("web.skiff.test");
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->has_certificate());
  EXPECT_EQ(kept->source, CertificateSource::kAcme);
  EXPECT_EQ(kept->failures, 0);
  EXPECT_FALSE(Kept("plain.skiff.test").has_value());
  auto opened = certs_.ForEdges();
  ASSERT_TRUE(opened);
  ASSERT_EQ(opened->size(), 1u);
  EXPECT_EQ(opened->at(0).domains, std::vector<std::string>{"web.skiff.test"});
  EXPECT_EQ(EventKinds(), (std::vector<std::string>{"certificate.pending", "certificate.issued"}));
  EXPECT_EQ(directory_.accounts(), 1);
  auto account = account_.LoadOrCreate();
  ASSERT_TRUE(account);
  EXPECT_FALSE(account->url.empty());

  // Issued: nothing more to order until the renewal.
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 1);
  AddApp("api", {"api.skiff.test"});
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 2);
  EXPECT_EQ(directory_.accounts(), 1);
}

// Verify that a failed order is kept on a record with no certificate (the ACME
// server's words as last_error, a certificate.failed event), is not retried
// before its back-off, and is retried and issued after it.
TEST_F(CertificateOrdererTest, RetriesAfterTheBackoff) {
  AddApp("web", {"web.skiff.test"});
  edges_.SetBroken(true);
  auto orderer = Orderer();
  PassAndWait(*orderer);

  auto failed = Kept("web.skiff.test");
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->has_certificate());
  EXPECT_EQ(failed->failures, 1);
  EXPECT_NE(failed->last_error.find("the edge answered 404"), std::string::npos)
      << failed->last_error;
  EXPECT_EQ(EventKinds(), (std::vector<std::string>{"certificate.pending", "certificate.failed"}));
  ASSERT_TRUE(certs_.ForEdges());
  EXPECT_TRUE(certs_.ForEdges()->empty());

  edges_.SetBroken(false);
  clock_.Advance(kFirstOrderRetry - std::chrono::seconds(1));
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 1);

  clock_.Advance(std::chrono::seconds(1));
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 2);
  auto issued = Kept("web.skiff.test");
  ASSERT_TRUE(issued.has_value());
  EXPECT_TRUE(issued->has_certificate());
  EXPECT_EQ(issued->failures, 0);
  EXPECT_EQ(issued->last_error, "");
  EXPECT_EQ(EventKinds().back(), "certificate.issued");
}

// Verify that a certificate is renewed once two thirds of its lifetime are
// over, not before, and that the renewal says so.
TEST_F(CertificateOrdererTest, RenewsAtTwoThirds) {
  AddApp("web", {"web.skiff.test"});
  auto orderer = Orderer();
  PassAndWait(*orderer);
  auto first = Kept("web.skiff.test");
  ASSERT_TRUE(first.has_value() && first->has_certificate());
  const Time renewal = RenewalTime(first->not_before, first->not_after);

  clock_.Set(renewal - minutes(1));
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 1);

  clock_.Set(renewal);
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 2);
  auto renewed = Kept("web.skiff.test");
  ASSERT_TRUE(renewed.has_value());
  EXPECT_NE(renewed->fingerprint, first->fingerprint);
  EXPECT_EQ(EventKinds().back(), "certificate.renewed");
}

// Verify that an orderer reading through the server's shared state cache
// sees apps added after the cache was last read, from the change log: no
// whole read of the store after the cache's first.
TEST_F(CertificateOrdererTest, ReadsThroughTheSharedCache) {
  store::SharedSnapshotCache snapshots(&store_);
  AddApp("web", {"web.skiff.test"});
  auto orderer = Orderer(store::kSingleServerEpoch, &snapshots);
  PassAndWait(*orderer);
  const int whole_reads = store_.whole_reads();
  AddApp("api", {"api.skiff.test"});
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 2);
  EXPECT_TRUE(Kept("api.skiff.test").has_value());
  EXPECT_EQ(store_.whole_reads(), whole_reads);
}

// Verify that once no app serves a domain, its ACME record is forgotten when
// it holds only failures or an expired certificate, and kept while its
// certificate is valid (the domain may come back); manual ones are kept.
TEST_F(CertificateOrdererTest, ForgetsRecordsOfDomainsNoAppServes) {
  AddApp("api", {"api.skiff.test"});
  auto orderer = Orderer();
  PassAndWait(*orderer);
  ASSERT_TRUE(Kept("api.skiff.test").has_value() && Kept("api.skiff.test")->has_certificate());
  edges_.SetBroken(true);
  AddApp("web", {"web.skiff.test"});
  PassAndWait(*orderer);
  ASSERT_TRUE(Kept("web.skiff.test").has_value());
  auto key = crypto::GenerateP256Key();
  crypto::CertificateRequest request{
      "Manual", {"spare.skiff.test"}, clock_.Now() - hours(1), clock_.Now() + hours(24), false};
  auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
  ASSERT_TRUE(certs_.Put("spare.skiff.test", crypto::CertificatePem(cert->get()),
                         crypto::PrivateKeyPem(key->get()), CertificateSource::kManual));

  RemoveApp("api");
  RemoveApp("web");
  PassAndWait(*orderer);
  EXPECT_FALSE(Kept("web.skiff.test").has_value());
  ASSERT_TRUE(Kept("api.skiff.test").has_value());
  EXPECT_EQ(EventKinds().back(), "certificate.removed");

  clock_.Set(Kept("api.skiff.test")->not_after);
  PassAndWait(*orderer);
  EXPECT_FALSE(Kept("api.skiff.test").has_value());
  EXPECT_TRUE(Kept("spare.skiff.test").has_value());
}

// Verify that names Skiff does not order (localhost names, IP addresses, a
// single label from a public CA) are neither ordered nor announced pending.
TEST_F(CertificateOrdererTest, NamesNoCaIssuesForAreNotOrdered) {
  AddApp("hello", {"hello.localhost", "127.0.0.1", "localhost", "intranet"});
  auto orderer = Orderer();
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 0);
  EXPECT_TRUE(certs_.List()->empty());
  EXPECT_TRUE(EventKinds().empty());
}

// Verify that a valid manual certificate covering a domain (by wildcard)
// means no order for it.
TEST_F(CertificateOrdererTest, ManualCertificateMeansNoOrder) {
  auto key = crypto::GenerateP256Key();
  crypto::CertificateRequest request{
      "Manual", {"*.skiff.test"}, clock_.Now() - hours(1), clock_.Now() + hours(24 * 90), false};
  auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
  ASSERT_TRUE(certs_.Put("*.skiff.test", crypto::CertificatePem(cert->get()),
                         crypto::PrivateKeyPem(key->get()), CertificateSource::kManual));
  AddApp("web", {"web.skiff.test"});
  auto orderer = Orderer();
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 0);
  EXPECT_FALSE(Kept("web.skiff.test").has_value());
}

// Verify that an orderer of a term that is over orders nothing more once the
// store refuses its fenced event, however many passes follow.
TEST_F(CertificateOrdererTest, DeposedOrdersNothingMore) {
  AddApp("web", {"web.skiff.test"});
  auto orderer = Orderer(store::kSingleServerEpoch + 1);
  PassAndWait(*orderer);  // its certificate.pending is refused
  EXPECT_TRUE(orderer->deposed());
  EXPECT_EQ(directory_.calls("new_order"), 0);
  AddApp("api", {"api.skiff.test"});
  clock_.Advance(hours(2));
  PassAndWait(*orderer);
  EXPECT_EQ(directory_.calls("new_order"), 0);
  const std::vector<model::Event> events = store_.ListEvents({}).value();
  for (const model::Event& e : events) {
    EXPECT_FALSE(e.kind.starts_with("certificate.")) << e.kind;
  }
}

}  // namespace
}  // namespace skiff::controller
