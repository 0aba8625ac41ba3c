#include "store/postgres/commit_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/logging.h"
#include "store/postgres/connection.h"

namespace skiff::store::postgres {
namespace {

constexpr Duration kFirstRetry = std::chrono::milliseconds(50);
constexpr Duration kLastRetry = std::chrono::seconds(2);

}  // namespace

CommitListener::CommitListener(std::string conninfo, Duration safety_interval,
                               std::function<void(int64_t)> on_revision)
    : conninfo_(std::move(conninfo)),
      safety_interval_(safety_interval),
      on_revision_(std::move(on_revision)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  SKIFF_CHECK(wake_fd_ >= 0);
  thread_ = std::thread([this] { Loop(); });
}

CommitListener::~CommitListener() {
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
}

bool CommitListener::Wait(int fd, Duration timeout) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  const int n = ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000)));
  return n > 0 && fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

void CommitListener::Loop() {
  Connection connection(conninfo_,
                        {{"read_revision", "SELECT revision FROM log_state WHERE id = 1"}});
  Duration retry = kFirstRetry;
  bool warned = false;
  while (!stopping_) {
    PGconn* conn = connection.raw();
    if (conn == nullptr) {
      Status up = connection.EnsureConnected();
      if (up) up = connection.Exec(std::string("LISTEN ") + kCommitChannel).map([](auto&&) {});
      if (!up) {
        connection.Drop();
        if (!warned) SKIFF_LOG_WARN("store: commit listener: {}", up.error().ToString());
        warned = true;
        Wait(-1, retry);
        retry = std::min(retry * 2, kLastRetry);
        continue;
      }
      if (warned) SKIFF_LOG_INFO("store: commit listener reconnected");
      warned = false;
      retry = kFirstRetry;
      ++connects_;
      conn = connection.raw();
    }
    // After a (re)connect, a notification or the safety interval alike: what
    // was missed meanwhile is in the log, and the revision says how far.
    Result<Rows> rows = connection.Run("read_revision", {});
    Result<int64_t> revision = !rows ? Result<int64_t>(tl::unexpected(rows.error()))
                               : rows->size() == 1
                                   ? rows->Int(0, 0)
                                   : Result<int64_t>(Internal("postgres: log_state row missing"));
    if (!revision) {
      SKIFF_LOG_WARN("store: commit listener: {}", revision.error().ToString());
      connection.Drop();
      // Not only a lost connection: a statement that keeps failing on a
      // live one must not spin.
      Wait(-1, retry);
      retry = std::min(retry * 2, kLastRetry);
      continue;
    }
    retry = kFirstRetry;
    on_revision_(*revision);
    // Notifications that came with the read's result (commits during it)
    // would not wake the poll below: the read after them covers them.
    bool pending = false;
    while (PGnotify* n = PQnotifies(conn)) {
      PQfreemem(n);
      pending = true;
    }
    if (pending) continue;
    if (!Wait(PQsocket(conn), safety_interval_)) continue;
    if (PQconsumeInput(conn) == 0) {
      SKIFF_LOG_WARN("store: commit listener lost its connection: {}", PQerrorMessage(conn));
      connection.Drop();
      continue;
    }
    while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);
  }
}

}  // namespace skiff::store::postgres
