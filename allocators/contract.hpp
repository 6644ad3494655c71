// The backend contract: what every allocator in alloclab is, stated as C++20
// concepts. The comments here are the specification; the conformance tests
// (allocators/tests/conformance_test.cpp) check every registered backend
// against them.
//
// A backend is a small class. The replay loop is a template instantiated per
// backend type, so nothing here is virtual: a call to allocate() compiles to
// a direct (usually inlined) call.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace alloclab {

// Compile-time capability flags. Every backend declares
//   static constexpr Capabilities capabilities{...};
struct Capabilities {
  // deallocate() returns a block for reuse before its scope (if any) closes.
  // False for region allocators (bump): memory comes back only when the
  // scope closes.
  bool frees_individually = false;
  // The backend manages scopes (request inside connection, nested) and
  // allocates within them; see ScopedBackend.
  bool scoped = false;
  // One instance may be used from several threads at once, including a
  // deallocate() on a thread other than the one that allocated. Backends
  // without this flag get one instance per replay thread, and are declared
  // alignas(64) (checked where the replay makes them): instances made one
  // after another lie side by side in the heap, and two threads writing
  // one cache line slow each other down in a way no server would.
  bool thread_safe = false;
};

// Counters a backend may keep. All fields are totals since construction
// except reserved_bytes and in_use_bytes, which are current values.
struct BackendStats {
  // Bytes currently held from upstream (the process malloc or mmap),
  // including the backend's own headers and unused chunk tails.
  std::uint64_t reserved_bytes = 0;
  // Bytes currently handed out to the caller (requested sizes).
  std::uint64_t in_use_bytes = 0;
  // Calls that returned nullptr: a size or alignment the backend cannot
  // serve, or upstream memory exhausted.
  std::uint64_t failed_allocations = 0;
  // Allocations the strategy did not serve itself but passed to the base
  // allocator (an allocation outside any scope, a size above its classes).
  std::uint64_t fallthrough_allocations = 0;
  // Scopes or allocations refused by a configured limit (a request over its
  // memory cap, all regions busy, a pool at capacity).
  std::uint64_t rejections = 0;
  // Chunks or blocks a scope took beyond its first because it outgrew it
  // (bump chunk chaining, nginx pool block growth).
  std::uint64_t spills = 0;
  // Bytes abandoned at the end of a chunk when allocation moved on to the
  // next one (a region allocator's internal waste).
  std::uint64_t wasted_bytes = 0;
  // Calls made to the base allocator for memory (records, chunks,
  // fall-throughs), for backends that count them; kNotCounted otherwise.
  static constexpr std::uint64_t kNotCounted = ~std::uint64_t{0};
  std::uint64_t upstream_allocations = kNotCounted;
  // For backends that tell refusals apart (both also count in rejections):
  // requests cancelled because they outgrew their own limit, and request
  // scopes turned away when opened, for back-pressure (every region busy).
  std::uint64_t cancelled_requests = kNotCounted;
  std::uint64_t turned_away_requests = kNotCounted;
  // A pool of scope objects (recycle's records): how many it had to
  // allocate because none was free.
  std::uint64_t pool_misses = kNotCounted;
  // Arena backends (bump), over closed scopes: bytes requested, bytes of
  // padding that alignment added between them, and bytes freed inside a
  // scope, which an arena cannot reuse before the scope closes.
  std::uint64_t scoped_bytes = kNotCounted;
  std::uint64_t padding_bytes = kNotCounted;
  std::uint64_t freed_in_scope_bytes = kNotCounted;
};

// Kinds of scope a scoped backend can open. Servers size their pools by kind
// (nginx: connection_pool_size 512, request_pool_size 4096).
enum class ScopeKind : std::uint8_t { connection, request, child };

// The base contract, kept by every backend.
//
// allocate(size, align):
//   - align is a power of two >= 1. The result is aligned to at least
//     required_alignment(size, align): align, raised to the fundamental
//     alignment (max_align_t) or to the size rounded up to a power of two,
//     whichever is smaller, as malloc does for objects that could need it.
//   - size 0 is valid and returns a unique, freeable pointer or nullptr.
//   - Returns nullptr when the backend cannot serve the request (size or
//     alignment beyond what it supports, a limit reached, upstream memory
//     exhausted). That is counted in BackendStats::failed_allocations and is
//     never undefined behaviour.
//   - For a scoped backend, allocate() without a scope means "belongs to no
//     scope the strategy manages" and goes to the base allocator (counted as
//     fall-through), as a long-lived object does in nginx.
// deallocate(p, size, align):
//   - p came from allocate() with the same size and align, or is nullptr
//     (a no-op).
template <class B>
concept Backend =
    std::same_as<std::remove_cvref_t<decltype(B::capabilities)>, Capabilities> &&
    requires(B& b, std::size_t size, std::size_t align, void* p) {
      { b.allocate(size, align) } noexcept -> std::same_as<void*>;
      { b.deallocate(p, size, align) } noexcept -> std::same_as<void>;
    };

// Region/scoped backends additionally open and close scopes.
//
// B::Scope is a trivially copyable handle; a value-initialised Scope{} means
// "no scope".
// open_scope(kind, parent): opens a scope nested in parent (Scope{} for a
//   top-level scope). Returns Scope{} when a limit refuses it (counted in
//   rejections), e.g. fixed-regions with every region busy.
// allocate(scope, size, align): as allocate() above, within the scope; the
//   block lives at most until the scope closes.
// deallocate(scope, p, size, align): frees one block early where the
//   strategy supports it (nginx pfree of a large block); a no-op otherwise.
// close_scope(scope): releases every block allocated in the scope and in
//   its children still open. After it returns, the scope handle is invalid.
template <class B>
concept ScopedBackend =
    Backend<B> && B::capabilities.scoped && std::is_trivially_copyable_v<typename B::Scope> &&
    requires(B& b, typename B::Scope s, ScopeKind kind, std::size_t size, std::size_t align,
             void* p) {
      { b.open_scope(kind, s) } -> std::same_as<typename B::Scope>;
      { b.allocate(s, size, align) } noexcept -> std::same_as<void*>;
      { b.deallocate(s, p, size, align) } noexcept -> std::same_as<void>;
      { b.close_scope(s) } noexcept -> std::same_as<void>;
    };

// Optional: the backend reports its statistics.
template <class B>
concept HasStats = requires(const B& b) {
  { b.stats() } -> std::same_as<BackendStats>;
};

// Optional: the backend can hand unused memory back to the OS (malloc_trim,
// arena purge, dropping retained empty slabs).
template <class B>
concept ReleasesToOs = requires(B& b) {
  { b.release_to_os() } -> std::same_as<void>;
};

// Alignment every backend must honour without being asked.
inline constexpr std::size_t kMinAlign = alignof(std::max_align_t);

constexpr bool is_power_of_two(std::size_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

// The alignment a block of `size` bytes asked for with `align` must have.
constexpr std::size_t required_alignment(std::size_t size, std::size_t align) noexcept {
  std::size_t natural = size >= kMinAlign ? kMinAlign : std::bit_ceil(size == 0 ? 1 : size);
  return align > natural ? align : natural;
}

constexpr std::size_t align_up(std::size_t x, std::size_t align) noexcept {
  return (x + align - 1) & ~(align - 1);
}

}  // namespace alloclab
