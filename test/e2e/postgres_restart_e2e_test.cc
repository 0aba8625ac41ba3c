// End-to-end: PostgreSQL restarted under load (issue 13, §3). Two `skiff
// server` on one database the test starts (fakes/postgres_server.h), a client
// writing through both without pause, a `/v1/watch` stream open on one of
// them; the database restarts mid-way. Every write acknowledged before, during
// or after comes out of the database afterwards, the streams (never reopened:
// `/v1/watch` and `/v1/events?follow=true`) deliver every one of them, the
// watch in revision order, and the leader's controller still acts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "fakes/postgres_server.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;

// The writes a client had acknowledged (2xx), and how many it sent.
class Acknowledged {
 public:
  void Add(const std::string& name) {
    std::lock_guard lock(mu_);
    names_.push_back(name);
  }
  std::vector<std::string> Names() const {
    std::lock_guard lock(mu_);
    return names_;
  }
  size_t Count() const {
    std::lock_guard lock(mu_);
    return names_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> names_;  // GUARDED_BY(mu_)
};

// The app names a `/v1/watch` stream's output carries, in order, with their
// revisions; false when a line is not a change.
bool ParseWatch(const std::string& output, std::vector<std::pair<int64_t, std::string>>* apps,
                std::vector<int64_t>* revisions, std::string* bad) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("revision")) {
      // The last line may be cut mid-write; anything else is wrong.
      if (!lines.eof()) {
        *bad = line;
        return false;
      }
      continue;
    }
    const int64_t revision = v.at("revision").to_number<int64_t>();
    revisions->push_back(revision);
    if (v.at("kind").as_string() == "app" && !v.at("deleted").as_bool()) {
      apps->emplace_back(revision, std::string(v.at("object").at("name").as_string()));
    }
  }
  return true;
}

// Verify that when PostgreSQL restarts while a client writes through two
// servers: writes in the outage answer 503 (never another error), every
// acknowledged write is in the database afterwards, a watch stream opened
// before the restart delivers every acknowledged app in strictly increasing
// revisions without being reopened (an events stream: each one's event), and the leader's
// controller acts on a write made after the restart.
TEST(PostgresRestartE2eTest, RestartUnderWritesLosesNothing) {
  SKIFF_REQUIRE_POSTGRES(pg);
  auto db = pg->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  const std::string database = PostgresServer::DatabaseOf(*db);
  std::vector<std::unique_ptr<SkiffServer>> servers;
  for (int i = 1; i <= 2; ++i) {
    auto server = std::make_unique<SkiffServer>();
    server->AddArgs({"--store", pg->Uri(database), "--no-agent", "--no-edge", "--server-id",
                     "s" + std::to_string(i), "--leader-ttl", "1s"});
    // The first server makes the admin token, CA and keyring; the other shares them.
    if (i > 1) server->JoinClusterOf(*servers[0]);
    ASSERT_TRUE(server->Start()) << "s" << i;
    servers.push_back(std::move(server));
  }

  TempDir dir;
  const std::string watch_out = dir.File("watch.ndjson");
  Subprocess watch(
      {"/usr/bin/curl", "-sS", "-N", "-H", "Authorization: Bearer " + servers[1]->token(),
       "http://" + servers[1]->addr() + "/v1/watch?since=0"},
      {}, watch_out);
  Subprocess events(
      {"/usr/bin/curl", "-sS", "-N", "-H", "Authorization: Bearer " + servers[0]->token(),
       "http://" + servers[0]->addr() + "/v1/events?follow=true"},
      {}, dir.File("events.ndjson"));

  Acknowledged acked;
  std::atomic<int> refused = 0;  // 503s
  std::atomic<bool> done = false;
  std::mutex codes_mu;
  std::map<int, int> other_codes;  // GUARDED_BY(codes_mu): neither 201 nor 503
  std::thread client([&] {
    for (int i = 0; !done; ++i) {
      const std::string name = "w" + std::to_string(i);
      auto r = servers[i % 2]->Api("PUT", "/v1/apps/" + name, SleeperSpec(name, 0));
      if (r.has_value() && r->status == 201) {
        acked.Add(name);
      } else if (r.has_value() && r->status == 503) {
        ++refused;
      } else if (r.has_value()) {
        std::lock_guard lock(codes_mu);
        ++other_codes[r->status];
      }
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& client;
    ~Join() {
      done = true;
      if (client.joinable()) client.join();
    }
  } join{done, client};

  // Both streams have begun (a line each) before the database goes.
  ASSERT_TRUE(PollUntil(
      [&] { return acked.Count() >= 20 && !watch.Output().empty() && !events.Output().empty(); },
      std::chrono::seconds(20)));
  // Down long enough that the streams read the store meanwhile (each reads
  // at least once a second) and the client is refused a few times.
  ASSERT_TRUE(pg->Stop());
  const int refused_before = refused;
  ASSERT_TRUE(PollUntil([&] { return refused >= refused_before + 5; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // an outage the streams' reads span
  ASSERT_TRUE(pg->Start());
  const size_t at_restart = acked.Count();
  ASSERT_TRUE(PollUntil([&] { return acked.Count() >= at_restart + 20; }, std::chrono::seconds(30)))
      << "writes did not resume after the restart";
  done = true;
  client.join();
  {
    std::lock_guard lock(codes_mu);
    EXPECT_TRUE(other_codes.empty()) << "a write answered " << other_codes.begin()->first;
  }

  const std::vector<std::string> names = acked.Names();
  for (const std::string& name : names) {
    auto r = servers[0]->Api("GET", "/v1/apps/" + name);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->status, 200) << name << " was acknowledged but is missing";
  }

  std::vector<std::pair<int64_t, std::string>> streamed;
  std::vector<int64_t> revisions;
  std::string bad;
  EXPECT_TRUE(PollUntil([&] {
    streamed.clear();
    revisions.clear();
    if (!ParseWatch(watch.Output(), &streamed, &revisions, &bad)) return true;
    std::set<std::string> seen;
    for (const auto& [revision, name] : streamed) seen.insert(name);
    for (const std::string& name : names) {
      if (!seen.contains(name)) return false;
    }
    return true;
  })) << "the watch stream did not deliver every acknowledged app";
  EXPECT_TRUE(bad.empty()) << "not a change: " << bad;
  EXPECT_TRUE(watch.Running()) << "the watch stream ended: " << watch.Output();
  // The events stream too goes on across the restart: every acknowledged
  // app's first event arrives, and no error line.
  EXPECT_TRUE(PollUntil([&] {
    const std::string out = events.Output();
    for (const std::string& name : names) {
      if (out.find("\"app\":\"" + name + "\"") == std::string::npos) return false;
    }
    return true;
  })) << "the events stream did not deliver every acknowledged app's event";
  EXPECT_TRUE(events.Running()) << "the events stream ended";
  EXPECT_EQ(events.Output().find("\"error\""), std::string::npos) << events.Output();
  for (size_t i = 1; i < revisions.size(); ++i) {
    ASSERT_LT(revisions[i - 1], revisions[i]) << "revisions out of order at line " << i;
  }

  auto scaled = servers[1]->Api("PUT", "/v1/apps/after", SleeperSpec("after", 2));
  ASSERT_TRUE(scaled.has_value()) << scaled.error().ToString();
  ASSERT_EQ(scaled->status, 201) << scaled->body;
  EXPECT_TRUE(PollUntil([&] { return Instances(*servers[0], "after").size() == 2; },
                        std::chrono::seconds(15)))
      << "the leader's controller did not act after the restart";
  std::cout << names.size() << " writes acknowledged, " << names.size() - at_restart
            << " after the restart\n";
}

}  // namespace
}  // namespace skiff::testing
