// liballoclab_whoami.so: preloaded into a real server after the allocator
// asked for, it records which allocator answers malloc in that process, the
// server-side counterpart of the worker's identity check.
//
// At load it finds the object defining the process's malloc (the first in
// load order after the program), asks that object for its
// version API (jemalloc mallctl "version", mi_version, tc_version; glibc's
// gnu_get_libc_version otherwise) and writes one line to
// $ALLOCLAB_WHOAMI_DIR/PID:
//   FAMILY<TAB>VERSION<TAB>OBJECT
// It uses only libc and libdl (no libstdc++, no exceptions), allocates
// nothing itself, and does nothing when the variable is unset.
#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
using MiVersionFn = int (*)();
using TcVersionFn = const char* (*)(int*, int*, const char**);

// The first object in load order, after the program itself, that defines
// malloc: the one the dynamic linker binds the program's calls to (a
// preloaded library comes before libc). dlsym(RTLD_DEFAULT) is not asked:
// in a non-PIE program it answers with the program's own PLT entry.
struct Found {
  const char* name = nullptr;
};

int visit(struct dl_phdr_info* info, std::size_t, void* data) {
  auto* found = static_cast<Found*>(data);
  if (found->name != nullptr || info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') return 0;
  void* handle = ::dlopen(info->dlpi_name, RTLD_NOLOAD | RTLD_LAZY);
  if (handle == nullptr) return 0;
  void* sym = ::dlsym(handle, "malloc");
  Dl_info where{};
  if (sym != nullptr && ::dladdr(sym, &where) != 0 && where.dli_fname != nullptr &&
      std::strcmp(where.dli_fname, info->dlpi_name) == 0) {
    found->name = info->dlpi_name;
  }
  ::dlclose(handle);
  return 0;
}

// `name` defined by the object at `path` itself (not one of its dependencies).
void* symbol_in(const char* path, const char* name) {
  void* handle = ::dlopen(path, RTLD_NOLOAD | RTLD_LAZY);
  if (handle == nullptr) return nullptr;
  void* sym = ::dlsym(handle, name);
  Dl_info where{};
  if (sym != nullptr && (::dladdr(sym, &where) == 0 || where.dli_fname == nullptr ||
                         std::strcmp(where.dli_fname, path) != 0)) {
    sym = nullptr;
  }
  ::dlclose(handle);
  return sym;
}

__attribute__((constructor)) void alloclab_whoami() {
  const char* dir = std::getenv("ALLOCLAB_WHOAMI_DIR");
  if (dir == nullptr || dir[0] == '\0') return;
  Found found;
  ::dl_iterate_phdr(visit, &found);
  const char* object = found.name != nullptr ? found.name : "unknown";
  char version[128] = "unknown";
  const char* family = "unknown";
  if (auto mallctl = reinterpret_cast<MallctlFn>(symbol_in(object, "mallctl"))) {
    const char* v = nullptr;
    std::size_t len = sizeof(v);
    if (mallctl("version", &v, &len, nullptr, 0) == 0 && v != nullptr) {
      std::snprintf(version, sizeof(version), "%s", v);
    }
    family = "jemalloc";
  } else if (auto mi = reinterpret_cast<MiVersionFn>(symbol_in(object, "mi_version"))) {
    int v = mi();
    std::snprintf(version, sizeof(version), "%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
    family = "mimalloc";
  } else if (auto tc = reinterpret_cast<TcVersionFn>(symbol_in(object, "tc_version"))) {
    const char* v = tc(nullptr, nullptr, nullptr);
    std::snprintf(version, sizeof(version), "%s", v != nullptr ? v : "unknown");
    family = "tcmalloc";
  } else if (std::strstr(object, "/libc.so") != nullptr) {
    std::snprintf(version, sizeof(version), "%s", gnu_get_libc_version());
    family = "glibc";
  }
  char path[4096];
  int n = std::snprintf(path, sizeof(path), "%s/%d", dir, static_cast<int>(::getpid()));
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof(path)) return;
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[4096 + 256];
  n = std::snprintf(line, sizeof(line), "%s\t%s\t%s\n", family, version, object);
  if (n > 0) {
    ssize_t written = ::write(fd, line, static_cast<std::size_t>(n) < sizeof(line) ? n : sizeof(line) - 1);
    (void)written;
  }
  ::close(fd);
}

}  // namespace
