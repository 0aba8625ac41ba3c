#include "edge/admission.h"

namespace skiff::edge {

namespace {

Refusal AdmissionUnrouted(const http1::RequestHead& head, bool whole) {
  return Refusal{404, "no app is served at " + NormaliseHost(head.host) + std::string(head.path),
                 !whole};
}

}  // namespace

Admission Admit(const http1::RequestHead& head, bool whole, const RoutingTable& table,
                const RateCheck& within_rate) {
  Admission out;
  out.route = table.Find(head.host, head.path);
  if (out.route == nullptr) {
    out.refusal = AdmissionUnrouted(head, whole);
    return out;
  }
  const Route& route = *out.route;
  const model::EdgePolicy& policy = route.policy;
  if (policy.rate_limit) {
    std::chrono::seconds wait{1};
    if (!within_rate(route, &wait)) {
      out.refusal = Refusal{429, "too many requests to app " + route.app + " from this address",
                            !whole, static_cast<int>(wait.count())};
      return out;
    }
  }
  if (head.content_length && *head.content_length > static_cast<uint64_t>(policy.max_body)) {
    out.refusal = Refusal{413,
                          "request body exceeds " + std::to_string(policy.max_body) +
                              " bytes (app " + route.app + " edge.max_body)",
                          true};
    return out;
  }
  if (route.endpoints.empty() && route.sleeping) {
    out.hold = true;
  } else if (route.endpoints.empty()) {
    out.refusal = Refusal{503, "app " + route.app + " has no healthy instance now", !whole};
  }
  return out;
}

Refusal WakeQueueFull(const Route& route, bool whole) {
  return Refusal{503,
                 "app " + route.app + " is waking up and " +
                     std::to_string(route.policy.wake_queue) +
                     " requests wait for it already (edge.wake_queue); try again",
                 !whole, kWakeRetryAfterSeconds};
}

Refusal WakeTimedOut(const Route& route, bool whole) {
  return Refusal{503, "app " + route.app + " is waking up; try again", !whole,
                 kWakeRetryAfterSeconds};
}

Refusal WakeAppGone(const Route& route, const http1::RequestHead& head, const RoutingTable& latest,
                    bool whole) {
  if (latest.Find(head.host, head.path) == nullptr) return AdmissionUnrouted(head, whole);
  return Refusal{503, "app " + route.app + " was replaced while it woke; try again", !whole};
}

}  // namespace skiff::edge
