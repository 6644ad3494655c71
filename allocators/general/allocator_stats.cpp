#include "allocators/general/allocator_stats.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <array>
#include <cstddef>
#include <string_view>

namespace alloclab {

namespace {

using MallctlFn = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
using MiProcessInfoFn = void (*)(std::size_t*, std::size_t*, std::size_t*, std::size_t*, std::size_t*,
                                 std::size_t*, std::size_t*, std::size_t*);
using TcPropertyFn = int (*)(const char*, std::size_t*);
using Mallinfo2Fn = struct mallinfo2 (*)();

enum class Family { unknown, glibc, jemalloc, mimalloc, tcmalloc };

// The statistics entry point of the library answering malloc, resolved once.
struct Reader {
  Family family = Family::unknown;
  MallctlFn mallctl = nullptr;
  MiProcessInfoFn mi_process_info = nullptr;
  TcPropertyFn tc_property = nullptr;
  Mallinfo2Fn mallinfo2 = nullptr;
};

// name as found by the dynamic linker, but only if the object that defines it
// also defines malloc: a library loaded for another reason (or glibc's own
// mallinfo2 beside a preloaded malloc) must not answer for the allocator.
void* resolve_beside_malloc(const char* name, const void* malloc_base) {
  void* sym = ::dlsym(RTLD_DEFAULT, name);
  Dl_info info{};
  if (sym == nullptr || ::dladdr(sym, &info) == 0 || info.dli_fbase != malloc_base) return nullptr;
  return sym;
}

Reader detect() {
  Reader r;
  Dl_info info{};
  void* malloc_sym = ::dlsym(RTLD_DEFAULT, "malloc");
  if (malloc_sym == nullptr || ::dladdr(malloc_sym, &info) == 0) return r;
  const void* base = info.dli_fbase;
  if (void* p = resolve_beside_malloc("mallctl", base)) {
    r.family = Family::jemalloc;
    r.mallctl = reinterpret_cast<MallctlFn>(p);
  } else if (void* p = resolve_beside_malloc("mi_process_info", base)) {
    r.family = Family::mimalloc;
    r.mi_process_info = reinterpret_cast<MiProcessInfoFn>(p);
  } else if (void* p = resolve_beside_malloc("MallocExtension_GetNumericProperty", base)) {
    r.family = Family::tcmalloc;
    r.tc_property = reinterpret_cast<TcPropertyFn>(p);
  } else if (resolve_beside_malloc("gnu_get_libc_version", base) != nullptr) {
    if (void* p = resolve_beside_malloc("mallinfo2", base)) {
      r.family = Family::glibc;
      r.mallinfo2 = reinterpret_cast<Mallinfo2Fn>(p);
    }
  }
  return r;
}

const Reader& reader() {
  static const Reader r = detect();
  return r;
}

// Up to ten counters read into fixed storage before any std::string is built,
// so the reading sees the heap as the application left it.
struct Readings {
  std::array<std::string_view, 10> names{};
  std::array<std::uint64_t, 10> values{};
  std::size_t n = 0;
  void add(std::string_view name, std::uint64_t value) {
    names[n] = name;
    values[n] = value;
    ++n;
  }
  std::uint64_t operator[](std::size_t i) const { return values[i]; }
};

// glibc: mallinfo2 locks each arena in turn and sums over all of them
// (__libc_mallinfo2 walks main_arena.next round to main_arena; int_mallinfo
// adds each arena's system_mem to `arena`), so threads' arenas are included.
// hblkhd (mmapped chunks) is process-wide. Held memory = sbrk/heap memory of
// every arena + mmapped chunks. uordblks counts chunk headers and blocks parked
// in the per-thread tcache as in use; that is glibc's own view of allocated.
// Cost grows with the number of free chunks: int_mallinfo walks every bin.
void read_glibc(const Reader& r, AllocatorCounters& out, Readings& raw) {
  struct mallinfo2 m = r.mallinfo2();
  raw.add("arena", m.arena);
  raw.add("ordblks", m.ordblks);
  raw.add("smblks", m.smblks);
  raw.add("hblks", m.hblks);
  raw.add("hblkhd", m.hblkhd);
  raw.add("usmblks", m.usmblks);
  raw.add("fsmblks", m.fsmblks);
  raw.add("uordblks", m.uordblks);
  raw.add("fordblks", m.fordblks);
  raw.add("keepcost", m.keepcost);
  out.heap_bytes = m.arena + m.hblkhd;
  out.allocated_bytes = m.uordblks + m.hblkhd;
}

// jemalloc: heap_bytes is stats.resident, not stats.active + stats.metadata.
// jemalloc keeps freed pages dirty until decay (10 s by default) purges them;
// they are memory the allocator holds exactly as glibc's untrimmed arena, the
// free spans of tcmalloc's page heap and mimalloc's committed free pages are,
// and those count in the other families' figures. active + metadata leaves
// them out and would flatter jemalloc. resident = metadata pages + active
// pages + dirty pages. jemalloc calls it a maximum because it counts pages
// never touched; glibc's `arena` counts untouched top memory the same way.
// mapped leaves out dirty pages in inactive extents, so it is no better.
// Writing "epoch" refreshes jemalloc's cached statistics first. A build with
// statistics compiled out answers ENOENT: then nothing is recorded.
void read_jemalloc(const Reader& r, AllocatorCounters& out, Readings& raw) {
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  r.mallctl("epoch", &epoch, &len, &epoch, len);
  static constexpr const char* kNames[] = {"stats.allocated", "stats.active",   "stats.resident",
                                           "stats.mapped",    "stats.metadata", "stats.retained"};
  for (const char* name : kNames) {
    std::size_t v = 0;
    len = sizeof(v);
    if (r.mallctl(name, &v, &len, nullptr, 0) != 0) {
      raw.n = 0;
      return;
    }
    raw.add(name, v);
  }
  out.allocated_bytes = raw[0];
  out.heap_bytes = raw[2];
}

// mimalloc 2.0: current_commit is the committed memory of all its segments
// and OS allocations (an atomic in the main statistics, kept in release
// builds). On Linux current_rss is that same figure, not a measured RSS; the
// call also costs one getrusage. Release builds count no allocated bytes
// (mi_stats track them only with MI_STAT > 0), so allocated_bytes stays 0.
void read_mimalloc(const Reader& r, AllocatorCounters& out, Readings& raw) {
  std::size_t elapsed = 0, user = 0, sys = 0, rss = 0, peak_rss = 0, commit = 0, peak_commit = 0, faults = 0;
  r.mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
  raw.add("elapsed_msecs", elapsed);
  raw.add("user_msecs", user);
  raw.add("system_msecs", sys);
  raw.add("current_rss", rss);
  raw.add("peak_rss", peak_rss);
  raw.add("current_commit", commit);
  raw.add("peak_commit", peak_commit);
  raw.add("page_faults", faults);
  out.heap_bytes = commit;
}

// tcmalloc (gperftools): heap_size is every byte the page heap obtained from
// the OS, including pages it has since released with madvise (unmapped);
// those are back with the OS, so they are subtracted. Free page-heap spans
// and cached objects stay in. Metadata (spans, thread caches) lives outside
// the page heap and is not counted. current_allocated_bytes is heap_size less
// every free byte in the page heap and the central, transfer and thread
// caches. The generic.* properties each gather statistics over all size
// classes and thread caches, which is most of the cost.
void read_tcmalloc(const Reader& r, AllocatorCounters& out, Readings& raw) {
  static constexpr const char* kNames[] = {"generic.current_allocated_bytes", "generic.heap_size",
                                           "tcmalloc.pageheap_free_bytes", "tcmalloc.pageheap_unmapped_bytes"};
  for (const char* name : kNames) {
    std::size_t v = 0;
    if (r.tc_property(name, &v) != 0) raw.add(name, v);
  }
  if (raw.n != 4) {
    raw.n = 0;
    return;
  }
  out.allocated_bytes = raw[0];
  out.heap_bytes = raw[1] - raw[3];
  std::size_t cache = 0;
  if (r.tc_property("tcmalloc.current_total_thread_cache_bytes", &cache) != 0) out.thread_cache_bytes = cache;
}

}  // namespace

AllocatorCounters read_allocator_counters() {
  const Reader& r = reader();
  AllocatorCounters out;
  Readings raw;
  switch (r.family) {
    case Family::glibc: read_glibc(r, out, raw); break;
    case Family::jemalloc: read_jemalloc(r, out, raw); break;
    case Family::mimalloc: read_mimalloc(r, out, raw); break;
    case Family::tcmalloc: read_tcmalloc(r, out, raw); break;
    case Family::unknown: break;
  }
  static constexpr const char* kFamilyNames[] = {"unknown", "glibc", "jemalloc", "mimalloc", "tcmalloc"};
  out.family = kFamilyNames[static_cast<int>(r.family)];
  out.raw.reserve(raw.n);
  for (std::size_t i = 0; i < raw.n; ++i) out.raw.emplace_back(std::string(raw.names[i]), raw.values[i]);
  return out;
}

}  // namespace alloclab
