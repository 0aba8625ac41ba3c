#include "model/spec_parse.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/quantity.h"
#include "model/resources.h"
#include "model/yaml_json.h"

namespace skiff::model {
namespace json = boost::json;
namespace {

constexpr std::string_view kNameRule =
    "must be a DNS label: 1-63 of a-z, 0-9 and '-', starting with a letter, not ending in '-'";

// The reason `name` is not a DNS label, or nullopt when it is one.
std::optional<std::string> NameProblem(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && name.front() >= 'a' && name.front() <= 'z' &&
            name.back() != '-' && std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
  if (ok) return std::nullopt;
  return fmt::format("{} (got \"{}\")", kNameRule, name);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

// A value as it appears in messages: strings quoted, numbers in their shortest form.
std::string Quoted(const json::value& v) {
  if (v.is_double()) return fmt::format("{}", v.get_double());
  return json::serialize(v);
}

// Collects every problem of one spec; the spec is valid iff none were found.
class Validator {
 public:
  explicit Validator(UnknownFields unknown) : unknown_(unknown) {}
  // Whether this reads a user's spec (which may name only what users set).
  bool strict() const { return unknown_ == UnknownFields::kReject; }

  void Add(std::string path, std::string reason) {
    problems_.emplace_back(std::move(path), std::move(reason));
  }
  bool ok() const { return problems_.empty(); }
  // Whether a problem was reported at `path`.
  bool Reported(std::string_view path) const {
    return std::any_of(problems_.begin(), problems_.end(),
                       [&](const auto& problem) { return problem.first == path; });
  }
  Error ToError() const {
    std::string message;
    for (const auto& [path, reason] : problems_) {
      if (!message.empty()) message += "; ";
      message += path.empty() ? reason : fmt::format("{}: {}", path, reason);
    }
    return Error{ErrorCode::kInvalidArgument, std::move(message), problems_.front().first};
  }

  // The object at `path`, with unknown keys reported (and the nearest known one
  // suggested) unless they are ignored; nullptr (reported) when v is not an object.
  const json::object* Object(const json::value& v, const std::string& path,
                             std::initializer_list<std::string_view> known) {
    if (!v.is_object()) {
      Add(path, fmt::format("must be an object, not {}", JsonKindName(v)));
      return nullptr;
    }
    if (unknown_ == UnknownFields::kIgnore) return &v.get_object();
    for (const auto& [key, value] : v.get_object()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string_view best;
      size_t best_distance = std::numeric_limits<size_t>::max();
      for (std::string_view candidate : known) {
        size_t d = EditDistance(key, candidate);
        if (d < best_distance) best_distance = d, best = candidate;
      }
      // Close means a typo, not a different word: at most 2 edits and few for short names,
      // or an abbreviation ("mem" for "memory").
      bool close = best_distance <= 2 && best_distance * 3 <= best.size();
      if (!close && key.size() >= 3) {
        for (std::string_view candidate : known) {
          if (candidate.starts_with(key)) {
            best = candidate;
            close = true;
            break;
          }
        }
      }
      if (close) {
        Add(Join(path, key), fmt::format("unknown field; did you mean \"{}\"?", best));
      } else {
        Add(Join(path, key), "unknown field");
      }
    }
    return &v.get_object();
  }

  std::optional<std::string> String(const json::value& v, const std::string& path) {
    if (v.is_string()) return std::string(v.get_string());
    Add(path, fmt::format("must be a string, not {}", JsonKindName(v)));
    return std::nullopt;
  }

  std::optional<bool> Bool(const json::value& v, const std::string& path) {
    if (v.is_bool()) return v.get_bool();
    Add(path, fmt::format("must be true or false, not {}", JsonKindName(v)));
    return std::nullopt;
  }

  std::optional<int> Int(const json::value& v, const std::string& path, int64_t min,
                         int64_t max = std::numeric_limits<int>::max()) {
    std::optional<int64_t> n;
    if (v.is_int64()) {
      n = v.get_int64();
    } else if (v.is_uint64()) {
      n = v.get_uint64() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                            : static_cast<int64_t>(v.get_uint64());
    } else if (v.is_double() && std::abs(v.get_double()) < 9e18 &&
               v.get_double() == std::trunc(v.get_double())) {
      n = static_cast<int64_t>(v.get_double());  // range checked first: the cast is defined
    }
    if (!n) {
      Add(path, v.is_double() ? fmt::format("must be an integer (got {})", Quoted(v))
                              : fmt::format("must be an integer, not {}", JsonKindName(v)));
      return std::nullopt;
    }
    if (*n < min || *n > max) {
      if (max != std::numeric_limits<int>::max()) {
        Add(path, fmt::format("must be between {} and {} (got {})", min, max, *n));
      } else if (*n < min) {
        Add(path, fmt::format("must be >= {} (got {})", min, *n));
      } else {
        Add(path, fmt::format("must be <= {} (got {})", max, *n));
      }
      return std::nullopt;
    }
    return static_cast<int>(*n);
  }

  std::optional<Duration> Dur(const json::value& v, const std::string& path) {
    if (v.is_string()) {
      auto d = ParseDuration(v.get_string());
      if (d) return *d;
      Add(path, d.error().message);
      return std::nullopt;
    }
    // A bare 0 is unambiguous; any other number lacks its unit.
    if ((v.is_int64() && v.get_int64() == 0) || (v.is_uint64() && v.get_uint64() == 0)) {
      return Duration(0);
    }
    Add(path, fmt::format("not a duration ({}); use e.g. 500ms, 2s, 5m, 1h", Quoted(v)));
    return std::nullopt;
  }

  // Each item of a list of strings; nullopt (reported) when v is not a list.
  std::optional<std::vector<std::string>> StringList(const json::value& v,
                                                     const std::string& path) {
    if (!v.is_array()) {
      Add(path, fmt::format("must be a list of strings, not {}", JsonKindName(v)));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    const json::array& items = v.get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      auto s = String(items[i], fmt::format("{}[{}]", path, i));
      if (s) {
        out.push_back(std::move(*s));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

 private:
  const UnknownFields unknown_;
  std::vector<std::pair<std::string, std::string>> problems_;
};

// A present, non-null field of obj, or nullptr. YAML writes `key:` with nothing
// for "nothing here", so null counts as absent everywhere.
const json::value* Field(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

template <typename T, typename F>
void Set(const std::optional<T>& value, F&& assign) {
  if (value) assign(*value);
}

bool IsEnvName(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void ReadEnv(Validator& v, const json::value& value, const std::string& path,
             std::map<std::string, std::string>& out) {
  if (!value.is_object())
    return v.Add(path, fmt::format("must be an object, not {}", JsonKindName(value)));
  for (const auto& [key, item] : value.get_object()) {
    std::string item_path = Join(path, key);
    if (!IsEnvName(key)) {
      v.Add(item_path,
            "not a valid variable name (letters, digits and '_', not starting with a digit)");
      continue;
    }
    Set(v.String(item, item_path), [&](const std::string& s) { out[std::string(key)] = s; });
  }
}

// Linux capability names as Docker takes them: "NET_BIND_SERVICE".
bool IsCapabilityName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void ReadBuild(Validator& v, const json::value& value, BuildSpec& build) {
  const json::object* obj = v.Object(value, "run.build", {"context", "dockerfile", "git", "ref"});
  if (obj == nullptr) return;
  if (const json::value* c = Field(*obj, "context")) {
    Set(v.String(*c, "run.build.context"), [&](const std::string& s) {
      if (!s.starts_with('/')) {
        v.Add("run.build.context", fmt::format("must be an absolute path (got \"{}\")", s));
      }
      build.context = s;
    });
  }
  if (const json::value* d = Field(*obj, "dockerfile")) {
    Set(v.String(*d, "run.build.dockerfile"), [&](const std::string& s) {
      if (s.empty() || s.starts_with('/') || s.find("..") != std::string::npos) {
        v.Add("run.build.dockerfile",
              fmt::format("must be a path inside the context (got \"{}\")", s));
      }
      build.dockerfile = s;
    });
  }
  if (const json::value* g = Field(*obj, "git")) {
    Set(v.String(*g, "run.build.git"), [&](const std::string& s) {
      if (s.empty() || s.starts_with('-')) {
        v.Add("run.build.git", fmt::format("not a repository URL or path (got \"{}\")", s));
      }
      build.git = s;
    });
  }
  if (const json::value* r = Field(*obj, "ref")) {
    Set(v.String(*r, "run.build.ref"), [&](const std::string& s) {
      if (s.empty() || s.starts_with('-')) {
        v.Add("run.build.ref", fmt::format("not a branch, tag or commit (got \"{}\")", s));
      }
      build.ref = s;
    });
  }
  const bool has_context = Field(*obj, "context") != nullptr;
  const bool has_git = Field(*obj, "git") != nullptr;
  if (has_context == has_git) v.Add("run.build", "exactly one of context, git");
  if (Field(*obj, "ref") != nullptr && !has_git) v.Add("run.build.ref", "only allowed with git");
}

void ReadRun(Validator& v, const json::value& value, RunSpec& run) {
  const json::object* obj = v.Object(
      value, "run",
      {"command", "image", "build", "args", "workdir", "cap_add", "user", "read_only", "network"});
  if (obj == nullptr) return;
  if (const json::value* c = Field(*obj, "command")) {
    if (auto command = v.StringList(*c, "run.command")) {
      if (command->empty()) v.Add("run.command", "must not be empty");
      for (size_t i = 0; i < command->size(); ++i) {
        if ((*command)[i].empty()) v.Add(fmt::format("run.command[{}]", i), "must not be empty");
      }
      run.command = std::move(*command);
    }
  }
  if (const json::value* i = Field(*obj, "image")) {
    Set(v.String(*i, "run.image"), [&](const std::string& s) {
      if (s.empty()) v.Add("run.image", "must not be empty");
      run.image = s;
    });
  }
  if (const json::value* b = Field(*obj, "build")) ReadBuild(v, *b, run.build.emplace());
  if (const json::value* a = Field(*obj, "args")) {
    Set(v.StringList(*a, "run.args"),
        [&](const std::vector<std::string>& args) { run.args = args; });
  }
  if (const json::value* w = Field(*obj, "workdir")) {
    Set(v.String(*w, "run.workdir"), [&](const std::string& s) {
      if (!s.starts_with('/')) {
        v.Add("run.workdir", fmt::format("must be an absolute path (got \"{}\")", s));
      }
      run.workdir = s;
    });
  }
  if (const json::value* c = Field(*obj, "cap_add")) {
    Set(v.StringList(*c, "run.cap_add"), [&](const std::vector<std::string>& caps) {
      for (size_t i = 0; i < caps.size(); ++i) {
        if (!IsCapabilityName(caps[i]) || caps[i] == "ALL" || caps[i].starts_with("CAP_")) {
          v.Add(fmt::format("run.cap_add[{}]", i),
                fmt::format("not a capability name like NET_BIND_SERVICE (got \"{}\")", caps[i]));
        }
      }
      run.cap_add = caps;
    });
  }
  if (const json::value* u = Field(*obj, "user")) {
    Set(v.String(*u, "run.user"), [&](const std::string& s) {
      if (s.empty()) v.Add("run.user", "must not be empty");
      run.user = s;
    });
  }
  if (const json::value* r = Field(*obj, "read_only")) {
    Set(v.Bool(*r, "run.read_only"), [&](bool b) { run.read_only = b; });
  }
  if (const json::value* n = Field(*obj, "network")) {
    Set(v.String(*n, "run.network"), [&](const std::string& s) {
      if (auto mode = ParseNetworkMode(s)) {
        run.network = *mode;
      } else {
        v.Add("run.network", fmt::format("must be bridge or host (got \"{}\")", s));
      }
    });
  }
  const bool has_command = Field(*obj, "command") != nullptr;
  const bool has_image = Field(*obj, "image") != nullptr;
  const bool has_build = Field(*obj, "build") != nullptr;
  if (int{has_command} + int{has_image} + int{has_build} != 1) {
    v.Add("run", "exactly one of command, image, build");
  }
  if (has_command) {
    for (std::string_view key : {"args", "cap_add", "user", "read_only", "network"}) {
      if (Field(*obj, key) != nullptr) {
        v.Add(fmt::format("run.{}", key), "only allowed with image or build");
      }
    }
  }
}

bool IsHostLabel(std::string_view label) {
  return !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-' &&
         std::all_of(label.begin(), label.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// Checks "host" or "host/path/prefix"; returns it normalised (host lowercased;
// the path is kept as written, since URL paths are case-sensitive).
std::optional<std::string> NormaliseDomain(Validator& v, std::string_view domain,
                                           const std::string& path) {
  size_t slash = domain.find('/');
  std::string host(domain.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : domain.substr(slash));
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool host_ok = !host.empty() && host.size() <= 253;
  for (size_t start = 0; host_ok;) {
    size_t dot = host.find('.', start);
    host_ok = IsHostLabel(
        std::string_view(host).substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!host_ok) {
    v.Add(path,
          fmt::format("not a hostname (\"{}\"); use e.g. example.com or example.com/api", domain));
    return std::nullopt;
  }
  if (!prefix.empty()) {
    bool prefix_ok = prefix.size() > 1 && prefix.back() != '/' &&
                     prefix.find("//") == std::string::npos &&
                     std::all_of(prefix.begin(), prefix.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' ||
                              c == '_' || c == '.' || c == '~';
                     });
    if (!prefix_ok) {
      v.Add(path, fmt::format("not a path prefix (\"{}\"); use e.g. example.com/api", domain));
      return std::nullopt;
    }
  }
  return host + prefix;
}

void ReadDomains(Validator& v, const json::value& value, std::vector<std::string>& out) {
  auto domains = v.StringList(value, "domains");
  if (!domains) return;
  std::set<std::string> seen;
  for (size_t i = 0; i < domains->size(); ++i) {
    std::string path = fmt::format("domains[{}]", i);
    auto domain = NormaliseDomain(v, (*domains)[i], path);
    if (!domain) continue;
    if (!seen.insert(*domain).second) {
      v.Add(path, fmt::format("duplicate domain \"{}\"", *domain));
      continue;
    }
    out.push_back(std::move(*domain));
  }
}

void ReadResources(Validator& v, const json::value& value, Resources& out) {
  const json::object* obj = v.Object(value, "resources", {"cpu", "memory"});
  if (obj == nullptr) return;
  if (const json::value* cpu = Field(*obj, "cpu")) {
    if (cpu->is_string()) {
      auto millis = ParseCpuMillis(cpu->get_string());
      // Overflowed, or past what engines take in nanoCPUs (int64).
      if (millis && (*millis < 0 || *millis > INT64_MAX / 1'000'000)) {
        v.Add("resources.cpu", fmt::format("not a cpu quantity ({}); too large", Quoted(*cpu)));
      } else if (millis) {
        out.cpu_millis = *millis;
      } else {
        v.Add("resources.cpu", millis.error().message);
      }
    } else if (cpu->is_number() && cpu->to_number<double>() >= 0 &&
               cpu->to_number<double>() < 1e6) {
      out.cpu_millis = static_cast<int64_t>(std::llround(cpu->to_number<double>() * 1000));
    } else {
      v.Add("resources.cpu",
            fmt::format("not a cpu quantity ({}); use e.g. 250m or 0.5", Quoted(*cpu)));
    }
  }
  if (const json::value* memory = Field(*obj, "memory")) {
    if (memory->is_string()) {
      auto bytes = ParseMemoryBytes(memory->get_string());
      if (bytes) {
        out.memory_bytes = *bytes;
      } else {
        v.Add("resources.memory", bytes.error().message);
      }
    } else if ((memory->is_int64() && memory->get_int64() >= 0) ||
               (memory->is_uint64() && memory->get_uint64() <= static_cast<uint64_t>(INT64_MAX))) {
      out.memory_bytes = memory->to_number<int64_t>();
    } else {
      v.Add(
          "resources.memory",
          fmt::format("not a memory quantity ({}); use e.g. 128Mi, 1Gi or 512M", Quoted(*memory)));
    }
  }
}

void ReadHealth(Validator& v, const json::value& value, HealthCheck& out) {
  const json::object* obj = v.Object(
      value, "health",
      {"type", "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "grace"});
  if (obj == nullptr) return;
  if (const json::value* f = Field(*obj, "type")) {
    Set(v.String(*f, "health.type"), [&](const std::string& s) {
      if (auto t = ParseHealthType(s)) {
        out.type = *t;
      } else {
        v.Add("health.type", fmt::format("must be one of http, tcp, none (got \"{}\")", s));
      }
    });
  }
  if (const json::value* f = Field(*obj, "path")) {
    // A path says what to GET: without a type, the check is http.
    if (Field(*obj, "type") == nullptr) out.type = HealthType::kHttp;
    Set(v.String(*f, "health.path"), [&](const std::string& s) {
      if (!s.starts_with('/')) {
        v.Add("health.path", fmt::format("must start with '/' (got \"{}\")", s));
      }
      out.path = s;
    });
  }
  bool interval_ok = true;
  bool timeout_ok = true;
  if (const json::value* f = Field(*obj, "interval")) {
    auto d = v.Dur(*f, "health.interval");
    interval_ok = d.has_value();
    if (d && d->count() == 0) v.Add("health.interval", "must be > 0"), interval_ok = false;
    if (d) out.interval = *d;
  }
  if (const json::value* f = Field(*obj, "timeout")) {
    auto d = v.Dur(*f, "health.timeout");
    timeout_ok = d.has_value();
    if (d && d->count() == 0) v.Add("health.timeout", "must be > 0"), timeout_ok = false;
    if (d) out.timeout = *d;
  }
  if (interval_ok && timeout_ok && out.timeout > out.interval) {
    v.Add("health.timeout", fmt::format("must be <= interval ({} > {})",
                                        FormatDuration(out.timeout), FormatDuration(out.interval)));
  }
  if (const json::value* f = Field(*obj, "healthy_threshold")) {
    Set(v.Int(*f, "health.healthy_threshold", 1), [&](int n) { out.healthy_threshold = n; });
  }
  if (const json::value* f = Field(*obj, "unhealthy_threshold")) {
    Set(v.Int(*f, "health.unhealthy_threshold", 1), [&](int n) { out.unhealthy_threshold = n; });
  }
  if (const json::value* f = Field(*obj, "grace")) {
    Set(v.Dur(*f, "health.grace"), [&](Duration d) { out.grace = d; });
  }
}

bool IsLabelToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '/';
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<Constraint> ParseConstraint(std::string_view text) {
  Constraint c;
  size_t op = text.find("==");
  c.op = ConstraintOp::kEquals;
  if (op == std::string_view::npos) {
    op = text.find("!=");
    c.op = ConstraintOp::kNotEquals;
  }
  if (op == std::string_view::npos) {
    c.op = ConstraintOp::kExists;
    c.key = std::string(Trim(text));
    if (!IsLabelToken(c.key)) return std::nullopt;
    return c;
  }
  c.key = std::string(Trim(text.substr(0, op)));
  c.value = std::string(Trim(text.substr(op + 2)));
  if (!IsLabelToken(c.key) || !IsLabelToken(c.value)) return std::nullopt;
  return c;
}

void ReadEdge(Validator& v, const json::value& value, EdgePolicy& out) {
  const json::object* obj =
      v.Object(value, "edge",
               {"lb", "rate_limit", "max_in_flight", "max_body", "timeouts", "drain_timeout", "tls",
                "https_redirect", "hsts", "wake_queue", "wake_timeout"});
  if (obj == nullptr) return;
  if (const json::value* f = Field(*obj, "tls")) {
    Set(v.String(*f, "edge.tls"), [&](const std::string& s) {
      if (auto tls = ParseEdgeTls(s)) {
        out.tls = *tls;
      } else {
        v.Add("edge.tls", fmt::format("must be one of auto, manual, off (got \"{}\")", s));
      }
    });
  }
  if (const json::value* f = Field(*obj, "https_redirect")) {
    Set(v.Bool(*f, "edge.https_redirect"), [&](bool b) { out.https_redirect = b; });
  }
  if (const json::value* f = Field(*obj, "hsts")) {
    Set(v.Dur(*f, "edge.hsts"), [&](Duration d) {
      // At least a second (max-age counts seconds), at most two years.
      if (d < std::chrono::seconds(1) || d > std::chrono::hours(24 * 730)) {
        v.Add("edge.hsts",
              fmt::format("must be between 1s and 17520h (got {})", FormatDuration(d)));
      } else {
        out.hsts = d;
      }
    });
  }
  if (const json::value* f = Field(*obj, "rate_limit")) {
    const json::object* limit = v.Object(*f, "edge.rate_limit", {"average", "burst"});
    if (limit != nullptr) {
      RateLimit rate;
      if (const json::value* a = Field(*limit, "average")) {
        Set(v.Int(*a, "edge.rate_limit.average", 1), [&](int n) { rate.average = n; });
      } else {
        v.Add("edge.rate_limit.average", "required: requests per second per client");
      }
      rate.burst = rate.average;  // by default a second's worth
      if (const json::value* b = Field(*limit, "burst")) {
        Set(v.Int(*b, "edge.rate_limit.burst", 1), [&](int n) { rate.burst = n; });
      }
      out.rate_limit = rate;
    }
  }
  if (const json::value* f = Field(*obj, "max_in_flight")) {
    Set(v.Int(*f, "edge.max_in_flight", 1), [&](int n) { out.max_in_flight = n; });
  }
  if (const json::value* f = Field(*obj, "max_body")) {
    auto bytes = f->is_string() ? ParseMemoryBytes(f->get_string())
                                : Result<int64_t>(InvalidArgument("not a memory quantity"));
    if (!bytes) {
      v.Add("edge.max_body", fmt::format("not a size ({}); use e.g. 10Mi", Quoted(*f)));
    } else if (*bytes < 1 || *bytes > kMaxEdgeBodyBytes) {
      v.Add("edge.max_body", fmt::format("must be between 1 and 256Mi (got {})", Quoted(*f)));
    } else {
      out.max_body = *bytes;
    }
  }
  if (const json::value* f = Field(*obj, "timeouts")) {
    if (const json::object* t = v.Object(*f, "edge.timeouts", {"connect", "response"})) {
      // Bounded both ways: 0 would refuse every request, and an hour-long
      // connect only hides an instance that is gone.
      auto read = [&](const char* name, Duration most, Duration& to) {
        const json::value* d = Field(*t, name);
        if (d == nullptr) return;
        const std::string path = std::string("edge.timeouts.") + name;
        Set(v.Dur(*d, path), [&](Duration got) {
          if (got <= Duration(0) || got > most) {
            v.Add(path, fmt::format("must be more than 0 and at most {} (got {})",
                                    FormatDuration(most), FormatDuration(got)));
          } else {
            to = got;
          }
        });
      };
      read("connect", std::chrono::minutes(1), out.connect_timeout);
      read("response", std::chrono::hours(1), out.response_timeout);
    }
  }
  if (const json::value* f = Field(*obj, "drain_timeout")) {
    Set(v.Dur(*f, "edge.drain_timeout"), [&](Duration d) {
      if (d > std::chrono::hours(1)) {
        v.Add("edge.drain_timeout", fmt::format("must be at most 1h (got {})", FormatDuration(d)));
      } else {
        out.drain_timeout = d;
      }
    });
  }
  if (const json::value* f = Field(*obj, "wake_queue")) {
    Set(v.Int(*f, "edge.wake_queue", 1), [&](int n) { out.wake_queue = n; });
  }
  if (const json::value* f = Field(*obj, "wake_timeout")) {
    Set(v.Dur(*f, "edge.wake_timeout"), [&](Duration d) {
      // Under a second no instance starts; past ten minutes a client has
      // long given up.
      if (d < std::chrono::seconds(1) || d > std::chrono::minutes(10)) {
        v.Add("edge.wake_timeout",
              fmt::format("must be between 1s and 10m (got {})", FormatDuration(d)));
      } else {
        out.wake_timeout = d;
      }
    });
  }
  if (const json::value* f = Field(*obj, "lb")) {
    Set(v.String(*f, "edge.lb"), [&](const std::string& s) {
      if (auto lb = ParseLoadBalancer(s)) {
        out.lb = *lb;
      } else {
        v.Add("edge.lb",
              fmt::format("must be one of p2c, least-request, round-robin (got \"{}\")", s));
      }
    });
  }
}

void ReadPlacement(Validator& v, const json::value& value, Placement& out) {
  const json::object* obj = v.Object(value, "placement", {"strategy", "constraints"});
  if (obj == nullptr) return;
  if (const json::value* f = Field(*obj, "strategy")) {
    Set(v.String(*f, "placement.strategy"), [&](const std::string& s) {
      if (auto strategy = ParsePlacementStrategy(s)) {
        out.strategy = *strategy;
      } else {
        v.Add("placement.strategy",
              fmt::format("must be one of spread, binpack, least-loaded, round-robin (got \"{}\")",
                          s));
      }
    });
  }
  if (const json::value* f = Field(*obj, "constraints")) {
    auto constraints = v.StringList(*f, "placement.constraints");
    if (!constraints) return;
    for (size_t i = 0; i < constraints->size(); ++i) {
      if (auto c = ParseConstraint((*constraints)[i])) {
        out.constraints.push_back(std::move(*c));
      } else {
        v.Add(fmt::format("placement.constraints[{}]", i),
              fmt::format("not a constraint (\"{}\"); use \"key == value\", \"key != value\" "
                          "or \"key\"",
                          (*constraints)[i]));
      }
    }
  }
}

void ReadUpdate(Validator& v, const json::value& value, UpdatePolicy& out) {
  const json::object* obj =
      v.Object(value, "update",
               {"strategy", "max_surge", "max_unavailable", "min_healthy_time", "healthy_deadline",
                "auto_revert", "canary", "canary_weight", "auto_promote", "keep_old"});
  if (obj == nullptr) return;
  if (const json::value* f = Field(*obj, "strategy")) {
    Set(v.String(*f, "update.strategy"), [&](const std::string& s) {
      if (auto strategy = ParseUpdateStrategy(s)) {
        out.strategy = *strategy;
      } else {
        v.Add("update.strategy",
              fmt::format("must be one of rolling, blue-green, canary (got \"{}\")", s));
      }
    });
  }
  bool counts_ok = true;
  if (const json::value* f = Field(*obj, "max_surge")) {
    auto n = v.Int(*f, "update.max_surge", 0);
    counts_ok = counts_ok && n.has_value();
    if (n) out.max_surge = *n;
  }
  if (const json::value* f = Field(*obj, "max_unavailable")) {
    auto n = v.Int(*f, "update.max_unavailable", 0);
    counts_ok = counts_ok && n.has_value();
    if (n) out.max_unavailable = *n;
  }
  if (counts_ok && out.max_surge == 0 && out.max_unavailable == 0) {
    v.Add("update",
          "max_surge and max_unavailable cannot both be 0: the rollout could not "
          "make progress");
  }
  if (const json::value* f = Field(*obj, "min_healthy_time")) {
    Set(v.Dur(*f, "update.min_healthy_time"), [&](Duration d) { out.min_healthy_time = d; });
  }
  if (const json::value* f = Field(*obj, "healthy_deadline")) {
    Set(v.Dur(*f, "update.healthy_deadline"), [&](Duration d) { out.healthy_deadline = d; });
  }
  if (const json::value* f = Field(*obj, "auto_revert")) {
    Set(v.Bool(*f, "update.auto_revert"), [&](bool b) { out.auto_revert = b; });
  }
  if (const json::value* f = Field(*obj, "canary")) {
    Set(v.Int(*f, "update.canary", 1), [&](int n) { out.canary = n; });
  }
  if (const json::value* f = Field(*obj, "canary_weight")) {
    Set(v.Int(*f, "update.canary_weight", 0), [&](int n) {
      if (n > 100) {
        v.Add("update.canary_weight", fmt::format("must be a percentage, 0 to 100 (got {})", n));
      } else {
        out.canary_weight = n;
      }
    });
  }
  if (const json::value* f = Field(*obj, "auto_promote")) {
    Set(v.Bool(*f, "update.auto_promote"), [&](bool b) { out.auto_promote = b; });
  }
  if (const json::value* f = Field(*obj, "keep_old")) {
    Set(v.Dur(*f, "update.keep_old"), [&](Duration d) { out.keep_old = d; });
  }
}

// The shortest window the autoscaler can average over: the agents' and edges'
// samples come every few seconds, never faster than this.
constexpr Duration kMinAutoscaleWindow = std::chrono::seconds(1);
// The longest: the server keeps raw samples in memory for the live view, not
// for hours (older data is in the per-minute roll-ups).
constexpr Duration kMaxAutoscaleWindow = std::chrono::hours(1);

void ReadAutoscale(Validator& v, const json::value& value, Autoscale& out) {
  const json::object* obj =
      v.Object(value, "autoscale",
               {"min", "max", "target_rps_per_replica", "max_p95_ms", "target_cpu", "target_memory",
                "scale_out_threshold", "scale_in_threshold", "window", "cooldown_up",
                "cooldown_down", "max_step", "scale_to_zero", "idle"});
  if (obj == nullptr) return;
  if (const json::value* f = Field(*obj, "scale_to_zero")) {
    Set(v.Bool(*f, "autoscale.scale_to_zero"), [&](bool b) { out.scale_to_zero = b; });
  }
  // Scaling to zero is going below 1: without a min of its own, min is 0.
  if (out.scale_to_zero) out.min = 0;
  bool bounds_ok = true;
  if (const json::value* f = Field(*obj, "min")) {
    auto n = v.Int(*f, "autoscale.min", 0);
    bounds_ok = bounds_ok && n.has_value();
    if (n) out.min = *n;
  }
  if (const json::value* f = Field(*obj, "max")) {
    auto n = v.Int(*f, "autoscale.max", 1);
    bounds_ok = bounds_ok && n.has_value();
    if (n) out.max = *n;
  }
  // A signal given with a bad value is reported as such, not again as missing.
  bool signals_ok = true;
  auto target = [&](std::string_view key, int& to) {
    const json::value* f = Field(*obj, key);
    if (f == nullptr) return;
    auto n = v.Int(*f, fmt::format("autoscale.{}", key), 0);
    signals_ok = signals_ok && n.has_value();
    if (n) to = *n;
  };
  target("target_rps_per_replica", out.target_rps_per_replica);
  target("max_p95_ms", out.max_p95_ms);
  target("target_cpu", out.target_cpu);
  target("target_memory", out.target_memory);
  auto percent = [&](std::string_view key, int& to) {
    const json::value* f = Field(*obj, key);
    if (f == nullptr) return;
    const std::string path = fmt::format("autoscale.{}", key);
    Set(v.Int(*f, path, std::numeric_limits<int>::min()), [&](int n) {
      if (n < 0 || n > 100) {
        v.Add(path, fmt::format("must be a percentage of the target, 0 to 100 (got {})", n));
      } else {
        to = n;
      }
    });
  };
  percent("scale_out_threshold", out.scale_out_threshold);
  percent("scale_in_threshold", out.scale_in_threshold);
  if (const json::value* f = Field(*obj, "window")) {
    Set(v.Dur(*f, "autoscale.window"), [&](Duration d) {
      if (d < kMinAutoscaleWindow || d > kMaxAutoscaleWindow) {
        v.Add("autoscale.window",
              fmt::format("must be between {} and {} (got {})", FormatDuration(kMinAutoscaleWindow),
                          FormatDuration(kMaxAutoscaleWindow), FormatDuration(d)));
      } else {
        out.window = d;
      }
    });
  }
  if (const json::value* f = Field(*obj, "cooldown_up")) {
    Set(v.Dur(*f, "autoscale.cooldown_up"), [&](Duration d) { out.cooldown_up = d; });
  }
  if (const json::value* f = Field(*obj, "cooldown_down")) {
    Set(v.Dur(*f, "autoscale.cooldown_down"), [&](Duration d) { out.cooldown_down = d; });
  }
  if (const json::value* f = Field(*obj, "max_step")) {
    Set(v.Int(*f, "autoscale.max_step", 1, 10000), [&](int n) { out.max_step = n; });
  }
  if (const json::value* f = Field(*obj, "idle")) {
    Set(v.Dur(*f, "autoscale.idle"), [&](Duration d) {
      if (d < std::chrono::seconds(1)) {
        v.Add("autoscale.idle", fmt::format("must be at least 1s (got {})", FormatDuration(d)));
      } else {
        out.idle = d;
      }
    });
  }
  if (bounds_ok && out.min > out.max) {
    v.Add("autoscale.min", fmt::format("must be <= max ({} > {})", out.min, out.max));
  }
  if (bounds_ok && out.min == 0 && !out.scale_to_zero) {
    v.Add("autoscale.min", "may be 0 only with scale_to_zero: true");
  }
  // What follows was accepted before the autoscaler ran, and specs stored
  // then must still read back: only a user's spec is held to it.
  if (!v.strict()) return;
  if (bounds_ok && out.scale_to_zero && out.min > 0) {
    v.Add("autoscale.scale_to_zero",
          fmt::format("needs min: 0 (got min: {}): remove min, or scale_to_zero", out.min));
  }
  const bool any_signal = out.target_rps_per_replica > 0 || out.max_p95_ms > 0 ||
                          out.target_cpu > 0 || out.target_memory > 0;
  if (signals_ok && !any_signal && !out.scale_to_zero) {
    v.Add("autoscale",
          "nothing to scale on: set at least one of target_rps_per_replica, max_p95_ms, "
          "target_cpu, target_memory (or scale_to_zero: true)");
  }
}

// target_cpu and target_memory are percents of the reservation: there must be one.
void CheckAutoscaleReservations(Validator& v, const Autoscale& autoscale,
                                const Resources& resources) {
  if (autoscale.target_cpu > 0 && resources.cpu_millis == 0 && !v.Reported("resources.cpu")) {
    v.Add("autoscale.target_cpu",
          "is a percent of the cpu reservation, and there is none: set resources.cpu (e.g. "
          "250m), or use another signal");
  }
  if (autoscale.target_memory > 0 && resources.memory_bytes == 0 &&
      !v.Reported("resources.memory")) {
    v.Add("autoscale.target_memory",
          "is a percent of the memory reservation, and there is none: set resources.memory (e.g. "
          "128Mi), or use another signal");
  }
}

void ReadRegions(Validator& v, const json::value& value,
                 std::map<std::string, RegionOverride>& out) {
  if (!value.is_object()) {
    return v.Add("regions", fmt::format("must be an object, not {}", JsonKindName(value)));
  }
  for (const auto& [key, item] : value.get_object()) {
    std::string path = Join("regions", key);
    if (auto problem = NameProblem(key)) v.Add(path, "region name " + *problem);
    RegionOverride region;
    if (!item.is_null()) {  // `fra:` with nothing overrides nothing
      const json::object* obj = v.Object(item, path, {"replicas", "env"});
      if (obj == nullptr) continue;
      if (const json::value* f = Field(*obj, "replicas")) {
        Set(v.Int(*f, path + ".replicas", 0), [&](int n) { region.replicas = n; });
      }
      if (const json::value* f = Field(*obj, "env")) ReadEnv(v, *f, path + ".env", region.env);
    }
    out[std::string(key)] = std::move(region);
  }
}

void ReadSpec(Validator& v, const json::value& value, AppSpec& spec) {
  const json::object* obj = v.Object(
      value, "",
      {"name", "project", "run", "env", "port", "domains", "replicas", "resources", "health",
       "edge", "placement", "update", "autoscale", "regions", "stop_grace", "secret_versions"});
  if (obj == nullptr) return;
  // Skiff's own (model/codec.cc reads it back from the store): a user's spec
  // that names it, such as an app's spec read back from the API, is refused.
  if (v.strict() && Field(*obj, "secret_versions") != nullptr) {
    v.Add("secret_versions",
          "set by Skiff when a secret changes (skiff secrets set), not in a spec: remove it");
  }
  if (const json::value* f = Field(*obj, "name")) {
    Set(v.String(*f, "name"), [&](const std::string& name) {
      if (auto problem = NameProblem(name)) v.Add("name", *problem);
      spec.name = name;
    });
  } else {
    v.Add("name", "required");
  }
  if (const json::value* f = Field(*obj, "project")) {
    Set(v.String(*f, "project"), [&](const std::string& project) {
      if (auto problem = NameProblem(project)) v.Add("project", *problem);
      spec.project = project;
    });
  }
  if (const json::value* f = Field(*obj, "run")) {
    ReadRun(v, *f, spec.run);
  } else {
    v.Add("run", "required (command, image or build)");
  }
  if (const json::value* f = Field(*obj, "env")) ReadEnv(v, *f, "env", spec.env);
  if (const json::value* f = Field(*obj, "port")) {
    Set(v.Int(*f, "port", 1, 65535), [&](int n) { spec.port = n; });
  } else if (IsContainer(spec.run) && spec.run.network == NetworkMode::kBridge) {
    v.Add("port", "required for an image app: the port the container listens on");
  }
  if (const json::value* f = Field(*obj, "domains")) ReadDomains(v, *f, spec.domains);
  if (const json::value* f = Field(*obj, "replicas")) {
    Set(v.Int(*f, "replicas", 0), [&](int n) { spec.replicas = n; });
  }
  if (const json::value* f = Field(*obj, "resources")) ReadResources(v, *f, spec.resources);
  if (const json::value* f = Field(*obj, "health")) ReadHealth(v, *f, spec.health);
  if (const json::value* f = Field(*obj, "placement")) ReadPlacement(v, *f, spec.placement);
  if (const json::value* f = Field(*obj, "update")) ReadUpdate(v, *f, spec.update);
  if (const json::value* f = Field(*obj, "autoscale")) {
    Autoscale autoscale;
    ReadAutoscale(v, *f, autoscale);
    // Stored specs from before the autoscaler ran may lack the reservation.
    if (v.strict()) CheckAutoscaleReservations(v, autoscale, spec.resources);
    spec.autoscale = autoscale;
  }
  if (const json::value* f = Field(*obj, "regions")) ReadRegions(v, *f, spec.regions);
  if (const json::value* f = Field(*obj, "edge")) ReadEdge(v, *f, spec.edge);
  if (const json::value* f = Field(*obj, "stop_grace")) {
    Set(v.Dur(*f, "stop_grace"), [&](Duration d) { spec.stop_grace = d; });
  }
}

// 1-based line and column of byte `offset` in text.
std::pair<size_t, size_t> LineColumn(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

Result<json::value> ParseJsonText(std::string_view text) {
  json::stream_parser parser;
  boost::system::error_code ec;
  size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    auto [line, column] = LineColumn(text, consumed);
    return InvalidArgument(
        fmt::format("invalid JSON at line {}, column {}: {}", line, column, ec.message()));
  }
  return parser.release();
}

// Env values and command words are strings as written: `FEATURE: on` is "on",
// `VERSION: 1.10` is "1.10", `command: [sleep, 1.50]` sleeps "1.50".
bool KeepsYamlText(const YamlPath& path) {
  return (path.size() == 2 && path[0] == "env") ||
         (path.size() == 4 && path[0] == "regions" && path[2] == "env") ||
         (path.size() == 3 && path[0] == "run" && (path[1] == "command" || path[1] == "args"));
}

}  // namespace

Result<AppSpec> ParseAppSpec(std::string_view text, SpecFormat format) {
  Result<json::value> json =
      format == SpecFormat::kJson ? ParseJsonText(text) : YamlToJson(text, &KeepsYamlText);
  if (!json) return tl::unexpected(json.error());
  return ParseAppSpecJson(*json);
}

namespace {

// What `read` makes of `json`, or every problem it found.
template <typename T>
Result<T> Read(const json::value& json, UnknownFields unknown,
               void (*read)(Validator&, const json::value&, T&)) {
  Validator v(unknown);
  T out;
  read(v, json, out);
  if (!v.ok()) return tl::unexpected(v.ToError());
  return out;
}

}  // namespace

Result<AppSpec> ParseAppSpecJson(const json::value& json, UnknownFields unknown) {
  return Read<AppSpec>(json, unknown, &ReadSpec);
}

Result<EdgePolicy> ParseEdgePolicyJson(const json::value& json, UnknownFields unknown) {
  return Read<EdgePolicy>(json, unknown, &ReadEdge);
}

Status CheckAutoscaleWindow(const Autoscale& autoscale, Duration sample_interval) {
  if (autoscale.window >= sample_interval) return OkStatus();
  return InvalidArgument(
      fmt::format("autoscale.window: must be at least the server's sample interval, {} (got {}): "
                  "a shorter window would hold no sample",
                  FormatDuration(sample_interval), FormatDuration(autoscale.window)),
      "autoscale.window");
}

Status ValidateName(std::string_view name, std::string_view field) {
  if (auto problem = NameProblem(name)) {
    return InvalidArgument(fmt::format("{}: {}", field, *problem), std::string(field));
  }
  return OkStatus();
}

}  // namespace skiff::model
