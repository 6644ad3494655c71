// The null backend: measures the harness's own cost. It hands out pieces of
// one preallocated, prefaulted buffer in turn (wrapping around, so blocks
// overlap once the buffer is used up; nothing reads them) and frees nothing. A replay with
// it runs every part of the loop except a real allocator; its time is the
// floor under every other backend's figures.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "allocators/contract.hpp"

namespace alloclab::replay {

class alignas(64) NullBackend {
 public:
  // One instance per replay thread; frees are no-ops, so a block freed on
  // another thread is harmless.
  static constexpr Capabilities capabilities{.frees_individually = false, .scoped = false, .thread_safe = false};
  // Blocks up to kRingMax come from a small ring, so the memory the replay
  // touches stays in cache: the best locality any allocator could give, so
  // that touching costs no more here than under a real allocator.
  static constexpr std::size_t kRingBytes = std::size_t{512} << 10;
  static constexpr std::size_t kRingMax = kRingBytes / 4;

  NullBackend() : ring_(map(kRingBytes)) {}
  ~NullBackend() {
    ::munmap(ring_, kRingBytes);
    for (std::size_t i = 0; i < nbig_; ++i) ::munmap(big_[i], big_bytes_[i]);
  }
  NullBackend(const NullBackend&) = delete;
  NullBackend& operator=(const NullBackend&) = delete;

  void* allocate(std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    if (size + a > kRingMax) return allocate_big(size + a, a);
    std::size_t at = align_up(cursor_, a);
    if (at + size > kRingBytes) at = 0;
    cursor_ = at + size;
    return ring_ + at;
  }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}

 private:
  static char* map(std::size_t n) {
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<char*>(p);
  }
  // Large blocks share the newest region, at least doubled whenever a block
  // outgrows it. Older regions stay mapped until the end: a realloc still
  // copies out of a block handed out from them.
  void* allocate_big(std::size_t n, std::size_t a) noexcept {
    if (nbig_ == 0 || n > big_bytes_[nbig_ - 1]) {
      if (nbig_ == kMaxRegions) return nullptr;
      std::size_t bytes = std::max(n, nbig_ ? 2 * big_bytes_[nbig_ - 1] : kRingBytes);
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      big_[nbig_] = static_cast<char*>(p);
      big_bytes_[nbig_++] = bytes;
    }
    char* base = big_[nbig_ - 1];
    return base + (align_up(reinterpret_cast<std::uintptr_t>(base), a) - reinterpret_cast<std::uintptr_t>(base));
  }

  static constexpr std::size_t kMaxRegions = 48;  // doubling from 512 KiB covers any size
  char* ring_;
  std::size_t cursor_ = 0;
  char* big_[kMaxRegions] = {};
  std::size_t big_bytes_[kMaxRegions] = {};
  std::size_t nbig_ = 0;
};

static_assert(Backend<NullBackend>);

}  // namespace alloclab::replay
