// Small file helpers for the secrets and state Skiff keeps in data directories.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff {

// Creates `path` (O_EXCL: it must not exist) with `mode`, writes `content`
// and fsyncs it. Errors: kAlreadyExists when it exists; kUnavailable naming the
// file and the system's reason otherwise (a partly written file is removed).
Status WriteNewFile(const std::string& path, std::string_view content, int mode = 0600);

// Replaces `path` with `content` atomically: written to a private temporary
// file beside it (created with `mode`), fsynced, renamed over `path`, then the
// directory fsynced, so a crash leaves the old file or the new one, never a
// torn one. Errors: kUnavailable naming the file and the system's reason,
// also when the directory cannot be synced (the new file is then in place,
// but its renaming may not survive a crash).
// Thread-safety: concurrent writers of one path must be serialised by the caller.
Status WriteFileAtomically(const std::string& path, std::string_view content, int mode = 0600);

// Creates `path` with `content`, atomically and only if it does not exist:
// written to a private temporary file beside it (created with `mode`),
// fsynced, linked to `path` (which fails rather than replace a file another
// process made first), the temporary name removed and the directory fsynced.
// A crash leaves no file or the whole one, never an empty or torn one.
// Errors: kAlreadyExists when `path` exists (left as it is); kUnavailable
// naming the file and the system's reason otherwise.
Status WriteNewFileAtomically(const std::string& path, std::string_view content, int mode = 0600);

// Removes `path` and fsyncs its directory, so the removal survives a crash.
// A file that is not there is fine. Errors: kUnavailable naming the file and
// the system's reason.
Status RemoveFileDurably(const std::string& path);

// The whole file. kNotFound when it does not exist; kUnavailable when it cannot
// be read; kFailedPrecondition naming it when `private_only` and it is a
// symbolic link, not a regular file, not this process's user's, or its group
// or others have any permission on it (its mode and `chmod 600 PATH` said;
// each checked on the open descriptor that is then read).
Result<std::string> ReadPrivateFile(const std::string& path, bool private_only = true);

}  // namespace skiff
