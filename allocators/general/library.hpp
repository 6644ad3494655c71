// The general-purpose allocators alloclab knows by name, and how to tell
// which one answers malloc in the current process.
//
// Debian's libjemalloc, libmimalloc and libtcmalloc_minimal each export
// malloc for the whole process, so a process holds exactly one general
// allocator; workers get theirs by LD_PRELOAD. Before a worker measures
// anything it calls identify_process_malloc() and refuses to run unless the
// library it was asked for is the one answering malloc. The check asks the
// library itself (its version API, then whether a block fresh from malloc is
// one of its own), not just which symbol the dynamic linker found.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

namespace alloclab {

enum class Library { glibc, jemalloc, mimalloc, tcmalloc };

inline constexpr Library kLibraries[] = {Library::glibc, Library::jemalloc, Library::mimalloc,
                                         Library::tcmalloc};

std::string_view library_name(Library lib);
std::optional<Library> library_from_name(std::string_view name);

// The shared object to preload for lib; empty for glibc, which is the
// process's own malloc. In a bundle (scripts/bundle.sh: ROOT/MANIFEST,
// ROOT/bin/ holding the running binary, ROOT/lib/) it is ROOT/lib/ plus the
// built library's file name when that file exists, so a bundle runs on a
// machine without the system's copy; otherwise the path found at build time.
std::string_view library_preload_path(Library lib);

struct MallocIdentity {
  // "glibc", "jemalloc", "mimalloc", "tcmalloc", or "unknown".
  std::string family;
  // As the library reports it: gnu_get_libc_version(), mallctl "version",
  // mi_version(), tc_version().
  std::string version;
  // Real path of the shared object whose malloc the process calls.
  std::string malloc_object;
  // The library's own API confirmed that a fresh malloc block is its own.
  bool owns_fresh_block = false;
  // How ownership was checked, for the record.
  std::string evidence;
};

// Identifies the allocator answering malloc in this process. Allocates and
// frees one block.
MallocIdentity identify_process_malloc();

// Why identity does not match what was asked for, or nullopt when it does.
// expected_path, when not empty, is a preload path the malloc object must be.
std::optional<std::string> identity_mismatch(const MallocIdentity& identity,
                                             std::optional<Library> expected,
                                             std::string_view expected_path);

// A defect of a library version that the conformance suite found and that
// upstream has acknowledged. The conformance test asserts that the defect is
// still there (so the entry goes when the library is fixed) instead of
// failing on it, and `alloclab list` shows it.
struct KnownDefect {
  std::string_view family;
  std::string_view version;
  std::string_view summary;
  std::string_view source;
  // Whether posix_memalign(align, size) may return a misaligned block.
  bool (*misaligns)(std::size_t size, std::size_t align);
};

// The known defects of the allocator identified as `identity`.
std::vector<const KnownDefect*> known_defects(const MallocIdentity& identity);

// Asks the process's allocator to return free memory to the OS through its
// own API (malloc_trim, jemalloc arena purge, tcmalloc ReleaseFreeMemory,
// mi_collect). Returns the call used, or "none" for an unknown allocator.
std::string_view release_free_memory();

}  // namespace alloclab
