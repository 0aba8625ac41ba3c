// The people's commands (issue 15): `skiff users` (list), `skiff users add
// NAME --role R [--project P]...` and `skiff users remove NAME` for an admin;
// `skiff login NAME`, which keeps the session token in the session file
// (credentials.h) that later commands use, and `skiff logout`, which ends it.
// Passwords are read from stdin (one line) or asked for on a terminal.
#pragma once

#include <iosfwd>
#include <string>

#include "cli/api_client.h"
#include "cli/cli.h"

namespace skiff::cli {

// Whether `command` (Invocation::command) is one of these.
bool IsUserCommand(const std::string& command);

// Runs one of them with `client`, which bears `token` (the session's for
// logout; "" for login). Returns the exit code, as RunClientCommand.
// REQUIRES: IsUserCommand(inv.command).
int RunUserCommand(const Invocation& inv, std::ostream& out, std::ostream& err, const RunEnv& env,
                   ApiClient& client, const std::string& token);

}  // namespace skiff::cli
