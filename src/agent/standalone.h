// StandaloneAgent: `skiff agent`, a node on a machine other than the server's.
// It joins the cluster with a join token (the first time) or the node
// credential kept in its data directory (DATA/node.credential, mode 0600),
// then runs agent::Agent over a RemoteControlPlane with its runtime drivers.
//
// Thread-safety: Start once; Wait and Shutdown from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/spec.h"

namespace skiff::agent {

inline constexpr const char* kCredentialFile = "node.credential";
// The server CA's fingerprint the join token pinned, kept beside the
// credential: later starts (with no token) verify the server by it.
inline constexpr const char* kServerCaFile = "server-ca.sha256";

struct StandaloneAgentOptions {
  // The Skiff API, "http://10.0.0.1:7070", or several servers' comma-separated.
  std::string server;
  std::string join_token;  // may be empty once DATA/node.credential exists
  // A PEM file of the CA(s) an https:// server must chain to (--ca); empty:
  // the CA the join token pins (net/join_token.h), else the one kept in
  // DATA/server-ca.sha256, else the system's roots.
  std::string ca_file;
  std::string name;     // the node's name; empty: the host name
  std::string address;  // HOST of its instances: what they bind, what the edge dials
  std::map<std::string, std::string> labels;
  // Zero fields are detected (online cpus, physical memory).
  model::Resources capacity;
  std::vector<std::string> drivers;  // empty: process, and docker when its engine answers
  std::string docker_host;
  std::string data_dir = ".skiff-agent";
  int port_first = 20000;
  int port_last = 29999;
  // How often instances' cpu and memory are sampled (--sample-interval).
  Duration sample_interval = std::chrono::seconds(5);
};

class StandaloneAgent {
 public:
  explicit StandaloneAgent(StandaloneAgentOptions options);
  ~StandaloneAgent();  // Shuts down.
  StandaloneAgent(const StandaloneAgent&) = delete;
  StandaloneAgent& operator=(const StandaloneAgent&) = delete;

  // Makes the data directory and the drivers, registers the node and starts
  // the agent. An unreachable server is no error (the agent retries).
  // Errors: kInvalidArgument without an address, or without a join token and
  // a stored credential, or for an unknown driver or an unreadable --ca;
  // kFailedPrecondition for an http:// server off loopback (the token would
  // go in clear); kUnauthenticated when the server refuses the join token or
  // the credential (its message says what to do), or is not the one the join
  // token names (its CA's fingerprint differs: nothing was sent to it);
  // kUnavailable for a data directory that cannot be made or read.
  Status Start();
  // Blocks until Shutdown() finished.
  void Wait();
  // Stops the agent; its instances keep running (a restarted agent adopts
  // them). Idempotent.
  void Shutdown();

  // The node id (valid after Start).
  std::string node_id() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::agent
