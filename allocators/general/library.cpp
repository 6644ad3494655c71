#include "allocators/general/library.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <gnu/libc-version.h>
#include <string>

namespace alloclab {

namespace {

// The library's own entry points, found in the object that answers malloc.
using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
using MiVersionFn = int (*)();
using MiInHeapFn = bool (*)(const void*);
using MiCollectFn = void (*)(bool);
using TcVersionFn = const char* (*)(int*, int*, const char**);
using TcOwnershipFn = int (*)(const void*);
using TcReleaseFn = void (*)();
using MallocTrimFn = int (*)(std::size_t);

constexpr int kTcOwned = 1;  // MallocExtension::kOwned

std::string real_path(const char* path) {
  char buf[PATH_MAX];
  if (path != nullptr && ::realpath(path, buf) != nullptr) return buf;
  return path ? path : "";
}

template <class Fn>
Fn lookup(void* handle, const char* name) {
  return reinterpret_cast<Fn>(::dlsym(handle, name));
}

// Keeps the compiler from pairing away or eliding a malloc/free.
void* opaque(void* p) {
  asm volatile("" : "+r"(p)::"memory");
  return p;
}

std::string jemalloc_version(MallctlFn mallctl) {
  const char* v = nullptr;
  std::size_t len = sizeof(v);
  if (mallctl("version", &v, &len, nullptr, 0) != 0 || v == nullptr) return "";
  std::string s(v);
  // "5.3.0-0-g54eaed1d..." -> "5.3.0"
  auto dash = s.find('-');
  return dash == std::string::npos ? s : s.substr(0, dash);
}

std::uint64_t jemalloc_thread_allocated(MallctlFn mallctl, bool* ok) {
  std::uint64_t v = 0;
  std::size_t len = sizeof(v);
  *ok = mallctl("thread.allocated", &v, &len, nullptr, 0) == 0;
  return v;
}

}  // namespace

std::string_view library_name(Library lib) {
  switch (lib) {
    case Library::glibc: return "glibc";
    case Library::jemalloc: return "jemalloc";
    case Library::mimalloc: return "mimalloc";
    case Library::tcmalloc: return "tcmalloc";
  }
  return "unknown";
}

std::optional<Library> library_from_name(std::string_view name) {
  for (Library lib : kLibraries) {
    if (library_name(lib) == name) return lib;
  }
  return std::nullopt;
}

namespace {

// The path found at build time (the real file, not a -dev symlink).
std::string_view built_preload_path(Library lib) {
  switch (lib) {
    case Library::glibc: return "";
    case Library::jemalloc: return ALLOCLAB_JEMALLOC_SO;
    case Library::mimalloc: return ALLOCLAB_MIMALLOC_SO;
    case Library::tcmalloc: return ALLOCLAB_TCMALLOC_SO;
  }
  return "";
}

// ROOT/lib when the running binary is ROOT/bin/NAME and ROOT holds a
// MANIFEST (the layout scripts/bundle.sh writes); empty otherwise, which is
// always the case in a build tree.
std::string bundle_lib_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<std::size_t>(n));
  auto slash = exe.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  std::string bin = exe.substr(0, slash);
  slash = bin.rfind('/');
  if (slash == std::string::npos || bin.compare(slash, std::string::npos, "/bin") != 0) return "";
  std::string root = bin.substr(0, slash);
  if (::access((root + "/MANIFEST").c_str(), R_OK) != 0) return "";
  return root + "/lib";
}

// The bundle's copy of the built library (same file name) when there is
// one, else the built path.
std::string resolve_preload_path(Library lib) {
  std::string built(built_preload_path(lib));
  if (built.empty()) return built;
  static const std::string lib_dir = bundle_lib_dir();
  if (lib_dir.empty()) return built;
  std::string bundled = lib_dir + built.substr(built.rfind('/'));
  return ::access(bundled.c_str(), R_OK) == 0 ? bundled : built;
}

}  // namespace

std::string_view library_preload_path(Library lib) {
  // Resolved once per process; the strings live as long as the process.
  static_assert(static_cast<int>(Library::tcmalloc) == 3, "paths[] is indexed by Library");
  static const std::string paths[] = {
      resolve_preload_path(Library::glibc), resolve_preload_path(Library::jemalloc),
      resolve_preload_path(Library::mimalloc), resolve_preload_path(Library::tcmalloc)};
  return paths[static_cast<std::size_t>(lib)];
}

MallocIdentity identify_process_malloc() {
  MallocIdentity id;
  id.family = "unknown";
  void* malloc_sym = ::dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info{};
  if (malloc_sym == nullptr || ::dladdr(malloc_sym, &info) == 0 || info.dli_fname == nullptr) {
    id.evidence = "dladdr could not name the object that defines malloc";
    return id;
  }
  id.malloc_object = real_path(info.dli_fname);

  // Ask the object that answers malloc, not whatever else is loaded.
  void* owner = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (owner == nullptr) {
    id.evidence = "could not open " + id.malloc_object;
    return id;
  }
  constexpr std::size_t kProbe = 4000;
  if (auto mallctl = lookup<MallctlFn>(owner, "mallctl")) {
    id.family = "jemalloc";
    id.version = jemalloc_version(mallctl);
    bool ok1 = false, ok2 = false;
    std::uint64_t before = jemalloc_thread_allocated(mallctl, &ok1);
    void* p = opaque(std::malloc(kProbe));
    std::uint64_t after = jemalloc_thread_allocated(mallctl, &ok2);
    std::free(p);
    id.owns_fresh_block = ok1 && ok2 && after - before >= kProbe;
    id.evidence = "mallctl thread.allocated grew by " + std::to_string(after - before) +
                  " after malloc(" + std::to_string(kProbe) + ")";
  } else if (auto mi_version = lookup<MiVersionFn>(owner, "mi_version")) {
    id.family = "mimalloc";
    int v = mi_version();  // 209 -> 2.0.9
    id.version = std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
                 std::to_string(v % 10);
    auto in_heap = lookup<MiInHeapFn>(owner, "mi_is_in_heap_region");
    void* p = opaque(std::malloc(kProbe));
    id.owns_fresh_block = in_heap != nullptr && in_heap(p);
    std::free(p);
    id.evidence = std::string("mi_is_in_heap_region(malloc(4000)) = ") +
                  (id.owns_fresh_block ? "true" : "false");
  } else if (auto tc_version = lookup<TcVersionFn>(owner, "tc_version")) {
    id.family = "tcmalloc";
    int major = 0, minor = 0;
    const char* patch = nullptr;
    tc_version(&major, &minor, &patch);
    id.version = std::to_string(major) + "." + std::to_string(minor) + (patch ? patch : "");
    auto ownership = lookup<TcOwnershipFn>(owner, "MallocExtension_GetOwnership");
    void* p = opaque(std::malloc(kProbe));
    int own = ownership != nullptr ? ownership(p) : -1;
    std::free(p);
    id.owns_fresh_block = own == kTcOwned;
    id.evidence = "MallocExtension_GetOwnership(malloc(4000)) = " + std::to_string(own);
  } else if (lookup<void*>(owner, "gnu_get_libc_version") != nullptr) {
    id.family = "glibc";
    id.version = ::gnu_get_libc_version();
    // Below the mmap threshold (128 KiB), so the block is counted in the
    // arena's in-use bytes.
    constexpr std::size_t kArenaProbe = 64 * 1024;
    auto before = ::mallinfo2().uordblks;
    void* p = opaque(std::malloc(kArenaProbe));
    auto after = ::mallinfo2().uordblks;
    std::free(p);
    id.owns_fresh_block = after >= before + kArenaProbe;
    id.evidence = "mallinfo2 uordblks grew by " + std::to_string(after - before) +
                  " after malloc(65536)";
  } else {
    id.evidence = "no known allocator API in " + id.malloc_object;
  }
  ::dlclose(owner);
  return id;
}

std::optional<std::string> identity_mismatch(const MallocIdentity& identity,
                                             std::optional<Library> expected,
                                             std::string_view expected_path) {
  if (!expected_path.empty()) {
    std::string want = real_path(std::string(expected_path).c_str());
    if (identity.malloc_object != want) {
      return "malloc is answered by " + identity.malloc_object + ", not by " + want;
    }
  }
  if (expected) {
    if (identity.family != library_name(*expected)) {
      return "malloc is answered by " + identity.family + " (" + identity.malloc_object +
             "), not by " + std::string(library_name(*expected));
    }
    if (!identity.owns_fresh_block) {
      return std::string(library_name(*expected)) + " did not claim a fresh malloc block (" +
             identity.evidence + ")";
    }
  }
  return std::nullopt;
}

namespace {

// mimalloc 2.0.9's mi_malloc_aligned (behind posix_memalign, aligned_alloc
// and memalign) takes its small-object path for alignments 256-1024 when the
// size is one or two times the alignment, and returns blocks aligned only to
// the size class. Seen here on Debian's 2.0.9; fixed upstream after 2.0.9.
bool mimalloc_209_misaligns(std::size_t size, std::size_t align) {
  return align >= 256 && align <= 1024 && size >= align && size <= 2 * align;
}

constexpr KnownDefect kKnownDefects[] = {
    {"mimalloc", "2.0.9",
     "posix_memalign/aligned_alloc return misaligned blocks for alignment 256-1024 when size is 1-2x "
     "the alignment",
     "microsoft/mimalloc issue 700", mimalloc_209_misaligns},
};

}  // namespace

std::vector<const KnownDefect*> known_defects(const MallocIdentity& identity) {
  std::vector<const KnownDefect*> out;
  for (const auto& d : kKnownDefects) {
    if (d.family == identity.family && d.version == identity.version) out.push_back(&d);
  }
  return out;
}

std::string_view release_free_memory() {
  void* malloc_sym = ::dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info{};
  if (malloc_sym == nullptr || ::dladdr(malloc_sym, &info) == 0) return "none";
  void* owner = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (owner == nullptr) return "none";
  std::string_view used = "none";
  if (auto mallctl = lookup<MallctlFn>(owner, "mallctl")) {
    // MALLCTL_ARENAS_ALL is 4096 in jemalloc 5.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    used = "mallctl arena.4096.purge";
  } else if (auto collect = lookup<MiCollectFn>(owner, "mi_collect")) {
    collect(true);
    used = "mi_collect(true)";
  } else if (auto release = lookup<TcReleaseFn>(owner, "MallocExtension_ReleaseFreeMemory")) {
    release();
    used = "MallocExtension_ReleaseFreeMemory";
  } else if (auto trim = lookup<MallocTrimFn>(owner, "malloc_trim")) {
    trim(0);
    used = "malloc_trim(0)";
  }
  ::dlclose(owner);
  return used;
}

}  // namespace alloclab
