// The smoke run: a short fixed workload that proves a backend serves
// allocations correctly inside a worker, and gives a first batch-timed
// figure. Free+malloc pairs over a ring of live blocks (16-512 B) for
// general allocators; connection and request scopes for scoped backends.
// Every block gets a byte pattern that is checked before it is released.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "allocators/contract.hpp"

namespace alloclab {

struct SmokeResult {
  std::uint64_t operations = 0;  // allocate + deallocate/scope-close calls timed
  std::uint64_t allocations = 0;
  std::uint64_t failed = 0;      // nullptr returns
  std::uint64_t corrupted = 0;   // blocks whose pattern did not survive
  std::uint64_t misaligned = 0;
  double seconds = 0;
  bool ok() const noexcept { return failed == 0 && corrupted == 0 && misaligned == 0; }
};

namespace smoke_detail {

inline std::uint64_t next(std::uint64_t& s) noexcept {  // xorshift64
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

inline std::uint8_t tag(const void* p) noexcept {
  return static_cast<std::uint8_t>(reinterpret_cast<std::uintptr_t>(p) >> 4) | 1u;
}

inline void fill(void* p, std::size_t n) noexcept {
  auto* b = static_cast<std::uint8_t*>(p);
  b[0] = tag(p);
  b[n - 1] = tag(p);
  if (n >= 16) std::memset(b + 1, tag(p), 8);
}

inline bool intact(const void* p, std::size_t n) noexcept {
  auto* b = static_cast<const std::uint8_t*>(p);
  return b[0] == tag(p) && b[n - 1] == tag(p) && (n < 16 || b[8] == tag(p));
}

struct Slot {
  void* p = nullptr;
  std::size_t size = 0;
};

}  // namespace smoke_detail

template <Backend B>
SmokeResult smoke(B& backend, std::uint64_t rounds) {
  using namespace smoke_detail;
  SmokeResult r;
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  auto check_new = [&](void* p, std::size_t size) {
    if (p == nullptr) {
      ++r.failed;
      return false;
    }
    if (reinterpret_cast<std::uintptr_t>(p) % required_alignment(size, 1) != 0) ++r.misaligned;
    fill(p, size);
    return true;
  };
  auto start = std::chrono::steady_clock::now();
  if constexpr (ScopedBackend<B>) {
    constexpr int kRequestsPerConnection = 10, kObjectsPerRequest = 20;
    std::vector<Slot> live(kObjectsPerRequest);
    std::uint64_t connections = rounds / (kRequestsPerConnection * kObjectsPerRequest) + 1;
    for (std::uint64_t c = 0; c < connections; ++c) {
      auto conn = backend.open_scope(ScopeKind::connection, typename B::Scope{});
      if (conn == typename B::Scope{}) {
        ++r.failed;
        continue;
      }
      void* conn_obj = backend.allocate(conn, 512, 8);
      if (!check_new(conn_obj, 512)) continue;
      for (int q = 0; q < kRequestsPerConnection; ++q) {
        auto req = backend.open_scope(ScopeKind::request, conn);
        if (req == typename B::Scope{}) {
          ++r.failed;
          continue;
        }
        for (auto& s : live) {
          s.size = 16 + next(rng) % 497;
          s.p = backend.allocate(req, s.size, 8);
          ++r.allocations;
          if (!check_new(s.p, s.size)) s.p = nullptr;
        }
        for (auto& s : live) {
          if (s.p != nullptr && !intact(s.p, s.size)) ++r.corrupted;
        }
        backend.close_scope(req);
        r.operations += kObjectsPerRequest + 1;
      }
      if (!intact(conn_obj, 512)) ++r.corrupted;
      backend.close_scope(conn);
      r.operations += 2;
    }
  } else {
    std::vector<Slot> ring(1024);
    for (std::uint64_t i = 0; i < rounds; ++i) {
      auto& s = ring[next(rng) & 1023];
      if (s.p != nullptr) {
        if (!intact(s.p, s.size)) ++r.corrupted;
        backend.deallocate(s.p, s.size, 8);
        ++r.operations;
      }
      s.size = 16 + next(rng) % 497;
      s.p = backend.allocate(s.size, 8);
      ++r.operations;
      ++r.allocations;
      if (!check_new(s.p, s.size)) s.p = nullptr;
    }
    for (auto& s : ring) {
      if (s.p == nullptr) continue;
      if (!intact(s.p, s.size)) ++r.corrupted;
      backend.deallocate(s.p, s.size, 8);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace alloclab
