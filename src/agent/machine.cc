#include "agent/machine.h"

#include <unistd.h>

#include <climits>
#include <thread>

namespace skiff::agent {

model::Resources MachineCapacity() {
  model::Resources r;
  // The cpus this process may run on, which honours a container's cpuset.
  r.cpu_millis = static_cast<int64_t>(std::thread::hardware_concurrency()) * 1000;
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) r.memory_bytes = static_cast<int64_t>(pages) * page_size;
  return r;
}

std::string MachineName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace skiff::agent
