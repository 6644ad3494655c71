// The registry: every backend alloclab can run, one line each.
//
// The registry is a compile-time tuple, so code that runs a backend is
// instantiated for its exact type (no virtual call per operation): callers
// pass a generic lambda to with_registration()/for_each_registration() and
// type erasure happens once, at that call.
//
// To add a backend: write a class that satisfies Backend (contract.hpp),
// include its header below and add one line to kRegistry. It then appears in
// `alloclab list`, composes over every general allocator (NAME@jemalloc), and
// gets the conformance tests.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "allocators/contract.hpp"
#include "allocators/general/library.hpp"
#include "allocators/general/malloc_backend.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/apr.hpp"
#include "allocators/strategies/apr_real.hpp"
#include "allocators/strategies/bounded.hpp"
#include "allocators/strategies/bump.hpp"
#include "allocators/strategies/fixed_regions.hpp"
#include "allocators/strategies/h2o.hpp"
#include "allocators/strategies/haproxy.hpp"
#include "allocators/strategies/nginx.hpp"
#include "allocators/strategies/pool.hpp"
#include "allocators/strategies/recycle.hpp"
#include "allocators/strategies/scoped.hpp"
#include "allocators/strategies/slab.hpp"

namespace alloclab {

template <Backend B>
struct Registration {
  using type = B;
  std::string_view name;
  std::string_view description;
  // General allocators: the library that must answer malloc. Strategies:
  // nullopt (they run over whichever general allocator is their base).
  std::optional<Library> library;

  static constexpr Capabilities capabilities = B::capabilities;
  bool is_general() const noexcept { return library.has_value(); }

  // The factory. Constructs B from its options; throws std::invalid_argument
  // naming the backend for an option it does not understand.
  std::unique_ptr<B> make(const BackendOptions& options) const {
    std::unique_ptr<B> b;
    if constexpr (std::constructible_from<B, const BackendOptions&>) {
      b = std::make_unique<B>(options);
    } else {
      b = std::make_unique<B>();
    }
    if (auto unread = options.unread(); !unread.empty()) {
      std::string valid;
      if constexpr (std::constructible_from<B, const BackendOptions&>) {
        for (const auto& k : options.read_keys()) {
          if (std::find(unread.begin(), unread.end(), k) == unread.end()) valid += (valid.empty() ? "" : ", ") + k;
        }
      }
      throw std::invalid_argument("unknown option '" + unread.front() + "' for " + std::string(name) +
                                  " (valid: " + (valid.empty() ? "none" : valid) + ")");
    }
    return b;
  }
};

template <Backend B>
constexpr Registration<B> general(std::string_view name, Library lib, std::string_view description) {
  return {name, description, lib};
}
template <Backend B>
constexpr Registration<B> strategy(std::string_view name, std::string_view description) {
  return {name, description, std::nullopt};
}

// clang-format off
inline const std::tuple kRegistry{
    general<MallocBackend>("glibc", Library::glibc, "glibc ptmalloc2, the system malloc"),
    general<MallocBackend>("jemalloc", Library::jemalloc, "jemalloc (Debian libjemalloc2), preloaded"),
    general<MallocBackend>("mimalloc", Library::mimalloc, "mimalloc (Debian libmimalloc2.0), preloaded"),
    general<MallocBackend>("tcmalloc", Library::tcmalloc, "gperftools tcmalloc_minimal, preloaded"),
    strategy<BumpBackend>("bump", "request-lifetime arena: pointer bump, chained 8 KiB chunks, O(1) reset"),
    strategy<PoolBackend>("pool", "LIFO (order=fifo: FIFO) object pools per size class (16 B steps to 256 B, 4 per doubling to 16 KiB), preallocated, optional capacity"),
    strategy<SlabBackend>("slab", "kmalloc-class slabs aligned to their size, free by pointer masking, partial before empty, capped empties"),
    strategy<AprBackend>("apr", "APR pools model: page-multiple nodes (min 8 KiB), 20 free-list slots + sink, active->next miss rule"),
    strategy<AprRealBackend>("apr-real", "the real libapr1 pools (apr_pool_create_ex, apr_palloc, apr_pool_destroy)"),
    strategy<H2oBackend>("h2o", "h2o_mem_pool: 4 KiB chunks from a per-thread recycler, direct malloc at >= 1022 B, newest chunk only"),
    strategy<HaproxyBackend>("haproxy", "HAProxy pools: sizes rounded to 16, per-thread LIFO caches (512 KiB), cluster eviction, -m limit"),
    strategy<NginxBackend>("nginx", "ngx_palloc pools: 512 B connection / 4 KiB request blocks, first-fit bump, large list to malloc"),
    strategy<RequestScopeBackend>("scoped", "seeds/000 RequestScope: arena per request, 1 MiB limit, nested scopes charged to it"),
    strategy<FixedRegionsBackend>("fixed-regions", "seeds/003 Nea: one mmap of 64 x 512 KiB regions, one per request; overflow or all-busy rejected"),
    strategy<RecycleBackend>("recycle", "seeds/002 Deno HttpRecord pool: 4 KiB records reused, target 2x in flight, truncated beyond +8"),
    strategy<BoundedBackend>("bounded", "seeds/004 bounded pool: 1000 entries, LRU eviction of idle ones, rejection when all live"),
};
// clang-format on

// Calls f(registration) for every backend, in registry order.
template <class F>
void for_each_registration(F&& f) {
  std::apply([&](const auto&... reg) { (f(reg), ...); }, kRegistry);
}

// Calls f(registration) for the backend named `name`; false when none is.
template <class F>
bool with_registration(std::string_view name, F&& f) {
  return std::apply(
      [&](const auto&... reg) { return (... || (reg.name == name ? (f(reg), true) : false)); },
      kRegistry);
}

inline std::vector<std::string_view> registered_names(bool general) {
  std::vector<std::string_view> out;
  for_each_registration([&](const auto& reg) {
    if (reg.is_general() == general) out.push_back(reg.name);
  });
  return out;
}

}  // namespace alloclab
