// Subprocess: runs a program for a test, its output captured in a file.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace skiff::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with the environment of this process plus `env`;
  // stdout and stderr go to `output_path`. Throws std::runtime_error on failure.
  Subprocess(std::vector<std::string> argv, std::map<std::string, std::string> env,
             std::string output_path);
  // Kills it (SIGKILL) if it still runs, and reaps it.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends a signal; returns whether it was delivered.
  bool Signal(int sig);
  // Waits until it exits; returns its exit code (128 + signal when killed).
  int Wait();
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string output_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs a command to completion (at most `timeout_seconds`, then SIGKILL).
CommandResult RunCommand(std::vector<std::string> argv, std::map<std::string, std::string> env,
                         int timeout_seconds = 120);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace skiff::testing
