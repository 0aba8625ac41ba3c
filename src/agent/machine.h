// What the machine an agent runs on offers: its name and capacity, read once
// at start-up to register the node.
#pragma once

#include <string>

#include "model/spec.h"

namespace skiff::agent {

// Online cpus (as millicores) and physical memory (bytes); zero where unknown.
model::Resources MachineCapacity();

// The host name; "localhost" when it cannot be read.
std::string MachineName();

}  // namespace skiff::agent
