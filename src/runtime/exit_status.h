// How every driver words the end of a task, so the agent, the API and the
// tests see one vocabulary whatever ran it.
#pragma once

#include <string>

namespace skiff::runtime {

// "exited with <code>", or "killed by signal <n>" for a code of 128 + n
// (n in 1..64): what a shell, Docker and the process driver's wait status say.
std::string ExitMessage(int code);

}  // namespace skiff::runtime
