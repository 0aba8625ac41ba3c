// How an agent says an instance's start can never succeed as its spec
// stands (the driver refused it for good: a failed image build, an image that
// cannot be had): its failed report's message starts with kCannotStartPrefix.
// The rollout then fails at once with that message instead of retrying the
// start into a crash loop.
#pragma once

#include "model/resources.h"

namespace skiff::model {

inline constexpr char kCannotStartPrefix[] = "cannot start: ";

inline bool CannotStart(const Instance& instance) {
  return instance.state == InstanceState::kFailed &&
         instance.message.starts_with(kCannotStartPrefix);
}

}  // namespace skiff::model
