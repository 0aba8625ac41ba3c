// ${VAR} substitution for a task's command line: the spec says
// ["python3", "-m", "http.server", "${PORT}"] and the instance needs its port.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace skiff::runtime {

// Returns `text` with every ${NAME} whose NAME is in `vars` replaced by its value,
// and every "$$" replaced by a single "$" (the escape for a literal "${").
// An unknown ${NAME}, a malformed "${" and a lone "$" stay as written, so a
// typo shows up verbatim in the process's arguments instead of vanishing.
// NAME is [A-Za-z_][A-Za-z0-9_]*. Substitution is single-pass: a value that
// itself contains "${X}" is not expanded again.
std::string SubstituteVars(std::string_view text, const std::map<std::string, std::string>& vars);

}  // namespace skiff::runtime
