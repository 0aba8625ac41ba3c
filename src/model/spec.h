// The app spec: what a user writes (YAML or JSON) and what a deployment revision
// freezes. Plain values with defaults; parsing and validation are in spec_parse.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace skiff::model {

// How a container reaches the network (run.network).
enum class NetworkMode {
  kBridge,  // its own network; `port` published on the node address at the allocated port
  kHost,    // the node's network; it binds $HOST:$PORT as a process does
};

// An image built on the node from source (run.build): exactly one of `context`
// (a directory on the node) or `git` (anything `git clone` takes).
struct BuildSpec {
  std::string context;
  std::string dockerfile = "Dockerfile";  // relative to the context
  std::string git;
  std::string ref;  // with git: the branch, tag or commit; empty = the default branch
  friend bool operator==(const BuildSpec&, const BuildSpec&) = default;
};

struct RunSpec {
  // Exactly one of command (a process), image or build (a container) is set.
  std::vector<std::string> command;
  std::string image;
  std::optional<BuildSpec> build;
  std::vector<std::string> args;  // for containers only
  // The working directory (absolute). Empty: a directory of the app's own on
  // its node (<data>/apps/<app>), never the agent's, which holds its secrets.
  std::string workdir;
  // Containers only. Every capability is dropped; these are given back
  // ("NET_BIND_SERVICE", upper case, without "CAP_").
  std::vector<std::string> cap_add;
  std::string user;        // "uid", "uid:gid" or a name of the image; empty: the image's
  bool read_only = false;  // a read-only root filesystem
  NetworkMode network = NetworkMode::kBridge;
  friend bool operator==(const RunSpec&, const RunSpec&) = default;
};

// Whether `run` is a container (an image, or one built from source) rather
// than a process: it needs a node with the docker driver.
inline bool IsContainer(const RunSpec& run) { return !run.image.empty() || run.build.has_value(); }

struct Resources {
  int64_t cpu_millis = 0;    // 0 = no reservation / no limit
  int64_t memory_bytes = 0;  // 0 = no reservation / no limit
  friend bool operator==(const Resources&, const Resources&) = default;
};

enum class HealthType { kHttp, kTcp, kNone };

struct HealthCheck {
  HealthType type = HealthType::kTcp;  // tcp when the spec gives no health block
  std::string path = "/";
  Duration interval = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(1);
  int healthy_threshold = 1;
  int unhealthy_threshold = 3;
  Duration grace = std::chrono::seconds(5);
  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

enum class PlacementStrategy { kSpread, kBinpack, kLeastLoaded, kRoundRobin };

enum class ConstraintOp { kEquals, kNotEquals, kExists };

// "zone == a", "zone != b", "compute" (label present).
struct Constraint {
  std::string key;
  ConstraintOp op = ConstraintOp::kExists;
  std::string value;
  friend bool operator==(const Constraint&, const Constraint&) = default;
};

// How the edge spreads an app's requests over its instances.
enum class LoadBalancer { kP2c, kLeastRequest, kRoundRobin };
// How an app is served on the edge's TLS listener: auto (a certificate from
// ACME when the server has it, else what was added by hand, else the edge's
// fallback), manual (only a certificate added by hand), off (not at all).
enum class EdgeTls { kAuto, kManual, kOff };

// A token bucket: `average` requests a second, bursts of up to `burst`.
struct RateLimit {
  int average = 0;
  int burst = 0;
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// The largest request body the edge accepts for any app (it holds bodies in memory).
inline constexpr int64_t kMaxEdgeBodyBytes = int64_t{256} << 20;

struct EdgePolicy {
  // p2c: the better of two random instances by latency (EWMA) and load.
  LoadBalancer lb = LoadBalancer::kP2c;
  // Per client address; none when unset.
  std::optional<RateLimit> rate_limit;
  // Circuit breaker: more requests in flight to the app than this get 503.
  int max_in_flight = 1000;
  // Larger request bodies get 413.
  int64_t max_body = int64_t{10} << 20;
  // Connecting to an instance (longer: it counts as unreachable, 504 when no
  // other is left), and from the request sent to the response's head and
  // between pieces of its body (longer: 504, or the response is cut).
  Duration connect_timeout = std::chrono::seconds(5);
  Duration response_timeout = std::chrono::seconds(60);
  // An instance being stopped leaves the routes first; its requests in flight
  // get this long to finish before it is sent SIGTERM.
  Duration drain_timeout = std::chrono::seconds(10);
  EdgeTls tls = EdgeTls::kAuto;
  // A plain listener's request gets 301 (308 but for GET, HEAD) to https://
  // (a pending ACME challenge excepted), when the edge has a TLS listener.
  bool https_redirect = false;
  // Responses over TLS carry Strict-Transport-Security: max-age of this.
  std::optional<Duration> hsts;
  // Scale to zero (docs/scale-to-zero.md): while the app sleeps or wakes, an
  // edge holds up to wake_queue of its requests, each up to wake_timeout, for
  // its first healthy instance; past either, 503 with Retry-After.
  int wake_queue = 100;
  Duration wake_timeout = std::chrono::seconds(30);
  friend bool operator==(const EdgePolicy&, const EdgePolicy&) = default;
};

struct Placement {
  PlacementStrategy strategy = PlacementStrategy::kSpread;
  std::vector<Constraint> constraints;
  friend bool operator==(const Placement&, const Placement&) = default;
};

enum class UpdateStrategy { kRolling, kBlueGreen, kCanary };

struct UpdatePolicy {
  UpdateStrategy strategy = UpdateStrategy::kRolling;
  int max_surge = 1;
  int max_unavailable = 0;
  Duration min_healthy_time = std::chrono::seconds(2);
  Duration healthy_deadline = std::chrono::seconds(60);
  bool auto_revert = true;
  // canary: this many instances of the new revision come up first and take
  // canary_weight percent of the traffic until promoted (`skiff promote`, or
  // auto_promote once they stayed healthy for min_healthy_time).
  int canary = 1;
  int canary_weight = 10;
  bool auto_promote = false;
  // blue-green: how long the old set stays up (unrouted) after the switch.
  Duration keep_old = Duration(0);
  friend bool operator==(const UpdatePolicy&, const UpdatePolicy&) = default;
};

// How the autoscaler (controller/autoscaler.h, docs/autoscaling.md) sets the
// app's replica count from what the edges and agents measure. Each target is a
// signal; 0 leaves it unused. Validation (spec_parse.h) asks for at least one
// signal, or scale_to_zero.
struct Autoscale {
  int min = 1;  // 0 only with scale_to_zero
  int max = 10;
  int target_rps_per_replica = 0;  // requests a second one replica should take
  int max_p95_ms = 0;              // the app's p95 latency at the edges, in ms
  int target_cpu = 0;              // mean cpu use, percent of resources.cpu
  int target_memory = 0;           // mean memory use, percent of resources.memory
  // Hysteresis, in percent of the target: out when a signal is more than
  // scale_out_threshold above it, in when every one is more than
  // scale_in_threshold below it. Between the two nothing changes, so a load
  // near the target does not flap the count.
  int scale_out_threshold = 10;
  int scale_in_threshold = 20;
  Duration window = std::chrono::seconds(60);          // signals are averaged over it
  Duration cooldown_up = std::chrono::seconds(30);     // after a scale out, before the next
  Duration cooldown_down = std::chrono::seconds(120);  // after any scale, before a scale in
  int max_step = 4;  // replicas added or removed by one decision, at most
  // With min 0: no request for `idle` stops every instance; a request wakes the app.
  bool scale_to_zero = false;
  Duration idle = std::chrono::minutes(10);
  friend bool operator==(const Autoscale&, const Autoscale&) = default;
};

struct RegionOverride {
  std::optional<int> replicas;
  std::map<std::string, std::string> env;
  friend bool operator==(const RegionOverride&, const RegionOverride&) = default;
};

// The project every app belongs to unless its spec names another.
inline constexpr const char* kDefaultProject = "default";

struct AppSpec {
  std::string name;  // a DNS label, unique across the platform
  // The project the app belongs to (a DNS label): who may see and change it
  // (auth/identity.h). It must exist when the app is applied (`skiff projects
  // create`), but the default project, which always does.
  std::string project = kDefaultProject;
  RunSpec run;
  std::map<std::string, std::string> env;
  int port = 0;  // the port an image listens on; a process gets $PORT
  std::vector<std::string> domains;
  int replicas = 1;
  Resources resources;
  HealthCheck health;
  Placement placement;
  UpdatePolicy update;
  std::optional<Autoscale> autoscale;
  std::map<std::string, RegionOverride> regions;
  EdgePolicy edge;
  Duration stop_grace = std::chrono::seconds(10);  // SIGTERM -> SIGKILL
  // The version of each of the app's secrets (auth/secrets.h) this revision
  // runs with, by name; never a value. Set by Skiff (`skiff secrets`), not by
  // users: a spec that names it is refused, and an apply keeps the app's
  // current versions. A changed secret changes it, which makes a new
  // revision and so rolls the instances out like any change.
  std::map<std::string, int64_t> secret_versions;
  friend bool operator==(const AppSpec&, const AppSpec&) = default;
};

}  // namespace skiff::model
