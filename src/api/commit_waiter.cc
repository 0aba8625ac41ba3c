#include "api/commit_waiter.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace skiff::api {

namespace asio = boost::asio;

CommitWaiter::CommitWaiter(store::Store* store, asio::any_io_executor executor)
    : store_(store), state_(std::make_shared<State>(executor)) {
  std::weak_ptr<State> weak = state_;
  subscription_ = store_->Subscribe([weak, executor](int64_t) {
    // On the committing thread: only hand the wake-up over to the handler's
    // executor; the timer is touched there alone.
    asio::post(executor, [weak] {
      if (auto state = weak.lock()) state->timer.cancel();
    });
  });
}

CommitWaiter::~CommitWaiter() { subscription_.reset(); }

asio::awaitable<void> CommitWaiter::WaitPast(int64_t seen, Duration max_wait) {
  // A commit that landed before this check is seen here; one after it posts a
  // cancel that runs only once this coroutine is suspended in the wait below
  // (same serialised executor), so it cannot be lost.
  if (store_->Revision() > seen) co_return;
  state_->timer.expires_after(max_wait);
  boost::system::error_code ec;  // operation_aborted is the wake-up itself
  co_await state_->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace skiff::api
