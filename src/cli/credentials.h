// What the client keeps and asks for on behalf of a person: the session token
// of `skiff login` (a file of its own, mode 0600) and passwords (read from
// stdin, or asked for without echo on a terminal).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::cli {

// Where `skiff login` keeps the session token: $XDG_CONFIG_HOME/skiff/session
// when XDG_CONFIG_HOME is an absolute path, else ~/.config/skiff/session
// ($HOME); "" when neither is set.
std::string SessionFilePath();

// The token in the session file at `path`; "" when there is none (or `path`
// is ""). kFailedPrecondition when the file is readable by others or not
// this user's (ReadPrivateFile): it is then not used; kUnavailable when it
// cannot be read.
Result<std::string> ReadSessionFile(const std::string& path);
// Writes `token` to `path` atomically with mode 0600, making its directory
// (mode 0700) when missing. kUnavailable naming the file when it cannot.
// REQUIRES: `path` is not "".
Status WriteSessionFile(const std::string& path, std::string_view token);
// Removes the session file; none is fine. kUnavailable when it cannot.
Status RemoveSessionFile(const std::string& path);

// A password from standard input: on a terminal, asked for with `prompt` on
// standard error without echo (twice when `confirm`, kInvalidArgument when the
// two differ); otherwise its first line (without the line end).
// kInvalidArgument when it is empty (nothing on stdin).
Result<std::string> ReadPassword(std::string_view prompt, bool confirm);

}  // namespace skiff::cli
