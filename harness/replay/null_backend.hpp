// The null backend: measures the harness's own cost. It hands out pieces of
// one preallocated, prefaulted buffer in turn (wrapping around, so blocks
// may overlap once the buffer is used up) and frees nothing. A replay with
// it runs every part of the loop except a real allocator; its time is the
// floor under every other backend's figures.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <new>

#include "allocators/contract.hpp"

namespace alloclab::replay {

class NullBackend {
 public:
  // One instance per replay thread; frees are no-ops, so a block freed on
  // another thread is harmless.
  static constexpr Capabilities capabilities{.frees_individually = false, .scoped = false, .thread_safe = false};
  static constexpr std::size_t kBytes = std::size_t{64} << 20;

  NullBackend() {
    void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<char*>(p);
  }
  ~NullBackend() { ::munmap(base_, kBytes); }
  NullBackend(const NullBackend&) = delete;
  NullBackend& operator=(const NullBackend&) = delete;

  void* allocate(std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    if (size > kBytes - a) return base_;
    std::size_t at = align_up(cursor_, a);
    if (at + size > kBytes) at = 0;
    cursor_ = at + size;
    return base_ + at;
  }
  void deallocate(void*, std::size_t, std::size_t) noexcept {}

 private:
  char* base_ = nullptr;
  std::size_t cursor_ = 0;
};

static_assert(Backend<NullBackend>);

}  // namespace alloclab::replay
