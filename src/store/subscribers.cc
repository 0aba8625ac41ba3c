#include "store/subscribers.h"

#include <algorithm>
#include <utility>

namespace skiff::store {

class SubscriberHub::Handle final : public Subscription {
 public:
  Handle(std::shared_ptr<SubscriberHub> hub, std::shared_ptr<Entry> entry)
      : hub_(std::move(hub)), entry_(std::move(entry)) {}

  ~Handle() override {
    hub_->Remove(entry_);
    std::unique_lock lock(entry_->mu);
    entry_->cancelled = true;
    // A callback that (against the contract) drops its own subscription must not
    // wait for itself, so only calls on other threads are waited for.
    const auto self = std::this_thread::get_id();
    entry_->idle.wait(lock, [&] {
      return std::all_of(entry_->running.begin(), entry_->running.end(),
                         [&](std::thread::id id) { return id == self; });
    });
  }

 private:
  std::shared_ptr<SubscriberHub> hub_;
  std::shared_ptr<Entry> entry_;
};

std::shared_ptr<SubscriberHub> SubscriberHub::Create() {
  return std::shared_ptr<SubscriberHub>(new SubscriberHub());
}

std::unique_ptr<Subscription> SubscriberHub::Subscribe(std::function<void(int64_t)> on_commit) {
  auto entry = std::make_shared<Entry>(std::move(on_commit));
  {
    std::lock_guard lock(mu_);
    entries_.push_back(entry);
  }
  return std::make_unique<Handle>(shared_from_this(), std::move(entry));
}

void SubscriberHub::Remove(const std::shared_ptr<Entry>& entry) {
  std::lock_guard lock(mu_);
  std::erase(entries_, entry);
}

void SubscriberHub::Notify(int64_t revision) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mu_);
    entries = entries_;
  }
  const auto self = std::this_thread::get_id();
  for (const auto& entry : entries) {
    {
      std::lock_guard lock(entry->mu);
      if (entry->cancelled) continue;
      entry->running.push_back(self);
    }
    // Leaves the running set even if the callback throws, so that a destructor
    // waiting for it cannot hang.
    struct Leave {
      Entry& entry;
      std::thread::id self;
      ~Leave() {
        std::lock_guard lock(entry.mu);
        auto it = std::find(entry.running.begin(), entry.running.end(), self);
        if (it != entry.running.end()) entry.running.erase(it);
        entry.idle.notify_all();
      }
    } leave{*entry, self};
    entry->callback(revision);
  }
}

}  // namespace skiff::store
