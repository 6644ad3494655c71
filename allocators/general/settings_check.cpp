// Reading settings back from the allocator that answers malloc in this
// process: the worker's proof that its spec's settings took effect.
#include "allocators/general/settings.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mimalloc.h>  // MI_MALLOC_VERSION: the option numbers in the table are this version's

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace alloclab {

namespace {

using ST = SettingType;
using RB = ReadBack;

using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
using MiOptionGetFn = long (*)(int);
using TcPropertyFn = int (*)(const char*, std::size_t*);

// The object that answers malloc, opened without loading anything.
class MallocOwner {
 public:
  MallocOwner() {
    void* sym = ::dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info{};
    if (sym != nullptr && ::dladdr(sym, &info) != 0 && info.dli_fname != nullptr)
      handle_ = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  }
  ~MallocOwner() {
    if (handle_) ::dlclose(handle_);
  }
  MallocOwner(const MallocOwner&) = delete;
  MallocOwner& operator=(const MallocOwner&) = delete;
  template <class Fn>
  Fn find(const char* name) const {
    return handle_ ? reinterpret_cast<Fn>(::dlsym(handle_, name)) : nullptr;
  }

 private:
  void* handle_ = nullptr;
};

std::optional<std::string> read_mallctl(MallctlFn mallctl, const SettingDef& d, std::string& how) {
  std::string name = "opt." + std::string(d.key);
  how = "mallctl " + name;
  if (!mallctl) {
    how += ": no mallctl in the library answering malloc";
    return std::nullopt;
  }
  auto get = [&](auto& v) {
    std::size_t len = sizeof v;
    return mallctl(name.c_str(), &v, &len, nullptr, 0) == 0;
  };
  bool ok = false;
  std::string out;
  switch (d.read) {
    case RB::mallctl_bool: { bool v = false; ok = get(v); out = v ? "true" : "false"; break; }
    case RB::mallctl_ssize: { ssize_t v = 0; ok = get(v); out = std::to_string(v); break; }
    case RB::mallctl_unsigned: { unsigned v = 0; ok = get(v); out = std::to_string(v); break; }
    case RB::mallctl_size: { std::size_t v = 0; ok = get(v); out = std::to_string(v); break; }
    case RB::mallctl_string: {
      const char* v = nullptr;
      ok = get(v) && v != nullptr;
      if (ok) out = v;
      break;
    }
    default: break;
  }
  if (!ok) {
    how += ": this jemalloc has no such option";
    return std::nullopt;
  }
  return out;
}

// The dynamic loader this process runs under (PT_INTERP), by the address
// the kernel mapped it at.
std::string loader_path() {
  auto base = ::getauxval(AT_BASE);
  Dl_info info{};
  if (base == 0 || ::dladdr(reinterpret_cast<void*>(base), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

// `LOADER --list-tunables` under this process's GLIBC_TUNABLES and nothing
// else: "glibc.malloc.arena_max: 0x2 (min: 0x1, max: ...)" per line.
std::string list_tunables(const std::string& loader, std::string& error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = "pipe failed";
    return "";
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::string tunables = "GLIBC_TUNABLES=";
  if (const char* t = std::getenv("GLIBC_TUNABLES")) tunables += t;
  char* envp[] = {tunables.data(), nullptr};
  std::string arg0 = loader, arg1 = "--list-tunables";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, loader.c_str(), &fa, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0 && out.size() < (1u << 20)) out.append(buf, static_cast<std::size_t>(n));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) error = loader + " --list-tunables failed";
  } else {
    error = "cannot run " + loader + ": " + std::strerror(rc);
  }
  ::close(fds[0]);
  return out;
}

std::optional<std::string> tunable_value(const std::string& listing, std::string_view key) {
  std::string prefix = "glibc.malloc." + std::string(key) + ": ";
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::string v = line.substr(prefix.size());
    v = v.substr(0, v.find(' '));
    std::uint64_t n = 0;
    bool hex = v.rfind("0x", 0) == 0;
    std::string_view digits = hex ? std::string_view(v).substr(2) : std::string_view(v);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, hex ? 16 : 10);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
    return std::to_string(n);
  }
  return std::nullopt;
}

}  // namespace

void judge_settings(SettingsVerdict& v) {
  v.mismatch.clear();
  for (const auto& c : v.checks) {
    if (c.verified && *c.verified != c.requested) {
      v.mismatch = c.key + "=" + c.requested + " did not take effect: " + c.how + " reads " + *c.verified;
      return;
    }
  }
  for (const auto& c : v.checks) {
    if (!c.verified && c.how.find("not verifiable") == std::string::npos) {
      v.mismatch = c.key + "=" + c.requested + " could not be read back: " + c.how;
      return;
    }
  }
}

SettingsVerdict verify_settings(Library lib, const AllocatorSettings& settings, const MallocIdentity& identity) {
  SettingsVerdict v;
  if (settings.empty()) return v;
  MallocOwner owner;
  std::string listing, listing_error, loader;
  if (lib == Library::glibc) {
    loader = loader_path();
    if (loader.empty()) listing_error = "cannot find the dynamic loader";
    else listing = list_tunables(loader, listing_error);
  }
  // mimalloc's option numbers change between minor versions.
  const std::string mi_built = std::to_string(MI_MALLOC_VERSION / 100) + "." + std::to_string(MI_MALLOC_VERSION / 10 % 10) + ".";
  for (const auto& s : settings.items()) {
    const SettingDef& d = *find_setting(lib, s.key);
    SettingCheck c{s.key, s.value, std::nullopt, ""};
    switch (d.read) {
      case RB::mallctl_bool:
      case RB::mallctl_ssize:
      case RB::mallctl_unsigned:
      case RB::mallctl_size:
      case RB::mallctl_string:
        c.verified = read_mallctl(owner.find<MallctlFn>("mallctl"), d, c.how);
        break;
      case RB::mi_option: {
        c.how = "mi_option_get(mi_option_" + s.key + ")";
        auto get = owner.find<MiOptionGetFn>("mi_option_get");
        if (identity.version.rfind(mi_built, 0) != 0) {
          c.how += ": option numbers are those of mimalloc " + mi_built + "x, the loaded one is " + identity.version;
        } else if (!get) {
          c.how += ": no mi_option_get in the library answering malloc";
        } else {
          long n = get(d.option);
          c.verified = d.type == ST::boolean ? (n != 0 ? "true" : "false") : std::to_string(n);
        }
        break;
      }
      case RB::tunable:
        c.how = loader + " --list-tunables under the worker's GLIBC_TUNABLES";
        if (!listing_error.empty()) {
          c.how = listing_error;
        } else if (auto t = tunable_value(listing, s.key)) {
          c.verified = *t;
        } else {
          c.how += ": glibc.malloc." + s.key + " is not listed by this glibc";
        }
        break;
      case RB::tc_property: {
        c.how = "MallocExtension_GetNumericProperty(" + std::string(d.property) + ")";
        auto get = owner.find<TcPropertyFn>("MallocExtension_GetNumericProperty");
        std::size_t n = 0;
        if (get && get(std::string(d.property).c_str(), &n)) {
          c.verified = d.type == ST::boolean ? (n != 0 ? "true" : "false") : std::to_string(n);
        } else {
          c.how += ": not reported by this tcmalloc";
        }
        break;
      }
      case RB::none:
        c.how = "not verifiable: " + std::string(library_name(lib)) + " has no call that reports it";
        break;
    }
    v.checks.push_back(std::move(c));
  }
  judge_settings(v);
  return v;
}

}  // namespace alloclab
