#include "runtime/docker/build_context.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/docker/dockerignore.h"

extern char** environ;

namespace skiff::runtime::docker {
namespace {

std::string Trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

Result<std::string> RunCapture(const std::vector<std::string>& argv) {
  if (argv.empty()) return InvalidArgument("nothing to run");
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable(std::string("pipe: ") + strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Unavailable(std::string("pipe: ") + strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (std::string& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return Unavailable(argv[0] + ": " + strerror(rc));
  }
  std::string stdout_text;
  std::string stderr_text;
  std::array<pollfd, 2> fds{pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0}};
  std::array<char, 64 << 10> buffer;
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        (i == 0 ? stdout_text : stderr_text).append(buffer.data(), static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = Trimmed(stderr_text);
    if (why.empty()) why = "exited with " + std::to_string(WEXITSTATUS(status));
    return Unavailable(argv[0] + ": " + why);
  }
  return stdout_text;
}

Result<std::vector<std::string>> ContextFiles(const std::string& dir, const DockerIgnore& ignore,
                                              const std::string& dockerfile) {
  namespace fs = std::filesystem;
  const std::string kept_dockerfile = CleanPath(dockerfile);
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return Unavailable("build context " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Unavailable("build context " + dir + ": " + ec.message());
    const std::string path = fs::relative(it->path(), dir, ec).generic_string();
    if (ec) return Unavailable("build context " + dir + ": " + ec.message());
    const bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    if (path == ".git") {
      if (is_dir) it.disable_recursion_pending();
      continue;
    }
    // As the Docker CLI: the Dockerfile and .dockerignore always go, whatever
    // the patterns say (the engine needs the one, and reads the other).
    if (path != kept_dockerfile && path != ".dockerignore" && ignore.Excludes(path)) {
      // Nothing under an excluded directory comes back but by a "!" or as the
      // Dockerfile.
      if (is_dir && !ignore.has_exceptions() && !kept_dockerfile.starts_with(path + "/")) {
        it.disable_recursion_pending();
      }
      continue;
    }
    files.push_back("./" + path);
  }
  return files;
}

Result<std::string> TarDirectory(const std::string& dir, const std::string& dockerfile) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return NotFound("build context " + dir + " is not a directory");
  }
  std::ifstream ignore_file(dir + "/.dockerignore");
  if (!ignore_file) return RunCapture({"tar", "-C", dir, "--exclude=./.git", "-cf", "-", "."});
  std::stringstream text;
  text << ignore_file.rdbuf();
  SKIFF_ASSIGN_OR_RETURN(DockerIgnore ignore, DockerIgnore::Parse(text.str()));
  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> files, ContextFiles(dir, ignore, dockerfile));
  // The list goes to tar in a file (its stdin is /dev/null), NUL-separated so
  // any name is safe; directories are listed, not recursed into.
  std::string list_dir = (std::filesystem::temp_directory_path() / "skiff-tar-XXXXXX").string();
  if (::mkdtemp(list_dir.data()) == nullptr) {
    return Unavailable(std::string("mkdtemp: ") + strerror(errno));
  }
  const std::string list = list_dir + "/files";
  {
    std::ofstream out(list, std::ios::binary);
    for (const std::string& file : files) out << file << '\0';
  }
  auto tar = RunCapture({"tar", "-C", dir, "--no-recursion", "--null", "-T", list, "-cf", "-"});
  std::filesystem::remove_all(list_dir, ec);
  return tar;
}

Status GitCheckout(const std::string& url, const std::string& ref, const std::string& dest) {
  auto cloned = RunCapture({"git", "clone", "--quiet", "--", url, dest});
  if (!cloned) return FailedPrecondition("git clone " + url + ": " + cloned.error().message);
  if (ref.empty()) return OkStatus();
  auto checked_out = RunCapture({"git", "-C", dest, "checkout", "--quiet", ref});
  if (!checked_out) {
    return FailedPrecondition("git checkout " + ref + ": " + checked_out.error().message);
  }
  return OkStatus();
}

}  // namespace skiff::runtime::docker
