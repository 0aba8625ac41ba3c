// Crash durability of SqliteStore: a Commit that returned must survive kill -9.
// A child process commits and reports each acknowledged revision through a pipe;
// the parent kills it mid-stream and checks every acknowledged write in the file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fakes/testing.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

constexpr int kMaxTxns = 100'000;  // the child never gets this far before the kill
constexpr size_t kKillAfterAcks = 40;

std::string AppName(int64_t i) { return "app-" + std::to_string(i); }

bool WriteAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The child: txn i creates app-i (revision 2i+1) and an event (revision 2i+2),
// with a record and an audit entry of request app-i, and reports 2i+2 once
// Commit has returned. Never returns.
[[noreturn]] void RunChild(const std::string& path, int ack_fd) {
  auto store = SqliteStore::Open(path);
  if (!store) _exit(2);
  for (int64_t i = 0; i < kMaxTxns; ++i) {
    Txn txn;
    txn.Put(testing::MakeApp(AppName(i)), kMustNotExist)
        .AddEvent(testing::MakeEvent(AppName(i), "committed"))
        .PutRecord(RecordKind::kProject, AppName(i), "p")
        .Audit(AuditEntry{.who = "admin", .app = AppName(i), .request_id = AppName(i)});
    auto revision = (*store)->Commit(txn);
    if (!revision) _exit(3);
    if (!WriteAll(ack_fd, &*revision, sizeof(*revision))) _exit(4);
  }
  _exit(0);
}

// Verify that every revision acknowledged before a SIGKILL is in the store
// after reopening, with the records and audit entries of its txn.
TEST(SqliteDurabilityTest, AcknowledgedCommitsSurviveSigkill) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0) << std::strerror(errno);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    close(fds[0]);
    RunChild(path, fds[1]);
  }
  close(fds[1]);

  // Read acks until the kill; then drain what the child wrote before dying.
  std::vector<int64_t> acked;
  std::string buffer;
  bool killed = false;
  char chunk[256];
  while (true) {
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    while (buffer.size() >= sizeof(int64_t)) {
      int64_t revision;
      std::memcpy(&revision, buffer.data(), sizeof(revision));
      buffer.erase(0, sizeof(revision));
      acked.push_back(revision);
    }
    if (!killed && acked.size() >= kKillAfterAcks) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_GE(acked.size(), kKillAfterAcks);

  auto reopened = SqliteStore::Open(path);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
  SqliteStore& store = **reopened;
  EXPECT_GE(store.Revision(), acked.back());
  for (size_t i = 0; i < acked.size(); ++i) {
    SCOPED_TRACE("txn " + std::to_string(i));
    EXPECT_EQ(acked[i], 2 * static_cast<int64_t>(i) + 2);
    auto app = store.GetApp(AppName(static_cast<int64_t>(i)));
    ASSERT_TRUE(app.has_value()) << app.error().ToString();
    EXPECT_EQ(app->version, acked[i] - 1);
  }
  auto audit = store.ListAudit({.limit = acked.size() + 10, .oldest_first = true});
  ASSERT_TRUE(audit.has_value()) << audit.error().ToString();
  ASSERT_GE(audit->size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) {
    SCOPED_TRACE("txn " + std::to_string(i));
    EXPECT_EQ((*audit)[i].request_id, AppName(static_cast<int64_t>(i)));
    EXPECT_EQ((*audit)[i].revision, acked[i]);
    EXPECT_EQ(store.GetRecord(RecordKind::kProject, AppName(static_cast<int64_t>(i))).value_or(""),
              "p");
  }
  auto events = store.ListEvents({.limit = acked.size() + 10});
  ASSERT_TRUE(events.has_value());
  ASSERT_GE(events->size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) EXPECT_EQ((*events)[i].id, acked[i]);
  auto changes = store.ChangesSince(0, static_cast<size_t>(acked.back()));
  ASSERT_TRUE(changes.has_value()) << changes.error().ToString();
  ASSERT_EQ(changes->size(), static_cast<size_t>(acked.back()));
  for (size_t i = 0; i < changes->size(); ++i) {
    EXPECT_EQ((*changes)[i].revision, static_cast<int64_t>(i) + 1);
  }
  // The store goes on from where the child stopped.
  auto next = store.Commit(Txn().Put(testing::MakeNode("after"), kMustNotExist));
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_GT(*next, acked.back());
}

}  // namespace
}  // namespace skiff::store
