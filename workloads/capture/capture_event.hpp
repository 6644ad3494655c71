// The raw events the capture library (capture_preload.cpp) writes and the
// converter (capture_convert.hpp) reads. Shared by both, so plain data only:
// the preloaded library must not pull in anything that allocates.
//
// Layout of a capture directory (ALLOCLAB_CAPTURE_DIR):
//   PID-IMAGE-TID.ev   one file per thread of each process image: the thread's
//                      events, appended in the order the thread made them.
//   PID-IMAGE.end      the image's End record. Created empty when the image
//                      records its first event and filled in at its final
//                      flush (exit, _exit, execve, a fatal signal), so an
//                      image that never got there (SIGKILL, a handler of the
//                      program's own that left without exit) is known by its
//                      short file, and one that did says how many events it
//                      made: more than its .ev files hold means some were lost.
// IMAGE is a number the library draws when it is loaded, so a program that
// exec()s another in the same pid gives two images that are never mixed.
// A forked child runs with its own pid and the parent's image number.
#pragma once

#include <cstdint>

namespace alloclab::capture {

// The environment variable naming the directory; unset: record nothing.
inline constexpr const char* kDirEnv = "ALLOCLAB_CAPTURE_DIR";
inline constexpr const char* kFileSuffix = ".ev";
inline constexpr const char* kEndSuffix = ".end";

enum class Call : std::uint8_t {
  malloc = 1,
  calloc = 2,
  realloc = 3,      // ptr: the result; size: the new size; follows its realloc_old
  realloc_old = 4,  // ptr: the block passed to realloc (or reallocarray); taken before the call
  free = 5,
  posix_memalign = 6,
  aligned_alloc = 7,
  memalign = 8,
  valloc = 9,
  pvalloc = 10,
  reallocarray = 11,  // like realloc
};
inline constexpr int kCallKinds = 12;  // one past the largest Call

// One call, 32 bytes. `seq` comes from one process-wide counter: taken after
// the real call for allocations and before it for frees (and for the old
// block of a realloc), so a block's free always sorts after its allocation
// and before any allocation that reuses its address, on any thread.
struct Event {
  std::uint64_t seq;
  std::uint64_t ptr;   // the block returned or freed (0: the call failed)
  std::uint64_t size;  // bytes asked for (calloc: n * m, saturated)
  Call call;
  std::uint8_t align_log2;  // aligned calls: log2 of the alignment asked for
  std::uint16_t reserved0;
  std::uint32_t reserved1;
};
static_assert(sizeof(Event) == 32);

// How an image ended, as its final flush saw it.
enum class Ending : std::uint32_t {
  exit = 1,     // exit() or a return from main: the library's destructor ran
  exit_now = 2, // _exit() or _Exit(); code: the status
  exec = 3,     // execve() replaced it (the new image is a new IMAGE)
  signal = 4,   // a fatal signal reached the library's handler; code: the signal
};

inline constexpr std::uint64_t kEndMagic = 0x31646e4563616c61;  // "alacEnd1" in the file

// The whole content of PID-IMAGE.end, written with one write(2) after the
// image's buffers went out (and again at a later final flush, if an execve
// failed). `made` minus the events in the image's .ev files is what was lost:
// a buffer whose owner was interrupted inside its own flush, a failed write.
struct End {
  std::uint64_t magic;  // kEndMagic
  std::uint64_t made;   // events the image recorded, flushed or not
  Ending how;
  std::int32_t code;
  std::uint64_t reserved;
};
static_assert(sizeof(End) == 32);

}  // namespace alloclab::capture
