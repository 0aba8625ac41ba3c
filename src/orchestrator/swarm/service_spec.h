// How an app's spec becomes a Swarm ServiceSpec (docs/swarm.md): one service
// per app, labelled skiff.app / skiff.revision, its replicas Swarm tasks on
// the host's network, each task binding a loopback address of its own taken
// from its slot. Pure functions, tested with tables.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "model/spec.h"

namespace skiff::orchestrator::swarm {

inline constexpr char kLabelApp[] = "skiff.app";
inline constexpr char kLabelRevision[] = "skiff.revision";
// Which Skiff (cluster id) made the service: two Skiffs sharing one Swarm
// never take each other's services for orphans.
inline constexpr char kLabelOwner[] = "skiff.owner";

// The most tasks one service may have: each binds <prefix>.<slot>, and a
// slot past 254 is no address.
inline constexpr int kMaxSlots = 254;

struct ServiceSpecOptions {
  // The image to run, by ID ("sha256:…") or digest ("name@sha256:…"):
  // Swarm re-pulls an image given by tag before every task, even one that is
  // local, so Skiff pins the image it resolved. run.image as written when
  // empty (tests, an image already given by digest). An app built from
  // source (run.build) must be given the built image here.
  std::string image;
  // Three octets of 127.0.0.0/8 ("127.40.3"): the task in slot N binds
  // <prefix>.N, so that the tasks of one machine (even of several Swarm
  // nodes on it) never clash on a port. Unique per service on the Swarm.
  std::string address_prefix;
  // The service's name; the app's name when empty.
  std::string name;
  // The replica count when it is not the spec's (scaled, autoscaled).
  std::optional<int> replicas;
  // Labelled skiff.owner when not empty.
  std::string owner;
  // More environment, over the spec's env and under Skiff's own variables.
  // Plain text in the service spec and Swarm's raft log: the app's secrets
  // must become Swarm secrets when this is wired, not values here.
  std::map<std::string, std::string> env;
  // The most processes a task may have (Resources.Limits.Pids).
  int64_t pids_limit = 1024;
};

// The ServiceSpec for `app` at `revision`. kInvalidArgument naming the field
// when the app cannot run on Swarm as written: a process (run.command), a
// bridge network (run.network: Swarm tasks run on the host's network here),
// a build without a given image (run.build), ${HOST} or ${SKIFF_INSTANCE} in
// run.args (they differ per task and Swarm fills templates into env only), a
// placement strategy Swarm has no form of (binpack, round-robin), a
// constraint that only asks for a label to exist, more replicas than slots
// have addresses (replicas, autoscale.max), a constraint key with '/'
// (Swarm's constraint syntax has none), cpu past what an engine takes
// (resources.cpu); and for options that are not valid (address_prefix).
// The image's own HEALTHCHECK is switched off: Skiff's probes decide.
//
// Hardening as the docker driver's where Swarm has a field: every capability
// dropped but run.cap_add, run.user, run.read_only, a pids limit, no mounts,
// never privileged. Swarm (API 1.41) has no field for no-new-privileges: a
// task runs without it (docs/swarm.md).
Result<boost::json::object> ServiceSpecFor(const model::AppSpec& app, int64_t revision,
                                           const ServiceSpecOptions& options);

// The address of the task in `slot` of a service with `address_prefix`, as
// the service's HOST template gives it: "127.40.3.2".
std::string TaskHost(std::string_view address_prefix, int64_t slot);

// `text` made literal for a Swarm template (Go text/template): every "{{"
// becomes {{"{{"}}, so a user's value is never run as a template.
std::string EscapeTemplate(std::string_view text);

}  // namespace skiff::orchestrator::swarm
