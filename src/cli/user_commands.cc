#include "cli/user_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <ostream>

#include "cli/credentials.h"
#include "cli/json_fields.h"
#include "cli/table.h"

namespace skiff::cli {
namespace json = boost::json;

void AddUserCommands(CLI::App& app, Invocation* inv) {
  CLI::App* users = app.add_subcommand(
      "users", "List the people who may use the cluster: name, role, projects (admin only)");
  AddCommonOptions(users, inv);
  // A subcommand's callback runs before its parent's: the parent keeps the
  // more specific command.
  users->callback([inv] {
    if (inv->command.empty()) inv->command = "users";
  });
  CLI::App* add = users->add_subcommand(
      "add",
      "Add a person: an admin does everything; a deployer changes the apps of their projects, a "
      "viewer reads them. The password (at least 12 characters) is read from stdin, one line, "
      "or asked for twice when stdin is a terminal");
  AddCommonOptions(add, inv);
  add->add_option("name", inv->user, "user name: lowercase letters, digits and '-'")->required();
  add->add_option("--role", inv->role, "admin, deployer or viewer")
      ->required()
      ->check(CLI::IsMember({"admin", "deployer", "viewer"}));
  add->add_option("--project", inv->projects,
                  "a project the deployer or viewer acts in (repeat for several; none for an "
                  "admin)");
  add->callback([inv] { inv->command = "users add"; });
  CLI::App* remove = users->add_subcommand("remove", "Remove a person; their sessions end at once");
  AddCommonOptions(remove, inv);
  remove->add_option("name", inv->user, "user name, as listed")->required();
  remove->callback([inv] { inv->command = "users remove"; });

  CLI::App* login = app.add_subcommand(
      "login",
      "Log in as a person: the password is read from stdin, one line, or asked for when stdin "
      "is a terminal; the session token (it expires, 12 h by default) is kept in "
      "$XDG_CONFIG_HOME/skiff/session (else ~/.config/skiff/session, mode 0600) and the other "
      "commands use it when neither --token nor SKIFF_TOKEN is given");
  AddCommonOptions(login, inv);
  login->add_option("name", inv->user, "user name")->required();
  login->callback([inv] { inv->command = "login"; });
  CLI::App* logout = app.add_subcommand(
      "logout", "End the session of `skiff login` (or the one in --token) and forget it here");
  AddCommonOptions(logout, inv);
  logout->callback([inv] { inv->command = "logout"; });
}

bool IsUserCommand(const std::string& command) {
  return command == "users" || command == "users add" || command == "users remove" ||
         command == "login" || command == "logout";
}

namespace {

class UserCommands {
 public:
  UserCommands(const Invocation& inv, std::ostream& out, std::ostream& err, const RunEnv& env,
               ApiClient& client, const std::string& token)
      : inv_(inv), out_(out), err_(err), env_(env), client_(client), token_(token) {}

  int Run() {
    const std::string& c = inv_.command;
    if (c == "users") return List();
    if (c == "users add") return Add();
    if (c == "users remove") return Remove();
    if (c == "login") return Login();
    return Logout();
  }

 private:
  bool Json() const { return inv_.options.output == "json"; }

  int Fail(const Error& e) {
    err_ << "error: " << Explain(e, inv_.options.addr) << "\n";
    return 1;
  }

  std::string SessionFile() const {
    return env_.session_file.empty() ? SessionFilePath() : env_.session_file;
  }

  Result<std::string> Password(const std::string& prompt, bool confirm) {
    return env_.read_password ? env_.read_password(prompt, confirm) : ReadPassword(prompt, confirm);
  }

  static std::string Projects(const json::value& v) {
    std::vector<std::string> names;
    for (const json::value& p : Array(v, "projects")) {
      if (p.is_string()) names.emplace_back(p.get_string());
    }
    return names.empty() ? "-" : fmt::format("{}", fmt::join(names, ","));
  }

  int List() {
    auto reply = client_.Call("GET", "/v1/users");
    if (!reply) return Fail(reply.error());
    if (Json()) {
      out_ << json::serialize(reply->body) << "\n";
      return 0;
    }
    Table t({"NAME", "ROLE", "PROJECTS", "CREATED"});
    for (const json::value& u : Array(reply->body, "users")) {
      t.AddRow({Str(u, "name"), Str(u, "role"), Projects(u), Str(u, "created_at")});
    }
    out_ << (t.rows() == 0 ? "no users; add one with `skiff users add NAME --role ROLE`\n"
                           : t.Render());
    return 0;
  }

  int Add() {
    auto password = Password(fmt::format("password for {}: ", inv_.user), /*confirm=*/true);
    if (!password) return Fail(password.error());
    json::array projects;
    for (const std::string& p : inv_.projects) projects.emplace_back(p);
    const json::object body{{"name", inv_.user},
                            {"role", inv_.role},
                            {"projects", std::move(projects)},
                            {"password", *password}};
    auto reply = client_.Call("POST", "/v1/users", json::serialize(body));
    if (!reply) return Fail(reply.error());
    if (Json()) {
      out_ << json::serialize(reply->body) << "\n";
      return 0;
    }
    const std::string role = Str(reply->body, "role");
    out_ << (role == "admin"
                 ? fmt::format("{}: added (admin)\n", inv_.user)
                 : fmt::format("{}: added ({} in {})\n", inv_.user, role, Projects(reply->body)));
    return 0;
  }

  int Remove() {
    auto reply = client_.Call("DELETE", "/v1/users/" + inv_.user);
    if (!reply) return Fail(reply.error());
    if (Json()) {
      out_ << json::serialize(json::object{{"name", inv_.user}, {"removed", true}}) << "\n";
    } else {
      out_ << fmt::format("{}: removed; their sessions ended\n", inv_.user);
    }
    return 0;
  }

  int Login() {
    const std::string file = SessionFile();
    if (file.empty()) {
      err_ << "error: neither XDG_CONFIG_HOME nor HOME is set: there is nowhere to keep the "
              "session\n";
      return 1;
    }
    auto password = Password(fmt::format("password for {}: ", inv_.user), /*confirm=*/false);
    if (!password) return Fail(password.error());
    const json::object body{{"name", inv_.user}, {"password", *password}};
    auto reply = client_.Call("POST", "/v1/login", json::serialize(body));
    if (!reply) {
      if (reply.error().code == ErrorCode::kUnauthenticated) {
        err_ << "error: " << reply.error().message << "\n";
        return 1;
      }
      return Fail(reply.error());
    }
    const std::string token = Str(reply->body, "token");
    if (token.empty()) {
      err_ << "error: the server answered no session\n";
      return 1;
    }
    if (Status kept = WriteSessionFile(file, token); !kept) return Fail(kept.error());
    if (Json()) {
      json::object shown = reply->body.as_object();
      shown.erase("token");  // in the file; not for the terminal's scrollback
      shown["session_file"] = file;
      out_ << json::serialize(shown) << "\n";
      return 0;
    }
    out_ << fmt::format("logged in as {} ({}) until {}; the session is kept in {}\n",
                        Str(reply->body, "user"), Str(reply->body, "role"),
                        Str(reply->body, "expires_at"), file);
    return 0;
  }

  int Logout() {
    // The session file is forgotten only when it is what was used.
    const bool from_file = inv_.options.token.empty();
    if (token_.empty()) {
      err_ << "error: not logged in (no session in " << SessionFile() << ")\n";
      return 1;
    }
    auto reply = client_.Call("POST", "/v1/logout");
    const bool ended = static_cast<bool>(reply);
    if (!reply && reply.error().code != ErrorCode::kUnauthenticated) return Fail(reply.error());
    if (from_file) {
      if (Status removed = RemoveSessionFile(SessionFile()); !removed) return Fail(removed.error());
    }
    if (Json()) {
      out_ << json::serialize(json::object{{"logged_out", true}, {"was_live", ended}}) << "\n";
    } else {
      out_ << (ended ? "logged out\n" : "logged out (the session had already ended)\n");
    }
    return 0;
  }

  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
  const RunEnv& env_;
  ApiClient& client_;
  const std::string& token_;
};

}  // namespace

int RunUserCommand(const Invocation& inv, std::ostream& out, std::ostream& err, const RunEnv& env,
                   ApiClient& client, const std::string& token) {
  return UserCommands(inv, out, err, env, client, token).Run();
}

}  // namespace skiff::cli
