// The null backend: measures the harness's own cost. It hands out pieces of
// one preallocated, prefaulted buffer in turn (wrapping around, so blocks
// overlap once the buffer is used up; nothing reads them) and frees nothing. A replay with
// it runs every part of the loop except a real allocator; its time is the
// floor under every other backend's figures.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "allocators/contract.hpp"

namespace alloclab::replay {

class NullBackend {
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
    if (big_) ::munmap(big_, big_bytes_);
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
  // Large blocks share one region, grown to the largest size asked for.
  void* allocate_big(std::size_t n, std::size_t a) noexcept {
    if (n > big_bytes_) {
      void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      if (big_) ::munmap(big_, big_bytes_);
      big_ = static_cast<char*>(p);
      big_bytes_ = n;
    }
    return big_ + (align_up(reinterpret_cast<std::uintptr_t>(big_), a) - reinterpret_cast<std::uintptr_t>(big_));
  }

  char* ring_;
  std::size_t cursor_ = 0;
  char* big_ = nullptr;
  std::size_t big_bytes_ = 0;
};

static_assert(Backend<NullBackend>);

}  // namespace alloclab::replay
