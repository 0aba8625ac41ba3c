// The io_uring engine of EventLoop (event_loop.h): multishot accept, a
// multishot recv per socket into a provided buffer ring (one-shot recvs of a
// buffer each while its handler falls behind), sends as SQEs
// from buffers the engine owns until their completion, and one
// io_uring_submit_and_wait a round.
#pragma once

#include <memory>

#include "edge/event_loop.h"

namespace skiff::edge {

struct UringLoopOptions {
  // Submission and completion queue entries (powers of two, completions >=
  // submissions). Past them the engine submits early and takes completions
  // off the ring early; tests shrink them to make that happen.
  unsigned queue_depth = 1024;
  unsigned completion_depth = 8192;
};

// A new io_uring loop; kUnavailable when the build has no liburing, the
// kernel has no io_uring or refuses it, or lacks what the engine uses
// (IORING_FEAT_EXT_ARG, accept/recv/send/poll/cancel, provided buffer rings,
// multishot accept and recv: about Linux 6.0); the message says why.
Result<std::unique_ptr<EventLoop>> NewUringLoop(const UringLoopOptions& options = {});

}  // namespace skiff::edge
