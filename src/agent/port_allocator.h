// PortAllocator: hands out the node ports instances listen on, from a range,
// never one that another live local instance holds and never one something
// else on the machine is bound to (checked by binding host:port).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "common/result.h"

namespace skiff::agent {

class PortAllocator {
 public:
  // REQUIRES: 0 < first <= last <= 65535.
  PortAllocator(std::string host, int first, int last);

  // A free port of the range, now held. kResourceExhausted when none is free.
  Result<int> Allocate();
  // Marks `port` held (an adopted instance's port), whether or not it is in the range.
  void Reserve(int port);
  // Gives `port` back. Releasing a port not held does nothing.
  void Release(int port);
  bool IsHeld(int port) const;

 private:
  // Whether nothing on the machine is bound to host:port now.
  bool CanBind(int port) const;

  const std::string host_;
  const int first_;
  const int last_;
  mutable std::mutex mu_;
  std::set<int> held_;  // GUARDED_BY(mu_)
  // Where the next search starts: ports are rotated so a just-freed port (its
  // old connections may linger) is not handed out again at once. GUARDED_BY(mu_)
  int next_;
};

}  // namespace skiff::agent
