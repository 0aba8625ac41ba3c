// Random histories for the rollout planner: applies with random update
// policies, scales, restarts, promotes, crashes (some into a crash loop),
// health blips, node drains and losses, and jumps in time, each followed by
// reconcile passes. Every seed must keep the reconciler's contract and settle:
//   - after each step the passes go quiet (no action repeated pass after pass);
//   - once every node is back and time has passed, the current deployment is
//     healthy with exactly `replicas` instances, all serving, or it failed
//     (a crash loop, or a failed rollout with nothing to go back to).
// A failure prints the seed, the steps and the actions, and the final state.
// SKIFF_ROLLOUT_SEEDS sets the number of seeds (default 2,000; tens of thousands were
// run when the planner was reviewed).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "controller/backoff.h"
#include "controller/reconciler_test_util.h"

namespace skiff::controller {
namespace {

using std::chrono::seconds;
using test_util::World;

std::string Dump(World& w) {
  std::string s;
  for (const auto& d : w.snapshot.deployments) {
    s += fmt::format("  deployment {} {} '{}' promoted={}\n", d.revision, model::ToString(d.state),
                     d.message, d.promoted);
  }
  for (const auto& i : w.snapshot.instances) {
    s += fmt::format("  instance {} r{} e{} {} {} {} {} {} crashes={}\n", i.id, i.revision,
                     i.restart_epoch, i.node, model::ToString(i.desired), model::ToString(i.state),
                     model::ToString(i.health), model::ToString(i.traffic), i.crash_count);
  }
  const model::App& a = w.snapshot.apps[0];
  s += fmt::format("  app revision {} epoch {} replicas {}\n", a.revision, a.restart_epoch,
                   a.spec.replicas);
  return s;
}

// One seed's history; the failure, or nullopt.
std::optional<std::string> RunSeed(int seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  World w;
  w.stamp_healthy_since = true;
  w.AddNode("n1");
  w.AddNode("n2");
  auto policy = [&](model::AppSpec& s) {
    const int k = pick(3);
    s.update.strategy = k == 0   ? model::UpdateStrategy::kRolling
                        : k == 1 ? model::UpdateStrategy::kBlueGreen
                                 : model::UpdateStrategy::kCanary;
    s.update.canary = 1 + pick(3);
    s.update.auto_promote = pick(2) == 1;
    s.update.auto_revert = pick(4) != 0;
    s.update.keep_old = seconds(pick(2) * 10);
    s.update.max_surge = pick(3);
    s.update.max_unavailable = s.update.max_surge == 0 ? 1 + pick(2) : pick(2);
    s.domains = {"a.localhost"};
  };
  w.AddApp("web", 1 + pick(4), policy);
  std::string log;
  auto fail = [&](const std::string& what) {
    return fmt::format("seed {}: {}\n{}{}", seed, what, log, Dump(w));
  };
  int env = 0;
  for (int step = 0; step < 80; ++step) {
    const int op = pick(14);
    std::string what = "tick";
    if (op == 0) {
      w.NewRevision("web", [&](model::AppSpec& s) {
        s.env["V"] = std::to_string(++env);
        policy(s);
      });
      what = "apply";
    } else if (op == 1) {
      const int replicas = pick(5);
      w.NewRevision("web", [&](model::AppSpec& s) { s.replicas = replicas; });
      what = fmt::format("scale {}", replicas);
    } else if (op == 2) {
      ++w.App("web").restart_epoch;
      what = "restart";
    } else if (op == 3) {
      model::Deployment& d = w.Deployment("web", w.App("web").revision);
      if (d.spec.update.strategy == model::UpdateStrategy::kCanary &&
          d.state == model::DeploymentState::kProgressing) {
        d.promoted = true;
        d.progressed_at = w.now;
        what = "promote";
      }
    } else if (op == 4 && !w.snapshot.instances.empty()) {
      model::Instance& i =
          w.snapshot.instances[pick(static_cast<int>(w.snapshot.instances.size()))];
      if (i.desired == model::DesiredState::kRun && i.state == model::InstanceState::kRunning) {
        w.Crash(i.id, 1);
        if (pick(3) == 0) i.crash_count = kCrashLoopThreshold;
        what = "crash " + i.id;
      }
    } else if (op == 5) {
      model::Node& n = w.snapshot.nodes[pick(2)];
      n.status = n.status == model::NodeStatus::kReady ? model::NodeStatus::kDraining
                                                       : model::NodeStatus::kReady;
      what = "drain toggle " + n.id;
    } else if (op == 6) {
      w.now += seconds(pick(90));
      what = "time";
    } else if (op == 11 && !w.snapshot.instances.empty()) {
      model::Instance& i =
          w.snapshot.instances[pick(static_cast<int>(w.snapshot.instances.size()))];
      if (i.state == model::InstanceState::kRunning) {
        i.health = model::Health::kUnhealthy;
        i.healthy_since = Time{};
        what = "unhealthy " + i.id;
      }
    } else if (op == 12) {
      model::Node& n = w.snapshot.nodes[pick(2)];
      n.status = n.status == model::NodeStatus::kDown ? model::NodeStatus::kReady
                                                      : model::NodeStatus::kDown;
      what = "down toggle " + n.id;
    } else {
      w.AgentTick();
      w.now += seconds(1);
    }
    log += "step " + what + "\n";
    // Passes at a fixed time until quiet: an action repeated pass after pass
    // is a write that never takes.
    std::vector<std::string> previous;
    int passes = 0;
    for (; passes < 8; ++passes) {
      std::vector<std::string> actions = w.Pass();
      for (const std::string& a : actions) log += "   " + a + "\n";
      if (actions.empty()) break;
      for (const std::string& a : actions) {
        if (a.find("unplaceable") == std::string::npos &&
            std::find(previous.begin(), previous.end(), a) != previous.end()) {
          return fail("repeated action " + a);
        }
      }
      previous = std::move(actions);
    }
    if (passes == 8) return fail("no quiet after 8 passes");
  }
  // Settle: every node back, agents converge, time passes; a canary waiting
  // for a human is promoted.
  for (model::Node& n : w.snapshot.nodes) n.status = model::NodeStatus::kReady;
  for (int i = 0; i < 60; ++i) {
    w.AgentTick();
    w.now += seconds(5);
    for (const std::string& a : w.Pass()) log += "   " + a + "\n";
    model::Deployment& d = w.Deployment("web", w.App("web").revision);
    if (d.spec.update.strategy == model::UpdateStrategy::kCanary &&
        d.state == model::DeploymentState::kProgressing && !d.promoted) {
      d.promoted = true;
      d.progressed_at = w.now;
      log += "step promote (settling)\n";
    }
  }
  const model::Deployment& d = w.Deployment("web", w.App("web").revision);
  bool crash_loop = false;
  for (const model::Instance& i : w.snapshot.instances) {
    crash_loop = crash_loop || i.crash_count >= kCrashLoopThreshold;
  }
  if (d.state == model::DeploymentState::kHealthy) {
    for (const model::Instance& i : w.snapshot.instances) {
      if (i.desired == model::DesiredState::kRun && i.traffic != model::Traffic::kServe) {
        return fail("left with traffic " + std::string(model::ToString(i.traffic)) + ": " + i.id);
      }
    }
    const int wanted = static_cast<int>(w.Wanted("web").size());
    if (wanted != w.App("web").spec.replicas) return fail(fmt::format("{} wanted", wanted));
  } else if (d.state != model::DeploymentState::kFailed && !crash_loop) {
    return fail(fmt::format("settled as {}", model::ToString(d.state)));
  }
  return std::nullopt;
}

// Verify that random histories keep the reconciler quiet after every step and
// settle healthy (all serving, replicas instances) or failed.
TEST(RolloutPropertyTest, RandomHistoriesGoQuietAndSettle) {
  const char* env = std::getenv("SKIFF_ROLLOUT_SEEDS");
  const int seeds = env != nullptr ? std::atoi(env) : 2000;
  for (int seed = 0; seed < seeds; ++seed) {
    if (std::optional<std::string> failure = RunSeed(seed)) {
      FAIL() << *failure;
    }
  }
}

}  // namespace
}  // namespace skiff::controller
