// PostWake: how a standalone edge asks the control plane to wake an app that
// sleeps (EdgeOptions::wake, waker.h): POST /v1/edges/{name}/wake with
// {"app":"web"}, as the edge's traffic reports go (traffic_reporter.h).
#pragma once

#include <functional>
#include <string>

#include "net/server_pool.h"

namespace skiff::edge {

// A wake call through `servers` (any server takes it) with `token` as the
// bearer, as edge `name()` (asked at each call: a standalone edge knows its
// name once it listens). Each post is bounded by 2 s and goes on to the next
// server after a transport error; a failure is logged, once until the next
// success (the Waker asks again while requests are held). Blocks: for the
// Waker's thread only.
std::function<void(const std::string& app)> PostWake(net::ServerPool servers, std::string token,
                                                     std::function<std::string()> name);

}  // namespace skiff::edge
