// apr-real: the real APR pools (Debian libapr1 1.7.2, linked through
// pkg-config apr-1) behind the backend contract, to check the apr model
// against and to measure the library itself.
//
// Mapping:
//   - One apr_allocator_t per backend instance, owned by a root pool created
//     with apr_pool_create_ex (under APR's global pool, as httpd's process
//     pools are); destroying the backend destroys the root and with it the
//     allocator and every pool still open.
//   - open_scope: apr_pool_create_ex under the parent scope's pool, or under
//     the root for a top-level scope. close_scope: apr_pool_destroy (children
//     first). clear_scope: apr_pool_clear (children destroyed, the pool stays
//     open).
//   - allocate(scope, ...): apr_palloc. APR returns 8-aligned blocks, so a
//     stronger required_alignment is met by asking for align - 8 more bytes
//     and rounding the pointer up. Size 0 asks for 1 byte (apr_palloc(0)
//     would hand out the same pointer twice).
//   - deallocate(scope, ...) is a no-op: APR pools have no individual free.
//   - Unscoped allocate: std::malloc, counted as fall-through.
//   - max_free=SIZE: apr_allocator_max_free_set (default 0 = unlimited,
//     APR_ALLOCATOR_MAX_FREE_UNLIMITED).
// Upstream: Debian builds libapr1 with --enable-allocator-uses-mmap, so every
// node is an anonymous mapping of its own (libapr-1.so imports mmap; the
// nodes never pass through malloc), and apr-real@jemalloc runs the same
// pools as apr-real: only the fall-through blocks change base allocator.
// Stats: in_use_bytes, failed_allocations and fallthrough_allocations are
// exact; spills are not observable (0). libapr exposes no count of the
// memory its allocator holds, so reserved_bytes covers only the fall-through
// blocks; the pool nodes are measured from outside (the process's data
// mappings in apr_real_test.cpp, RSS in the harness).
// Not thread-safe: the allocator has no mutex and the counters are plain.
#pragma once

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_pools.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

class alignas(64) AprRealBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

  // What this backend knows of one open pool. Lives in the root pool and is
  // recycled through a free list, so it costs no upstream memory per scope.
  struct PoolInfo {
    apr_pool_t* pool;
    PoolInfo* parent;
    PoolInfo* child;         // most recent child still open
    PoolInfo* sibling;       // next older sibling; also the free-list link
    PoolInfo* prev_sibling;  // nullptr: this is parent->child
    std::uint64_t used;      // requested bytes handed out since creation or last clear
  };
  using Scope = PoolInfo*;

  AprRealBackend() : AprRealBackend(BackendOptions{}) {}
  explicit AprRealBackend(const BackendOptions& opts) {
    std::uint64_t max_free = opts.size("max_free", 0);
    initialize_apr();
    if (apr_allocator_create(&allocator_) != APR_SUCCESS) throw std::runtime_error("apr_allocator_create failed");
    if (max_free != 0) apr_allocator_max_free_set(allocator_, static_cast<apr_size_t>(max_free));
    if (apr_pool_create_ex(&root_.pool, nullptr, nullptr, allocator_) != APR_SUCCESS) {
      apr_allocator_destroy(allocator_);
      throw std::runtime_error("apr_pool_create_ex failed");
    }
    apr_allocator_owner_set(allocator_, root_.pool);
  }
  AprRealBackend(const AprRealBackend&) = delete;
  AprRealBackend& operator=(const AprRealBackend&) = delete;
  ~AprRealBackend() {
    release_infos(&root_);
    apr_pool_destroy(root_.pool);  // owner of allocator_: destroys it too
  }

  // --- unscoped: the base allocator ---------------------------------------
  void* allocate(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    fallthrough_deallocate(stats_, p, size);
  }

  // --- pools -----------------------------------------------------------------
  Scope open_scope(ScopeKind, Scope parent) noexcept {
    PoolInfo* par = parent ? parent : &root_;
    PoolInfo* info = free_infos_;
    if (info) {
      free_infos_ = info->sibling;
    } else if ((info = static_cast<PoolInfo*>(apr_palloc(root_.pool, sizeof(PoolInfo)))) == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    if (apr_pool_create_ex(&info->pool, par->pool, nullptr, allocator_) != APR_SUCCESS) {
      info->sibling = free_infos_;
      free_infos_ = info;
      ++stats_.failed_allocations;
      return nullptr;
    }
    info->parent = par;
    info->child = nullptr;
    info->prev_sibling = nullptr;
    info->used = 0;
    info->sibling = par->child;
    if (info->sibling) info->sibling->prev_sibling = info;
    par->child = info;
    return info;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    std::size_t pad = a > kAprAlign ? a - kAprAlign : 0;
    std::size_t n = (size == 0 ? 1 : size) + pad;
    if (n < size || n > std::numeric_limits<apr_size_t>::max() - kAprAlign) [[unlikely]] {
      ++stats_.failed_allocations;
      return nullptr;
    }
    void* m = apr_palloc(s->pool, n);
    if (m == nullptr) [[unlikely]] {
      ++stats_.failed_allocations;
      return nullptr;
    }
    s->used += size;
    stats_.in_use_bytes += size;
    return reinterpret_cast<void*>(align_up(reinterpret_cast<std::uintptr_t>(m), a));
  }

  void deallocate(Scope, void*, std::size_t, std::size_t) noexcept {}

  void close_scope(Scope s) noexcept {
    apr_pool_t* pool = s->pool;
    release_infos(s);
    PoolInfo* par = s->parent;
    if (s->prev_sibling) s->prev_sibling->sibling = s->sibling;
    else par->child = s->sibling;
    if (s->sibling) s->sibling->prev_sibling = s->prev_sibling;
    stats_.in_use_bytes -= s->used;
    s->sibling = free_infos_;
    free_infos_ = s;
    apr_pool_destroy(pool);
  }

  void clear_scope(Scope s) noexcept {
    release_infos(s);
    stats_.in_use_bytes -= s->used;
    s->used = 0;
    apr_pool_clear(s->pool);
  }

  BackendStats stats() const { return stats_; }

 private:
  static constexpr std::size_t kAprAlign = 8;  // APR_ALIGN_DEFAULT

  static void initialize_apr() {
    static const bool ok = apr_initialize() == APR_SUCCESS;
    if (!ok) throw std::runtime_error("apr_initialize failed");
  }

  // Forgets every descendant of s (their pools die with s's pool in APR).
  void release_infos(PoolInfo* s) noexcept {
    while (PoolInfo* c = s->child) {
      release_infos(c);
      s->child = c->sibling;
      stats_.in_use_bytes -= c->used;
      c->sibling = free_infos_;
      free_infos_ = c;
    }
  }

  apr_allocator_t* allocator_ = nullptr;
  PoolInfo root_{};
  PoolInfo* free_infos_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<AprRealBackend>);
static_assert(HasStats<AprRealBackend>);

}  // namespace alloclab
