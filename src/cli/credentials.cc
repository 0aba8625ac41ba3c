#include "cli/credentials.h"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "common/files.h"

namespace skiff::cli {
namespace {

void StripLineEnd(std::string& line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
}

// One line of the terminal on stdin, not echoed.
std::string ReadHidden(std::string_view prompt) {
  std::cerr << prompt << std::flush;
  termios old_mode{};
  const bool restore = tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (restore) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  StripLineEnd(line);
  return line;
}

}  // namespace

std::string SessionFilePath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/skiff/session";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.config/skiff/session";
  return {};
}

Result<std::string> ReadSessionFile(const std::string& path) {
  if (path.empty()) return std::string();
  auto text = ReadPrivateFile(path);
  if (!text && text.error().code == ErrorCode::kNotFound) return std::string();
  if (!text) return tl::unexpected(text.error());
  std::string token = text->substr(0, text->find('\n'));
  StripLineEnd(token);
  return token;
}

Status WriteSessionFile(const std::string& path, std::string_view token) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    // The session's own directory is private: nobody else lists it.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Unavailable("cannot make " + dir.string() + ": " + std::strerror(errno));
    }
  }
  return WriteFileAtomically(path, std::string(token) + "\n", 0600);
}

Status RemoveSessionFile(const std::string& path) {
  if (path.empty()) return OkStatus();
  return RemoveFileDurably(path);
}

Result<std::string> ReadPassword(std::string_view prompt, bool confirm) {
  std::string password;
  if (::isatty(STDIN_FILENO) != 0) {
    password = ReadHidden(prompt);
    if (confirm && !password.empty() && ReadHidden("again: ") != password) {
      return InvalidArgument("the two passwords differ", "password");
    }
  } else {
    std::getline(std::cin, password);
    StripLineEnd(password);
  }
  if (password.empty()) {
    return InvalidArgument("no password: give it on stdin (one line) or at the prompt", "password");
  }
  return password;
}

}  // namespace skiff::cli
