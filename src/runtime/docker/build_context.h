// The build context of run.build: a directory on the node, or a git checkout,
// turned into the tar stream the Engine's build API takes. `tar` and `git` run
// as programs (the node has them; Docker's CLI is never used).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace skiff::runtime::docker {

// Runs `argv` (looked up in PATH) with stdin from /dev/null and returns what it
// wrote to stdout. Blocks until it exits. kUnavailable when it cannot run or
// exits non-zero, with its stderr (trimmed) in the message.
Result<std::string> RunCapture(const std::vector<std::string>& argv);

// An uncompressed tar of the contents of `dir` (paths relative to it; .git
// left out), less what `dir`/.dockerignore excludes (dockerignore.h), but
// never `dockerfile` (relative to `dir`) or .dockerignore itself. kNotFound
// when `dir` is not a directory; kInvalidArgument for a malformed
// .dockerignore (its line named).
Result<std::string> TarDirectory(const std::string& dir,
                                 const std::string& dockerfile = "Dockerfile");

// Clones `url` (anything `git clone` takes, a local path included) into the
// new directory `dest` and checks out `ref` when not empty. kFailedPrecondition
// with git's own words when that fails.
Status GitCheckout(const std::string& url, const std::string& ref, const std::string& dest);

}  // namespace skiff::runtime::docker
